"""Shared fixtures. Slow tests are marked `bazel` or `image`; none is ever skipped
silently: a machine that was not set up fails with the command that fixes it."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The layering core runs from the checkout, exactly as the Bazel tool does.
sys.path.insert(0, str(REPO / "bazel" / "rules"))
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402

from tests.support import binfmt  # noqa: E402


@pytest.fixture(scope="session")
def qemu_aarch64():
    """qemu-aarch64 registered in binfmt_misc for the session, so arm64 images run
    (tests/support/binfmt.py); removed, and binfmt_misc unmounted if we mounted it,
    at the end. Where it cannot be registered the test is skipped with the reason
    (a skip, never a pass); a machine without qemu fails with the set-up command."""
    try:
        reg = binfmt.register()
    except binfmt.BinfmtUnavailable as exc:
        pytest.skip(f"arm64 images cannot run here: {exc}")
    except binfmt.BinfmtSetupError as exc:
        pytest.fail(str(exc))
    yield reg
    binfmt.unregister(reg)
