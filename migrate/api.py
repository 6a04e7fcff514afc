"""The library entry point: migrate a selection of a workspace, get a :class:`Report`.

```python
from migrate import api

report = api.migrate(api.Request(root, ["//services/..."], mode="diff"))
print(report.summary())
```

:func:`migrate` runs the stages for every selected file (read, plan, render,
check, in worker processes that survive a crash or a hang of one file), then
the WORKSPACE and MODULE.bazel, then writes (every temporary file complete and
synced before any rename; SIGINT/SIGTERM acted on between files) unless the
mode is ``diff`` or ``check``. Only regular files under the size cap are
read. The CLI (:mod:`migrate.cli`) only turns flags into a :class:`Request`
and prints the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrate import find, graph, isolate, module, refs, source, write
from migrate.engine import FileResult, Job, migrate_file, migrate_workspace, prefilter
from migrate.kinds import KINDS
from migrate.model import Left, Options
from migrate.report import FileError, Report
from migrate.workspace import WorkspacePlan

FILES_PER_WORKER = 24  # files to parse before one more worker process pays off

Progress = Callable[[int], Callable[[], None]]  # total -> a function called per file done


class RequestError(Exception):
    """The request names nothing usable (the CLI prints it and exits 2)."""


@dataclass(frozen=True)
class Request:
    root: Path  # the workspace root
    selectors: Sequence[str]  # labels or paths, as on the command line
    mode: str = "write"  # write | diff | check
    options: Options = Options()
    default_base_image: str | None = None
    jobs: int = 0  # processes; 0: one per core
    cwd: Path | None = None  # what relative selectors are relative to (default: root)
    module: bool = False  # edit MODULE.bazel (--module)
    max_file_size: int = source.DEFAULT_MAX_BYTES  # larger files are not read
    timeout: float = isolate.DEFAULT_TIMEOUT  # seconds one file may take in a worker


@dataclass(frozen=True)
class Pool:
    """How files are run: worker processes at most, and seconds per file."""

    workers: int
    timeout: float


@dataclass
class Outcome:
    report: Report
    originals: dict[str, bytes] = field(default_factory=dict)
    outputs: dict[str, bytes] = field(default_factory=dict)


def find_root(first: str, cwd: Path) -> Path:
    """The workspace root for the first selector (a label, or a path from ``cwd``)."""
    start = cwd if first.startswith(("//", "@")) else (cwd / first)
    if not start.exists():
        raise RequestError(f"{first}: no such file or directory")
    root = find.find_root(start)
    if root is None:
        raise RequestError(f"no WORKSPACE, WORKSPACE.bazel or MODULE.bazel above {start}")
    return root


def migrate(request: Request, progress: Progress | None = None) -> Outcome:
    """Run a migration; raises :class:`RequestError` for a selection that names nothing."""
    root, options = request.root, request.options
    cwd = request.cwd or root
    try:
        selectors = [find.parse_selector(t, root, cwd) for t in request.selectors]
        candidates = find.select_files(root, selectors)
    except find.SelectionError as exc:
        raise RequestError(str(exc)) from None
    report = Report(root=str(root), mode=request.mode, to=options.to,
                    files_scanned=len(candidates))
    outcome = Outcome(report)

    # 1. read: every Starlark file of the workspace (references), or only the candidates
    wanted = {c.path: c for c in candidates}
    scans: dict[str, refs.Scan] = {}
    originals = outcome.originals
    paths: Iterable[str] = wanted
    whole = any(s.recursive and s.path == "" for s in selectors)
    if options.to == "oci" and not whole:
        paths = _all_files(root, wanted)
    for path in paths:
        try:
            data = source.read_regular(root / path, request.max_file_size)
        except source.SourceError as exc:
            if path in wanted:
                report.errors.append(FileError(path, str(exc)))
            else:
                report.notes.append((path, f"not scanned for references: {exc}"))
            continue
        if options.to == "oci":
            scans[path] = refs.scan(path, data)
        if path in wanted and prefilter(data):
            originals[path] = data
    ref_index = refs.index_refs(scans)

    ws_file = find.workspace_file(root)
    ws_rel = ws_file.relative_to(root).as_posix() if ws_file is not None else None

    # 2. plan and render each file (in worker processes)
    pool = Pool(request.jobs, request.timeout)
    def job(path: str, data: bytes, **extra) -> Job:
        targets = wanted[path].targets if path in wanted else frozenset()
        return Job(path, data, options, targets, ref_index.get(find.package_of(path), {}),
                   **extra)

    results = {r.path: r for r in run_jobs([job(p, d) for p, d in originals.items()],
                                           pool, progress)}

    # 3. across targets: keep what depends on something that stays rules_docker, then
    #    point references to an image's tarball file at the new one
    if options.to == "oci":
        report.notes.extend(_across_targets(root, results, scans, originals, wanted, ws_rel,
                                            options, job, pool, request.max_file_size))

    # 4. container_pull: now that the new files are known, is @name// still used?
    deferred = [r for r in results.values() if r.deferred]
    still_used = _still_used(scans, results)
    if deferred:
        others = frozenset(k for k in KINDS if k != "container_pull")
        jobs = [
            Job(r.path, r.output or originals[r.path], options, wanted[r.path].targets,
                ref_index.get(find.package_of(r.path), {}), still_used, ignore_kinds=others)
            for r in deferred
        ]
        for second in run_jobs(jobs, pool, None):
            first_pass = results[second.path]
            second.plans = first_pass.plans + second.plans
            second.left = first_pass.left + second.left
            second.notes = first_pass.notes + second.notes
            if second.output is None:
                second.output = first_pass.output
            results[second.path] = second

    outputs = outcome.outputs
    for path in sorted(results):
        result = results[path]
        if result.error:
            report.errors.append(FileError(path, result.error))
        report.migrated.extend((path, plan) for plan in result.plans)
        report.left.extend((path, item) for item in result.left)
        report.notes.extend((path, note) for note in result.notes)
        if result.output is not None and result.output != originals[path]:
            outputs[path] = result.output

    # 5. WORKSPACE
    bases = [b for _, plan in report.migrated for b in plan.bases]
    if request.module and not options.workspace:
        ws_file = None  # a bzlmod user: the WORKSPACE lines would be noise
    if options.to == "oci" and bases and ws_file is not None:
        _workspace(root, ws_file, bases, still_used, request, outcome)

    # 6. MODULE.bazel: with --module, or printed for a repository without WORKSPACE
    has_module = (root / module.MODULE_FILE).is_file()
    if options.to == "oci" and report.migrated and (
            request.module or (has_module and ws_file is None)):
        _module(root, bases, still_used, request, outcome)

    # 7. write (every temporary file complete and synced before any rename)
    if request.mode == "write":
        written = write.write_all(root, outputs)
        report.files_changed.extend(written.changed)
        for path, reason in sorted(written.failed.items()):
            report.errors.append(FileError(path, reason))
        _unwritten(report, written.failed)
    else:
        report.files_changed.extend(sorted(outputs))
    report.workspace_written = (request.mode == "write"
                                and report.workspace_file in report.files_changed)
    return outcome


def _still_used(scans: dict[str, refs.Scan], results: dict[str, FileResult]
                ) -> dict[str, tuple[str, ...]]:
    """repo -> the ``@repo//`` uses left once the new files are written."""
    after = dict(scans)
    for result in results.values():
        if result.output is not None:
            after[result.path] = refs.scan(result.path, result.output)
    return refs.repo_uses(after.items())


