"""Running Bazel on the image test workspace and the examples, offline.

Computes the --override_repository flags that point rules_oci and
io_bazel_rules_docker at the test doubles, pycross_image at this checkout,
and the pip / interpreter repositories at the fixtures of build.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import build

REPO = build.REPO
DOUBLES = REPO / "tests" / "doubles"


def bazel_binary() -> str:
    return shutil.which("bazel") or "bazel"


def startup_flags(output_base: Path) -> list[str]:
    flags = [f"--output_base={output_base}", "--nohome_rc"]
    offline = REPO / ".bazelrc.offline"
    flags.append(f"--bazelrc={offline}" if offline.is_file() else "--bazelrc=/dev/null")
    return flags


def override_flags(fixtures: dict) -> list[str]:
    repos = {
        "pycross_image": str(REPO),
        "rules_oci": str(DOUBLES / "rules_oci"),
        "io_bazel_rules_docker": str(DOUBLES / "io_bazel_rules_docker"),
        **fixtures["repos"],
    }
    flags = [f"--override_repository={name}={path}" for name, path in sorted(repos.items())]
    flags.append(f"--repo_env=PYCROSS_TEST_IMAGES={fixtures['images']}")
    return flags


class Bazel:
    """One workspace + one output base, reused by every call (a session fixture)."""

    def __init__(self, workspace: Path, output_base: Path, fixtures: dict):
        self.workspace = Path(workspace)
        self.output_base = Path(output_base)
        self.fixtures = fixtures

    def run(self, command: str, *args: str, check: bool = True, timeout: int = 1800):
        argv = [bazel_binary(), *startup_flags(self.output_base), command]
        if command in ("build", "run", "test", "query", "cquery", "aquery", "fetch"):
            argv += override_flags(self.fixtures)
            if command != "query":
                argv += ["--jobs=2", "--color=no", "--curses=no", "--noshow_progress"]
        argv += list(args)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(argv, cwd=self.workspace, capture_output=True, text=True,
                              timeout=timeout, env=env)
        if check and proc.returncode:
            raise AssertionError(f"bazel {command} {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stderr[-6000:]}")
        return proc

    def bin_dir(self) -> Path:
        out = self.run("info", "bazel-bin").stdout.strip()
        return Path(out)

    def shutdown(self) -> None:
        subprocess.run([bazel_binary(), *startup_flags(self.output_base), "shutdown"],
                       cwd=self.workspace, capture_output=True)
