"""Shared fixtures. Slow tests are marked `bazel` or `image`; none is ever skipped
silently: a machine that was not set up fails with the command that fixes it."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The layering core runs from the checkout, exactly as the Bazel tool does.
sys.path.insert(0, str(REPO / "bazel" / "rules"))
sys.path.insert(0, str(REPO))
