"""One file through find -> plan -> render -> check, as a pure function of its bytes.

:func:`migrate_file` is what the process pool runs; it never writes anything.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import libcst as cst

from migrate import calls as calls_mod
from migrate import rules
from migrate.find import is_build_file, package_of
from migrate.loads import LoadPlan, plan_loads, plan_shim_loads, resolve_symbols
from migrate.plan import CallPlan, Context, ImplicitRef, Left, Options, plan_call
from migrate.render import assemble, render
from migrate.source import SourceError, decode, encode, parse


@dataclass(frozen=True)
class Job:
    path: str  # workspace-relative
    data: bytes
    options: Options
    targets: frozenset[str] | None = None
    refs: Mapping[str, tuple[ImplicitRef, ...]] = field(default_factory=dict)
    still_used: Mapping[str, tuple[str, ...]] | None = None
    ignore_kinds: frozenset[str] = frozenset()


@dataclass
class FileResult:
    path: str
    output: bytes | None = None  # the new bytes; None when nothing changes
    plans: list[CallPlan] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    deferred: bool = False  # container_pull calls wait for the repository's use data
    parsed: bool = False


def prefilter(data: bytes) -> bool:
    return any(marker in data for marker in rules.PREFILTER)


def migrate_file(job: Job) -> FileResult:
    result = FileResult(job.path)
    if not prefilter(job.data):
        return result
    try:
        text, encoding = decode(job.data)
        module = parse(text)
    except SourceError as exc:
        result.error = str(exc)
        return result
    result.parsed = True
    where = calls_mod.layout(module)
    new_module = _migrate_module(module, job, result, where)
    if new_module is None:
        return result
    new_text = assemble(module, where.codes, new_module)
    if new_text == text:
        return result
    try:
        cst.parse_module(new_text)
    except cst.ParserSyntaxError as exc:  # pragma: no cover - a bug in the renderer
        result.error = f"internal error, file left as it was: output does not parse ({exc})"
        result.plans = []
        return result
    result.output = encode(new_text, encoding)
    result.plans = [dataclasses.replace(p, call=None) for p in result.plans]
    return result


def _migrate_module(module: cst.Module, job: Job, result: FileResult,
                    where: calls_mod.Layout) -> cst.Module | None:
    loads = calls_mod.read_loads(module, where.lines)
    targets = {}
    for load in loads:
        for local, remote in load.symbols:
            kind = rules.docker_kind(load.label, remote)
            if kind is not None and kind not in job.ignore_kinds:
                targets[local] = kind
    if not targets:
        return None
    found = calls_mod.find_calls(module, targets, where)
    if job.targets is not None:
        found = [c for c in found if c.name in job.targets]
    if job.options.to == "docker-shim":
        return _shim(module, loads, found, result)

    bound = calls_mod.bound_names(module)
    symbols = resolve_symbols(loads, bound)
    ctx = Context(
        package=package_of(job.path),
        is_build=is_build_file(job.path.rsplit("/", 1)[-1]),
        symbols=symbols.names,
        options=job.options,
        refs=job.refs,
        still_used=job.still_used,
        silence_native_py=any("disable=native-py" in code for code in where.codes),
    )
    plans: list[CallPlan] = []
    for call in found:
        planned = plan_call(call, ctx)
        if planned is None:
            result.deferred = True
        elif isinstance(planned, Left):
            result.left.append(planned)
        else:
            plans.append(planned)
    if not plans:
        return None
    used_rules = {new.kind for p in plans for new in p.calls}
    for rule, sentence in symbols.aliases.items():
        if rule in used_rules:
            result.notes.append(sentence)
    rewritten = Counter(p.call.symbol for p in plans if p.call is not None)
    needs = []
    for plan in plans:
        for label, symbol in plan.needs:
            rule = symbol if symbol != "py_binary" else "py_binary"
            needs.append((label, symbols.names.get(rule, symbol), symbol))
    load_plan = plan_loads(loads, calls_mod.count_uses(module, rewritten, where), rewritten, needs)
    result.plans = plans
    return render(module, plans, loads, load_plan)


def _shim(module: cst.Module, loads, found, result: FileResult) -> cst.Module | None:
    py3 = [c for c in found if c.kind == "py3_image"]
    keep = {c.symbol for c in py3 if c.skip}
    for call in py3:
        if call.skip:
            result.left.append(Left(call.line, call.kind, call.name or "?",
                                    "marked '# migrate: skip'", skipped=True))
    load_plan: LoadPlan = plan_shim_loads(loads, keep)
    if not load_plan:
        return None
    moved = {local for _, local, _ in load_plan.add}
    for call in py3:
        if call.symbol in moved:
            result.plans.append(CallPlan(call.line, call.kind, call.name or call.name_code or "?",
                                         (), notes=(f"load moved to {rules.SHIM_LABEL}",)))
    return render(module, [], loads, load_plan)
