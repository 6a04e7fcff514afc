"""Fixtures for the migrate tests: throw-away workspaces, the CLI, and real buildifier."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from migrate.cli import main

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str


class Workspace:
    """A temporary Bazel workspace to migrate."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        (root / "WORKSPACE").write_text('workspace(name = "test")\n')

    def write(self, rel: str, text: str, dedent: bool = True) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if dedent else text)
        return path

    def write_bytes(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text()

    def read_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    def _run(*args: str, cwd: Path | None = None) -> Run:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = main([*args, "--jobs", "1"] if "--jobs" not in args else list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return _run


def _tool(name: str) -> str | None:
    local = REPO / ".venv" / "bin" / name
    if local.exists():
        return str(local)
    return shutil.which(name)


@pytest.fixture(scope="session")
def buildifier() -> Callable[[Path], tuple[bool, str]]:
    """Check a file with the real buildifier: (clean, message)."""
    exe = _tool("buildifier")
    if exe is None:
        pytest.fail("buildifier is not installed: run `bash .ci/setup`")

    def check(path: Path, lint: str = "off") -> tuple[bool, str]:
        args = [exe, "-mode=check", f"-lint={lint}", str(path)]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        return proc.returncode == 0, proc.stdout + proc.stderr

    return check


@pytest.fixture(scope="session")
def python_m() -> Callable[..., subprocess.CompletedProcess[str]]:
    def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        return subprocess.run([sys.executable, "-m", "migrate", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, check=False)

    return _run