def _across_targets(root: Path, results: dict[str, FileResult], scans: dict[str, refs.Scan],
                    originals: dict[str, bytes], wanted: dict[str, find.Candidate],
                    ws_rel: str | None, options: Options, job, pool: Pool, max_bytes: int,
                    ) -> list[tuple[str, str]]:
    """Block targets whose dependencies stay rules_docker (until nothing changes), then
    rewrite references to ``:x.tar`` read as a file; re-renders the files concerned."""
    records = {p: r.record for p, r in results.items() if r.record is not None}
    listed = [(p, s.targets) for p, s in scans.items()]
    if ws_rel is not None:
        try:
            data = source.read_regular(root / ws_rel, max_bytes)
            listed.append((ws_rel, refs.scan(ws_rel, data).targets))
        except source.SourceError:
            pass  # reported by the WORKSPACE stage
    world = graph.build_world(records, listed)
    blocks: dict[str, dict] = {}
    selected = set(wanted)
    verdict = graph.Verdict()
    for _ in range(50):  # each round only adds blocks; a chain of bases is short
        migrated = [(p, plan) for p in sorted(results) for plan in results[p].plans]
        verdict = graph.check(world, migrated, _still_used(scans, results), selected,
                              options.base_suffix, ws_rel)
        changed = []
        for path, names in verdict.blocked.items():
            known = blocks.setdefault(path, {})
            if names.keys() - known.keys():
                known.update(names)
                changed.append(path)
        if not changed:
            break
        for result in run_jobs([job(p, originals[p], block=blocks[p]) for p in changed],
                               pool, None):
            results[result.path] = result
    strings: dict[str, dict[str, str]] = {}
    for _, plan in ((p, plan) for p in results for plan in results[p].plans):
        for ref in plan.references:
            if ref.replacement is not None:
                strings.setdefault(ref.path, {})[ref.text] = ref.replacement
    jobs = []
    for path in sorted(strings):
        data = originals.get(path)
        if data is None:
            try:
                data = source.read_regular(root / path, max_bytes)
            except source.SourceError:
                continue
            originals[path] = data
        jobs.append(job(path, data, block=blocks.get(path, {}), strings=strings[path]))
    for result in run_jobs(jobs, pool, None):
        previous = results.get(result.path)
        if previous is not None and previous.deferred:
            result.deferred = True
        results[result.path] = result
    return list(dict.fromkeys(verdict.notes))


