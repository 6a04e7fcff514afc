"""Plan stage: a file's records -> what to write, as plain records.

:func:`plan_file` sends each call to its kind's planner (:mod:`migrate.kinds`)
and works out the ``load`` changes the new calls need. Nothing here touches a
file or a syntax tree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from migrate import rules
from migrate.find import is_build_file, package_of
from migrate.kinds import plan_call
from migrate.loads import plan_loads, plan_shim_loads, resolve_symbols
from migrate.model import (
    DEFAULT_BASE_REPO,
    CallPlan,
    Context,
    FileEdits,
    FileRecord,
    ImplicitRef,
    Left,
    Options,
)

__all__ = ["DEFAULT_BASE_REPO", "FilePlan", "Options", "plan_file"]


@dataclass
class FilePlan:
    """What a file becomes: the edits for render, and what the report says."""

    edits: FileEdits = FileEdits()
    plans: list[CallPlan] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    deferred: bool = False  # some calls wait for the workspace's @repo// uses


def plan_file(record: FileRecord, path: str, options: Options,
              targets: frozenset[str] | None = None,
              refs: Mapping[str, tuple[ImplicitRef, ...]] | None = None,
              still_used: Mapping[str, tuple[str, ...]] | None = None,
              strings: Mapping[str, str] | None = None,
              block: Mapping[str, Left] | None = None) -> FilePlan:
    """Plan every selected call of one file (``targets``: the names selected, None for all).

    ``strings`` maps label literals to rewrite (references to an image's tarball);
    ``block`` holds the calls the cross-target check keeps as they are, and why.
    """
    out = FilePlan()
    calls = [c for c in record.calls if targets is None or c.name in targets]
    if options.to == "docker-shim":
        return _shim(record, calls, out)
    symbols = resolve_symbols(record.loads, set(record.bound))
    ctx = Context(
        package=package_of(path),
        is_build=is_build_file(path.rsplit("/", 1)[-1]),
        symbols=symbols.names,
        options=options,
        refs=refs or {},
        still_used=still_used,
        silence_native_py=record.silence_native_py,
        constants=record.constants,
    )
    for call in calls:
        if block and call.name in block and not call.skip:
            out.left.append(block[call.name])  # what it depends on stays rules_docker
            continue
        planned = plan_call(call, ctx)
        if planned is None:
            out.deferred = True
        elif isinstance(planned, Left):
            out.left.append(planned)
        else:
            out.plans.append(planned)
    if not out.plans:
        if strings:
            out.edits = FileEdits(strings=dict(strings))
        return out
    used_rules = {new.kind for p in out.plans for new in p.calls}
    out.notes.extend(sentence for rule, sentence in symbols.aliases.items() if rule in used_rules)
    rewritten = Counter(p.call.symbol for p in out.plans
                        if p.call is not None and not p.keep_original)
    needs = [(label, symbols.names.get(symbol, symbol), symbol)
             for p in out.plans for label, symbol in p.needs]
    load_plan = plan_loads(record.loads, Counter(record.uses), rewritten, needs)
    out.edits = FileEdits(tuple(out.plans), load_plan, strings=dict(strings or {}))
    return out


def _shim(record: FileRecord, calls: list, out: FilePlan) -> FilePlan:
    """``--to docker-shim``: only the py3_image load moves to this project's docker.bzl."""
    py3 = [c for c in calls if c.kind == "py3_image"]
    keep = {c.symbol for c in py3 if c.skip}
    for call in py3:
        if call.skip:
            out.left.append(Left(call.line, call.kind, call.name or "?",
                                 "marked '# migrate: skip'", skipped=True))
    load_plan = plan_shim_loads(record.loads, keep)
    if not load_plan:
        return out
    moved = {local for _, local, _ in load_plan.add}
    for call in py3:
        if call.symbol in moved:
            out.plans.append(CallPlan(call.line, call.kind, call.name or call.name_code or "?",
                                      (), notes=(f"load moved to {rules.SHIM_LABEL}",)))
    out.edits = FileEdits((), load_plan)
    return out
