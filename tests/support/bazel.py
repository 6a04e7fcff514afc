"""Runs the real Bazel (Debian's 4.2.3 here) on a copy of a test workspace, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OFFLINE_RC = REPO / ".bazelrc.offline"
# rules_python cannot be downloaded here: every workspace gets its test double
# (tests/doubles/rules_python), which our BUILD and .bzl files load from.
RULES_PYTHON_DOUBLE = REPO / "tests" / "doubles" / "rules_python"


def require_setup() -> None:
    """Fails (never skips) with the fix when the machine was not set up."""
    missing = [what for what, ok in (
        ("bazel", shutil.which("bazel")),
        (str(OFFLINE_RC), OFFLINE_RC.exists()),
    ) if not ok]
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)}: run `bash .ci/setup` first")


def install_pip_repo(dest: Path, requirement: str) -> None:
    """Installs a real PyPI package into ``dest/site-packages`` (a pip-shaped repository)."""
    site = dest / "site-packages"
    if site.is_dir() and any(site.iterdir()):
        return
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-compile", "--target", str(site), requirement],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    for cache in site.rglob("__pycache__"):
        shutil.rmtree(cache)


def copy_workspace(src: Path, dest: Path) -> Path:
    """Copies a test workspace (without bazel-* links) to ``dest``."""
    shutil.copytree(src, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("bazel-*"))
    return dest


# Commands that take build options (and so --override_repository).
_BUILD_LIKE = ("build", "run", "test", "query", "cquery", "aquery", "fetch", "info")


@dataclass
class Bazel:
    """One workspace + one output base. Every call is offline and deterministic.

    ``overrides`` maps repository names to local paths (``pycross_image`` always
    points at this checkout); ``extra_flags`` go to every build-like command.
    """

    workspace: Path
    output_base: Path
    extra_flags: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)

    def _startup(self) -> list[str]:
        require_setup()
        return ["bazel", f"--output_base={self.output_base}", "--nohome_rc",
                f"--bazelrc={OFFLINE_RC}", "--max_idle_secs=300"]

    def run(self, command: str, *args: str, check: bool = True,
            timeout: int = 1800) -> subprocess.CompletedProcess:
        cmd = [*self._startup(), command]
        if command in _BUILD_LIKE:
            repos = {"pycross_image": str(REPO), "rules_python": str(RULES_PYTHON_DOUBLE),
                     **self.overrides}
            cmd += [f"--override_repository={n}={p}" for n, p in sorted(repos.items())]
            cmd += self.extra_flags
        cmd += args
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("BAZEL") and k != "PYTHONPATH"}
        proc = subprocess.run(cmd, cwd=self.workspace, env=env, text=True,
                              capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"bazel {command} {' '.join(args)} failed ({proc.returncode}):\n"
                f"{proc.stderr[-6000:]}"
            )
        return proc

    def build(self, *targets: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("build", *targets, check=check)

    def bin(self) -> Path:
        return self.workspace / "bazel-bin"

    def outputs(self, label: str, *flags: str, group: str = "") -> list[Path]:
        """The default outputs (or output ``group``) of ``label``, in whatever
        configuration they are built: a transitioned target's are not in bazel-bin."""
        files = f"getattr(target.output_groups, '{group}')" if group else "target.files"
        expr = f"'\\n'.join([f.path for f in {files}.to_list()])"
        # The universe is the label alone: its configuration as a top-level target
        # (without it cquery also lists copies configured below other targets).
        proc = self.run("cquery", label, *flags, f"--universe_scope={label}",
                        "--output=starlark", f"--starlark:expr={expr}")
        execroot = Path(self.run("info", *flags, "execution_root").stdout.strip())
        return [execroot / line for line in proc.stdout.splitlines() if line.strip()]

    def output(self, label: str, *flags: str, group: str = "") -> Path:
        """The one default output (or one file of output ``group``) of ``label``."""
        outs = self.outputs(label, *flags, group=group)
        assert len(outs) == 1, f"{label} ({group or 'default outputs'}): {outs}"
        return outs[0]

    def shutdown(self) -> None:
        subprocess.run([*self._startup(), "shutdown"], cwd=self.workspace,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
