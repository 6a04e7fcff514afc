"""The issue-2 test workspace (tests/workspace), prepared and built once per session."""

from __future__ import annotations

from pathlib import Path

from .bazel import REPO, Bazel, copy_workspace, install_pip_repo, require_setup

WORKSPACE = REPO / "tests" / "workspace"
FLAGS = ["--experimental_allow_unresolved_symlinks"]
LAYER_TARGETS = ["//app:layers", "//app:layers_plain"]


def prepare(dest: Path) -> Path:
    """A copy of tests/workspace with its pip-shaped repository installed."""
    require_setup()
    ws = copy_workspace(WORKSPACE, dest)
    install_pip_repo(ws / "third_party" / "pip_deps_six", "six==1.17.0")
    return ws


def build(ws: Path, output_base: Path, *targets: str) -> Bazel:
    bazel = Bazel(ws, output_base, list(FLAGS))
    bazel.build(*(targets or LAYER_TARGETS))
    return bazel


def main() -> int:
    """Builds tests/workspace in a temporary copy and prints its layers.

    Run from the repository root: ``.venv/bin/python -m tests.support.layers_ws``.
    """
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pycross-layers-") as tmp:
        ws = prepare(Path(tmp) / "ws")
        bazel = build(ws, Path(tmp) / "output_base", "//app:layers")
        try:
            layers = [str(bazel.bin() / "app" / f"layers.{g}_layer.tar.gz")
                      for g in ("interpreter", "packages", "assets", "app")]
            return subprocess.call([sys.executable, "-m", "pycross_layers", "show", *layers],
                                   env={"PYTHONPATH": str(REPO / "bazel" / "rules")})
        finally:
            bazel.shutdown()



if __name__ == "__main__":  # python -m tests.support.layers_ws
    import sys

    sys.exit(main())
