"""``python -m migrate`` / ``pycross-image migrate``: rules_docker -> rules_oci, in place.

Exit codes: 0 files changed (or would be, with --diff); 1 --check found work;
2 at least one file or target could not be migrated (all others still
processed); 3 nothing to change. With --verify: 0 every image is the same,
1 an image differs, 2 a build or the migration failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

from migrate import find, refs, write
from migrate.engine import FileResult, Job, migrate_file, prefilter
from migrate.plan import DEFAULT_BASE_REPO, Options
from migrate.report import EXIT_NOT_MIGRATED, FileError, Report, unified_diff
from migrate.workspace import plan_workspace

POOL_THRESHOLD = 48  # files to parse before a process pool pays off
PROGRESS_THRESHOLD = 200  # files before a run counts as long


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pycross-image migrate",
        description="Rewrite BUILD and .bzl files from rules_docker to rules_oci "
        "(py3_image -> pycross_image py_image, container_* -> oci_*).",
        epilog="Exit codes: 0 changed, 1 --check found work, 2 something could not be "
        "migrated, 3 nothing to change.",
    )
    parser.add_argument(
        "targets", nargs="+", metavar="TARGET",
        help="files, directories (recursive) or labels: //..., //pkg/..., //pkg:all, //pkg:name",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print a unified diff, write nothing")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if anything would change (for CI)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--to", choices=("oci", "docker-shim"), default="oci",
                        help="oci (default): rules_oci and oci.bzl py_image; docker-shim: only "
                        "move py3_image loads to @pycross_image//bazel/rules:docker.bzl")
    parser.add_argument("--workspace", action="store_true",
                        help="also edit WORKSPACE: rules_oci set-up and an oci_pull per base")
    parser.add_argument("--default-base", default="@" + DEFAULT_BASE_REPO, metavar="LABEL",
                        help="base for py3_image targets that had none (default %(default)s)")
    parser.add_argument("--default-base-image", default=None, metavar="REF",
                        help="image the default base is pulled from, e.g. your mirror of "
                        "distroless python3 (REGISTRY/distroless/python3); without it, "
                        "--workspace prints the oci_pull to add instead of writing it")
    parser.add_argument("--oci-base-suffix", default="", metavar="SUFFIX",
                        help='"@x//image" becomes "@x" + SUFFIX, for bases rules_docker '
                        "targets still pull as container_pull x")
    parser.add_argument("-j", "--jobs", type=int, default=0,
                        help="processes to parse with (default: the number of cores)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no summary")
    verify = parser.add_argument_group(
        "verify", "--verify: build each selected py3_image's :NAME.tar with Bazel, migrate, "
        "build :NAME.tarball, compare the two images (pycross-image diff) and print per target "
        "`same` or the differences; exit 1 on any. The migrated files stay only when all are "
        "the same (or with --keep). Bazel flags: --bazel-flag=... or everything after `--`.")
    mode.add_argument("--verify", action="store_true",
                      help="migrate, and check the rebuilt images equal the old ones")
    verify.add_argument("--keep", action="store_true",
                        help="keep the migrated files even when the images differ")
    verify.add_argument("--bazel", default="bazel", metavar="PATH",
                        help="the Bazel to build with (default: bazel on PATH)")
    verify.add_argument("--bazel-flag", action="append", default=[], metavar="FLAG",
                        help="a flag for bazel build/cquery/info (repeatable)")
    verify.add_argument("--bazel-startup-flag", action="append", default=[], metavar="FLAG",
                        help="a Bazel startup flag, e.g. --output_base=DIR (repeatable)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(argv) if argv is not None else sys.argv[1:]
    passthrough: list[str] = []
    if "--" in argv:  # everything after `--` goes to Bazel (with --verify)
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for usage errors
        return int(exc.code or 0)
    try:
        if args.verify:
            return _verify(args, args.bazel_flag + passthrough)
        if passthrough:
            return _fail(sys.stderr, "arguments after `--` are Bazel flags, for --verify only")
        return run(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        print("migrate: interrupted; files already written are complete", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        print(f"migrate: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_NOT_MIGRATED


def _verify(args: argparse.Namespace, bazel_flags: list[str]) -> int:
    from migrate import verify  # imagediff is only needed here

    cwd = Path.cwd()
    first = args.targets[0]
    start = cwd if first.startswith(("//", "@")) else (cwd / first)
    root = find.find_root(start) if start.exists() else None
    if root is None:
        return _fail(sys.stderr, f"{first}: no workspace found")
    return verify.run(run, args, root, bazel_flags, sys.stdout, sys.stderr)


def _fail(stderr: TextIO, message: str) -> int:
    print(f"migrate: {message}", file=stderr)
    return EXIT_NOT_MIGRATED


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    cwd = Path.cwd()
    first = args.targets[0]
    start = cwd if first.startswith(("//", "@")) else (cwd / first)
    if not start.exists():
        return _fail(stderr, f"{first}: no such file or directory")
    root = find.find_root(start)
    if root is None:
        return _fail(stderr, f"no WORKSPACE, WORKSPACE.bazel or MODULE.bazel above {start}")
    try:
        selectors = [find.parse_selector(t, root, cwd) for t in args.targets]
        candidates = find.select_files(root, selectors)
    except find.SelectionError as exc:
        return _fail(stderr, str(exc))

    options = Options(
        to=args.to,
        default_base=args.default_base,
        base_suffix=args.oci_base_suffix,
        workspace=args.workspace,
    )
    mode = "diff" if args.diff else "check" if args.check else "write"
    report = Report(root=str(root), mode=mode, to=args.to, files_scanned=len(candidates))

    # 1. read: every Starlark file of the workspace (references), or only the candidates
    wanted = {c.path: c for c in candidates}
    scans: dict[str, refs.Scan] = {}
    originals: dict[str, bytes] = {}
    paths: Iterable[str] = wanted
    whole = any(s.recursive and s.path == "" for s in selectors)
    if args.to == "oci" and not whole:
        paths = _all_files(root, wanted)
    for path in paths:
        try:
            data = (root / path).read_bytes()
        except OSError as exc:
            if path in wanted:
                report.errors.append(FileError(path, f"cannot read: {exc.strerror or exc}"))
            continue
        if args.to == "oci":
            scans[path] = refs.scan(path, data)
        if path in wanted and prefilter(data):
            originals[path] = data
    ref_index = refs.index_refs(scans)

    # 2. plan and render each file (in a process pool when there are many)
    jobs = [
        Job(path, data, options, wanted[path].targets,
            ref_index.get(find.package_of(path), {}), None)
        for path, data in originals.items()
    ]
    results = {r.path: r for r in _run_jobs(jobs, args.jobs, stderr)}

    # 3. container_pull: now that the new files are known, is @name// still used?
    deferred = [r for r in results.values() if r.deferred]
    after = dict(scans)
    for result in results.values():
        if result.output is not None:
            after[result.path] = refs.scan(result.path, result.output)
    still_used = refs.repo_uses(after.items())
    if deferred:
        jobs = [
            Job(r.path, r.output or originals[r.path], options, wanted[r.path].targets,
                ref_index.get(find.package_of(r.path), {}), still_used)
            for r in deferred
        ]
        for second in _run_jobs(jobs, args.jobs, stderr):
            first_pass = results[second.path]
            second.plans = first_pass.plans + second.plans
            second.left = first_pass.left + second.left
            second.notes = first_pass.notes + second.notes
            if second.output is None:
                second.output = first_pass.output
            results[second.path] = second

    outputs: dict[str, bytes] = {}
    for path in sorted(results):
        result = results[path]
        if result.error:
            report.errors.append(FileError(path, result.error))
        report.migrated.extend((path, plan) for plan in result.plans)
        report.left.extend((path, item) for item in result.left)
        report.notes.extend((path, note) for note in result.notes)
        if result.output is not None and result.output != originals[path]:
            outputs[path] = result.output
            originals.setdefault(path, originals[path])

    # 4. WORKSPACE
    bases = [b for _, plan in report.migrated for b in plan.bases]
    ws_file = find.workspace_file(root)
    if args.to == "oci" and bases and ws_file is not None:
        ws = plan_workspace(root, ws_file, bases, still_used, options, args.default_base_image)
        report.workspace_file = ws.path
        report.workspace_lines = ws.lines
        report.notes.extend((ws.path, note) for note in ws.notes)
        if ws.error:
            report.errors.append(FileError(ws.path, ws.error))
        if args.workspace:
            report.left.extend((ws.path, item) for item in ws.left)
            report.migrated.extend((ws.path, plan) for plan in ws.plans)
            if ws.output is not None:
                originals[ws.path] = (root / ws.path).read_bytes()
                outputs[ws.path] = ws.output
        else:
            report.notes.extend((ws.path, f"{i.kind} {i.name}: {i.reason}") for i in ws.left)

    # 5. write (every temporary file complete and synced before any rename), or show
    if mode == "write":
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
    else:
        report.files_changed.extend(sorted(outputs))
    report.workspace_written = mode == "write" and report.workspace_file in report.files_changed

    if mode == "diff":
        for path in sorted(outputs):
            stdout.write(unified_diff(path, originals[path], outputs[path]))
    if args.json:
        json.dump(report.to_json(), stdout, indent=2)
        stdout.write("\n")
    if not args.quiet:
        summary_stream = stderr if (args.json or mode == "diff") else stdout
        summary_stream.write(report.summary())
    return report.exit_code()


def _all_files(root: Path, wanted: dict[str, find.Candidate]) -> Iterator[str]:
    seen = set()
    for path in find.walk(root, "", find.read_bazelignore(root)):
        seen.add(path)
        yield path
    yield from (p for p in wanted if p not in seen)


def _run_jobs(jobs: list[Job], workers: int, stderr: TextIO) -> list[FileResult]:
    if not jobs:
        return []
    workers = workers or os.cpu_count() or 1
    show = len(jobs) >= PROGRESS_THRESHOLD and hasattr(stderr, "isatty") and stderr.isatty()
    progress = None
    if show:
        from tqdm import tqdm

        progress = tqdm(total=len(jobs), file=stderr, unit="file", desc="migrate", leave=False)
    results = []
    try:
        if workers > 1 and len(jobs) >= POOL_THRESHOLD:
            chunk = max(1, min(64, len(jobs) // (workers * 8)))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(migrate_file, jobs, chunksize=chunk):
                    results.append(result)
                    if progress is not None:
                        progress.update(1)
        else:
            for job in jobs:
                results.append(migrate_file(job))
                if progress is not None:
                    progress.update(1)
    finally:
        if progress is not None:
            progress.close()
    return results
