"""Shared fixtures. Slow tests are marked `bazel` or `image`; none is ever skipped
silently: a machine that was not set up fails with the command that fixes it."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The layering core runs from the checkout, exactly as the Bazel tool does.
sys.path.insert(0, str(REPO / "bazel" / "rules"))
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402

from tests.support import binfmt  # noqa: E402
from tests.support.require import unavailable  # noqa: E402


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config):
    """SIGTERM (CI cancelling a job, `timeout`) stops the run as Ctrl-C does, so
    fixture teardown still runs: servers stop, the binfmt entry goes away."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    config.add_cleanup(lambda: signal.signal(signal.SIGTERM, previous))


@pytest.fixture(scope="session")
def qemu_aarch64():
    """qemu-aarch64 registered in binfmt_misc for the session, so arm64 images run
    (tests/support/binfmt.py); removed, and binfmt_misc unmounted if we mounted it,
    at the end. Where it cannot be registered the test is skipped with the reason
    (a skip, never a pass), or fails under PYCROSS_REQUIRE_ALL=1 (CI); a machine
    without qemu fails with the set-up command."""
    try:
        reg = binfmt.register()
    except binfmt.BinfmtUnavailable as exc:
        unavailable(f"arm64 images cannot run here: {exc}")
    except binfmt.BinfmtSetupError as exc:
        pytest.fail(str(exc))
    yield reg
    binfmt.unregister(reg)
