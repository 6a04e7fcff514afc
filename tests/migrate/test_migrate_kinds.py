"""Every kind's before/after examples (migrate/kinds/<kind>.py EXAMPLES), run through the engine."""

from __future__ import annotations

import pytest

from migrate.engine import Job, migrate_file
from migrate.kinds import KINDS
from migrate.model import Options

CASES = [
    pytest.param(kind.name, before, after, id=f"{kind.name}-{i}")
    for kind in KINDS.values()
    for i, (before, after) in enumerate(kind.examples)
]


def test_every_kind_has_an_example() -> None:
    with_examples = {name for name, *_ in (c.values for c in CASES)}
    # the refused kinds share one example of a refusal
    assert {"py3_image", "container_image", "container_push", "container_pull",
            "container_layer"} <= with_examples


@pytest.mark.parametrize(("kind", "before", "after"), CASES)
def test_example(kind: str, before: str, after: str | None) -> None:
    path = "pkg/images.bzl" if "def " in before else "pkg/BUILD"
    result = migrate_file(Job(path, before.encode(), Options(), still_used={}))
    assert result.error is None
    if after is None:
        assert result.output is None
        assert [item.kind for item in result.left] == [kind]
        return
    assert result.output is not None and result.output.decode() == after
    assert [p.kind for p in result.plans] == [kind]
    assert result.left == []
