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


# A package added to a copy of tests/workspace for remote builds: the same
# interpreter, pip-shaped repository and first-party libraries as //app, plus a
# custom group, but no declared (unresolved) symlink. Bazel 4.2.3 cannot send an
# action with a declared-symlink input to a remote cache or executor at all
# ("Encountered symlink input ... This is a bug", DirectoryTreeBuilder).
CACHED_TARGET = "//cached:layers"
CACHED_GROUPS = ["interpreter", "packages", "libs", "app"]
CACHED_BUILD = """\
load("@pycross_image//bazel/rules:layers.bzl", "py_image_layers")
load("@rules_python//python:py_binary.bzl", "py_binary")

py_binary(
    name = "app",
    srcs = ["main.py"],
    main = "main.py",
    python_version = "PY3",
    deps = [
        "//lib:greeting",
        "//python_utils:helpers",
        "@pip_deps_six//:six",
    ],
)

py_image_layers(
    name = "layers",
    binary = ":app",
    layer_groups = {"libs": "layers_test/lib/"},
)
"""
CACHED_MAIN = """\
import six

from lib.greeting import greet
from python_utils.helpers import shout

print(greet("cache"), shout("six ") + six.__version__)
"""


def prepare_cached(dest: Path) -> Path:
    """``prepare`` plus the ``//cached`` package (CACHED_TARGET)."""
    ws = prepare(dest)
    (ws / "cached").mkdir()
    (ws / "cached" / "BUILD.bazel").write_text(CACHED_BUILD)
    (ws / "cached" / "main.py").write_text(CACHED_MAIN)
    return ws


def cached_layer_paths(bazel: Bazel) -> list[Path]:
    return [bazel.bin() / "cached" / f"layers.{g}_layer.tar.gz" for g in CACHED_GROUPS]


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
