"""The library entry point: migrate a selection of a workspace, get a :class:`Report`.

```python
from migrate import api

report = api.migrate(api.Request(root, ["//services/..."], mode="diff"))
print(report.summary())
```

:func:`migrate` runs the stages for every selected file (read, plan, render,
check, in a process pool when there are many), then the WORKSPACE, then writes
(every temporary file complete and synced before any rename) unless the mode
is ``diff`` or ``check``. The CLI (:mod:`migrate.cli`) only turns flags into a
:class:`Request` and prints the report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from migrate import find, graph, refs, write
from migrate.engine import FileResult, Job, migrate_file, migrate_workspace, prefilter
from migrate.kinds import KINDS
from migrate.model import Options
from migrate.report import FileError, Report

POOL_THRESHOLD = 48  # files to parse before a process pool pays off

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
            data = (root / path).read_bytes()
        except OSError as exc:
            if path in wanted:
                report.errors.append(FileError(path, f"cannot read: {exc.strerror or exc}"))
            continue
        if options.to == "oci":
            scans[path] = refs.scan(path, data)
        if path in wanted and prefilter(data):
            originals[path] = data
    ref_index = refs.index_refs(scans)

    ws_file = find.workspace_file(root)
    ws_rel = ws_file.relative_to(root).as_posix() if ws_file is not None else None

    # 2. plan and render each file (in a process pool when there are many)
    def job(path: str, data: bytes, **extra) -> Job:
        targets = wanted[path].targets if path in wanted else frozenset()
        return Job(path, data, options, targets, ref_index.get(find.package_of(path), {}),
                   **extra)

    results = {r.path: r for r in run_jobs([job(p, d) for p, d in originals.items()],
                                           request.jobs, progress)}

    # 3. across targets: keep what depends on something that stays rules_docker, then
    #    point references to an image's tarball file at the new one
    if options.to == "oci":
        report.notes.extend(_across_targets(root, results, scans, originals, wanted, ws_rel,
                                            options, job, request.jobs))

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
        for second in run_jobs(jobs, request.jobs, None):
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
    if options.to == "oci" and bases and ws_file is not None:
        _workspace(root, ws_file, bases, still_used, request, outcome)

    # 6. write (every temporary file complete and synced before any rename)
    if request.mode == "write":
        _write(root, outputs, report)
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
                    ws_rel: str | None, options: Options, job, workers: int,
                    ) -> list[tuple[str, str]]:
    """Block targets whose dependencies stay rules_docker (until nothing changes), then
    rewrite references to ``:x.tar`` read as a file; re-renders the files concerned."""
    records = {p: r.record for p, r in results.items() if r.record is not None}
    listed = [(p, s.targets) for p, s in scans.items()]
    if ws_rel is not None:
        with contextlib.suppress(OSError):
            listed.append((ws_rel, refs.scan(ws_rel, (root / ws_rel).read_bytes()).targets))
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
                               workers, None):
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
                data = (root / path).read_bytes()
            except OSError:
                continue
            originals[path] = data
        jobs.append(job(path, data, block=blocks.get(path, {}), strings=strings[path]))
    for result in run_jobs(jobs, workers, None):
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
        data = ws_file.read_bytes()
    except OSError as exc:
        report.errors.append(FileError(rel, f"cannot read: {exc.strerror or exc}"))
        return
    ws = migrate_workspace(rel, data, bases, still_used, options, request.default_base_image)
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


def _write(root: Path, outputs: dict[str, bytes], report: Report) -> None:
    pending = []
    for path in sorted(outputs):
        try:
            pending.append((path, write.prepare(root / path, outputs[path])))
        except write.WriteError as exc:
            report.errors.append(FileError(path, str(exc)))
    if pending:
        write.sync()
    for path, item in pending:
        try:
            write.commit(item)
        except write.WriteError as exc:
            report.errors.append(FileError(path, str(exc)))
            continue
        report.files_changed.append(path)


def _all_files(root: Path, wanted: dict[str, find.Candidate]) -> Iterator[str]:
    seen = set()
    for path in find.walk(root, "", find.read_bazelignore(root)):
        seen.add(path)
        yield path
    yield from (p for p in wanted if p not in seen)


def run_jobs(jobs: list[Job], workers: int, progress: Progress | None) -> list[FileResult]:
    """Run :func:`~migrate.engine.migrate_file` over ``jobs``, in processes when many."""
    if not jobs:
        return []
    workers = workers or os.cpu_count() or 1
    tick = progress(len(jobs)) if progress is not None else None
    results = []
    if workers > 1 and len(jobs) >= POOL_THRESHOLD:
        chunk = max(1, min(64, len(jobs) // (workers * 8)))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(migrate_file, jobs, chunksize=chunk):
                results.append(result)
                if tick is not None:
                    tick()
    else:
        for job in jobs:
            results.append(migrate_file(job))
            if tick is not None:
                tick()
    return results