def _workspace(root: Path, ws_file: Path, bases: list[str], still_used, request: Request,
               outcome: Outcome) -> None:
    report, options = outcome.report, request.options
    rel = ws_file.relative_to(root).as_posix()
    try:
        data = source.read_regular(ws_file, request.max_file_size)
    except source.SourceError as exc:
        report.errors.append(FileError(rel, str(exc)))
        return
    ws = _isolated(rel, migrate_workspace, rel, data, bases, still_used, options,
                   request.default_base_image, timeout=request.timeout)
    report.workspace_file = ws.path
    report.workspace_lines = ws.lines
    report.notes.extend((ws.path, note) for note in ws.notes)
    if ws.error:
        report.errors.append(FileError(ws.path, ws.error))
    if options.workspace:
        report.left.extend((ws.path, item) for item in ws.left)
        report.migrated.extend((ws.path, plan) for plan in ws.plans)
        if ws.output is not None and ws.output != data:
            outcome.originals[ws.path] = data
            outcome.outputs[ws.path] = ws.output
    else:
        report.notes.extend((ws.path, f"{i.kind} {i.name}: {i.reason}") for i in ws.left)


def _module(root: Path, bases: list[str], still_used, request: Request,
            outcome: Outcome) -> None:
    report, options = outcome.report, request.options
    datas: dict[str, bytes | None] = {}
    ws_file = find.workspace_file(root)
    for path in filter(None, (root / module.MODULE_FILE, ws_file)):
        rel = path.relative_to(root).as_posix()
        if not (path.exists() or path.is_symlink()):
            datas[rel] = None
            continue
        try:
            datas[rel] = source.read_regular(path, request.max_file_size)
        except source.SourceError as exc:
            if rel == module.MODULE_FILE:
                report.errors.append(FileError(rel, str(exc)))
                return
            datas[rel] = None  # reported by the WORKSPACE stage when it matters
    ws_rel = ws_file.relative_to(root).as_posix() if ws_file is not None else None
    data = datas[module.MODULE_FILE]
    mod = _isolated(module.MODULE_FILE, module.migrate_module, data,
                    datas.get(ws_rel) if ws_rel else None, ws_rel, bases, still_used, options,
                    request.default_base_image, request.module, timeout=request.timeout)
    report.workspace_file = mod.path
    report.workspace_lines = mod.lines
    report.notes.extend((mod.path, note) for note in mod.notes)
    if mod.error:
        report.errors.append(FileError(mod.path, mod.error))
    if request.module:
        report.left.extend((mod.path, item) for item in mod.left)
        if mod.output is not None and mod.output != data:
            outcome.originals[mod.path] = data or b""
            outcome.outputs[mod.path] = mod.output
    else:
        report.notes.extend((mod.path, f"{i.kind} {i.name}: {i.reason}") for i in mod.left)


def _isolated(path: str, fn: Callable[..., WorkspacePlan], *args: object,
              timeout: float) -> WorkspacePlan:
    """``fn(*args)`` in a worker process: a WORKSPACE or MODULE.bazel that crashes the
    parser is reported like any other file."""
    out = isolate.call_isolated(fn, *args, timeout=timeout)
    return WorkspacePlan(path, error=out.reason) if isinstance(out, isolate.Failed) else out


def _unwritten(report: Report, failed: dict[str, str]) -> None:
    """Targets of files that could not be written are not migrated: move them to ``left``."""
    if not failed:
        return
    kept = []
    for path, plan in report.migrated:
        if path in failed:
            report.left.append((path, Left(plan.line, plan.kind, plan.name,
                                           "not migrated: its file could not be written",
                                           references=plan.references)))
        else:
            kept.append((path, plan))
    report.migrated = kept


def _all_files(root: Path, wanted: dict[str, find.Candidate]) -> Iterator[str]:
    seen = set()
    for path in find.walk(root, "", find.read_bazelignore(root)):
        seen.add(path)
        yield path
    yield from (p for p in wanted if p not in seen)


def run_jobs(jobs: list[Job], pool: Pool, progress: Progress | None) -> list[FileResult]:
    """Run :func:`~migrate.engine.migrate_file` over ``jobs`` in worker processes: a file
    that crashes the parser, raises or takes longer than the timeout is reported alone."""
    if not jobs:
        return []
    workers = min(pool.workers or isolate.cpu_count(), max(1, len(jobs) // FILES_PER_WORKER))
    tick = progress(len(jobs)) if progress is not None else None
    outcomes = isolate.run_isolated(migrate_file, jobs, workers, pool.timeout, on_result=tick)
    return [FileResult(job.path, error=out.reason) if isinstance(out, isolate.Failed) else out
            for job, out in zip(jobs, outcomes)]
