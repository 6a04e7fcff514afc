"""The test harness's own guarantees: a test that cannot run fails in CI instead
of passing as a skip, SIGTERM still runs fixture teardown, and binfmt entries
of killed runs are found and removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import binfmt

from .helpers import write

REPO = Path(__file__).resolve().parents[2]


def _pytest(tmp_path: Path, test: str, **env: str) -> subprocess.Popen:
    """pytest on one test file in `tmp_path`, with this repo's conftest as a plugin."""
    write(tmp_path / "test_it.py", test)
    environ = {k: v for k, v in os.environ.items() if k != "PYCROSS_REQUIRE_ALL"}
    environ.update(env, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-q", "-ra",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "test_it.py")],
        cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


UNAVAILABLE = """
from tests.support.require import unavailable

def test_needs_something():
    unavailable("no such thing here")
"""


@pytest.mark.parametrize("env, code, word", [({}, 0, "1 skipped"),
                                              ({"PYCROSS_REQUIRE_ALL": "1"}, 1, "1 failed")])
def test_unavailable_skips_locally_and_fails_in_ci(tmp_path, env, code, word):
    proc = _pytest(tmp_path, UNAVAILABLE, **env)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == code, out
    assert word in out and "no such thing here" in out


SLOW = """
import pathlib, time, pytest

@pytest.fixture(scope="session")
def server():
    here = pathlib.Path(__file__).parent
    yield
    (here / "torn-down").write_text("yes")

def test_slow(server):
    (pathlib.Path(__file__).parent / "started").write_text("yes")
    time.sleep(120)
"""


def test_sigterm_runs_fixture_teardown(tmp_path):
    proc = _pytest(tmp_path, SLOW)
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the test never started"
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, out
    assert (tmp_path / "torn-down").read_text() == "yes", out


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_stale_binfmt_entries_are_those_of_dead_runs(tmp_path):
    dead, alive = _dead_pid(), os.getpid()
    for name in (f"{binfmt.PREFIX}{dead}", f"{binfmt.PREFIX}{alive}", f"{binfmt.PREFIX}x",
                 "qemu-aarch64", "register", "status"):
        write(tmp_path / name, "enabled\n")
    assert binfmt.remove_stale(tmp_path) == [tmp_path / f"{binfmt.PREFIX}{dead}"]
    # Writing -1 is how binfmt_misc removes an entry.
    assert (tmp_path / f"{binfmt.PREFIX}{dead}").read_text() == "-1"
    for name in (f"{binfmt.PREFIX}{alive}", f"{binfmt.PREFIX}x", "qemu-aarch64"):
        assert (tmp_path / name).read_text() == "enabled\n"
