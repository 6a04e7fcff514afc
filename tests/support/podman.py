"""A real container client for tests: Debian's podman (4.3) with runc.

Everything podman keeps lives under one temporary directory: image storage
(`--root`, the vfs driver: plain directories, no overlay mount), run state
(`--runroot`, `--tmpdir`), events (a file) and volumes. Leaving the `with`
block removes every container, resets that storage and deletes the
directory; a mount still open below it fails loudly instead of being left.

    with podman_storage() as podman:
        podman.run("load", "--input", str(tarball))
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Resource limits for `podman run` (the defaults ask for more than a
# container here may have).
RUN_FLAGS = ["--network", "host", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


@dataclass
class Podman:
    """podman with all of its state under `root`."""

    root: Path

    def argv(self) -> list[str]:
        return ["podman", "--root", str(self.root / "storage"), "--runroot", str(self.root / "run"),
                "--tmpdir", str(self.root / "tmp"), "--volumepath", str(self.root / "volumes"),
                "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--runtime", "runc"]

    def run(self, *args: str, check: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.argv(), *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode:
            raise AssertionError(f"podman {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        return proc

    def inspect_image(self, ref: str) -> dict:
        return json.loads(self.run("image", "inspect", ref).stdout)[0]

    def mounts(self) -> list[str]:
        """Mount points below root (none once containers are gone)."""
        with open("/proc/self/mounts") as f:
            points = [line.split()[1] for line in f]
        return [p for p in points if p == str(self.root) or p.startswith(str(self.root) + "/")]


def _clean(podman: Podman) -> list[str]:
    """Removes containers and storage; returns what could not be cleaned."""
    problems = []
    for args in (("rm", "--all", "--force", "--time", "0"), ("system", "reset", "--force")):
        proc = podman.run(*args, check=False, timeout=120)
        if proc.returncode:
            problems.append(f"podman {' '.join(args)}: {proc.stderr.strip()[-500:]}")
    left = podman.mounts()
    if left:
        problems.append(f"mounts left below {podman.root}: {left}")
    return problems


@contextmanager
def podman_storage() -> Iterator[Podman]:
    """A podman whose containers, images and state all go away after the block."""
    missing = [tool for tool in ("podman", "runc") if not shutil.which(tool)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed: run `bash .ci/setup` first")
    with tempfile.TemporaryDirectory(prefix="pycross-podman-") as tmp:
        podman = Podman(Path(tmp))
        try:
            yield podman
        finally:
            problems = _clean(podman)
            if problems:
                raise RuntimeError("podman clean-up: " + "; ".join(problems))
