"""Differences as a readable table or as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from imagediff.compare import Difference

SIGN = {"added": "+", "removed": "-", "changed": "~"}
MAX_CELL = 72


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value)
    if text.startswith("sha256:"):
        text = text[:19]
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 3] + "..."


def summary(diffs: Sequence[Difference]) -> str:
    if not diffs:
        return "same"
    counts = {c: sum(1 for d in diffs if d.change == c) for c in SIGN}
    files = len({d.what for d in diffs if d.scope == "file"})
    config = len({d.what for d in diffs if d.scope == "config"})
    return (f"{len(diffs)} differences ({counts['added']} added, {counts['removed']} removed, "
            f"{counts['changed']} changed) in {files} paths and {config} config keys")


def table(diffs: Sequence[Difference], name_a: str = "A", name_b: str = "B") -> str:
    """One row per difference, config first, then paths in order; a summary line last."""
    if not diffs:
        return "same\n"
    rows = [("", "path / config key", "field", "A", "B")]
    for d in diffs:
        rows.append((SIGN[d.change], d.what, d.field, _cell(d.a), _cell(d.b)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append(f"A = {name_a}")
    lines.append(f"B = {name_b}")
    lines.append(summary(diffs))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def to_json(diffs: Sequence[Difference], name_a: str, name_b: str) -> str:
    doc = {"a": name_a, "b": name_b, "same": not diffs,
           "differences": [asdict(d) for d in diffs]}
    return json.dumps(doc, indent=2) + "\n"
