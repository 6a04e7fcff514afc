"""What a test does when this machine cannot run it.

Locally a test that cannot run here (say, no binfmt_misc in this container) is
skipped with the reason, which pytest's summary lists. CI (`.ci/run`) sets
`PYCROSS_REQUIRE_ALL=1`: there every test must run, so the same reason fails
the test instead of letting a skip pass the build.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL = "PYCROSS_REQUIRE_ALL"


def unavailable(reason: str) -> NoReturn:
    """Skips the test with `reason`, or fails it when PYCROSS_REQUIRE_ALL=1."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ALL}=1: every test must run here)", pytrace=False)
    pytest.skip(reason)
