"""``python -m migrate`` / ``pycross-image migrate``: the flags; the work is :mod:`migrate.api`.

Exit codes: 0 files changed (or would be, with --diff); 1 --check found work;
2 at least one file or target could not be migrated (all others still
processed); 3 nothing to change. With --verify: 0 every image is the same,
1 an image differs, 2 a build or the migration failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from migrate import api, find, isolate, source, write
from migrate.api import FILES_PER_WORKER
from migrate.model import DEFAULT_BASE_REPO, Options
from migrate.report import EXIT_NOT_MIGRATED, unified_diff

__all__ = ["FILES_PER_WORKER", "PROGRESS_THRESHOLD", "build_parser", "main", "run"]

PROGRESS_THRESHOLD = 200  # files before a run counts as long


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _size(text: str) -> int:
    """``10M``, ``512K``, ``1G`` (binary units, an optional trailing ``B`` or ``iB``) or bytes."""
    body = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = body[-1:] if body[-1:] in _UNITS else ""
    number = body[: len(body) - len(unit)]
    try:
        value = int(float(number) * _UNITS[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 10M, 512K)") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be more than 0 bytes, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text!r}")
    return value


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
    parser.add_argument("--module", action="store_true",
                        help="also edit MODULE.bazel (bzlmod): bazel_dep, rules_oci's extension, "
                        "an oci.pull per base, use_repo")
    parser.add_argument("--default-base", default="@" + DEFAULT_BASE_REPO, metavar="LABEL",
                        help="base for py3_image targets that had none (default %(default)s)")
    parser.add_argument("--default-base-image", default=None, metavar="REF",
                        help="image the default base is pulled from, e.g. your mirror of "
                        "distroless python3 (REGISTRY/distroless/python3); without it, "
                        "--workspace prints the oci_pull to add instead of writing it")
    parser.add_argument("--oci-base-suffix", default="", metavar="SUFFIX",
                        help='"@x//image" becomes "@x" + SUFFIX, for bases rules_docker '
                        "targets still pull as container_pull x")
    parser.add_argument("-j", "--jobs", type=_positive_int, default=0, metavar="N",
                        help="processes to parse with (default: the number of cores)")
    parser.add_argument("--max-file-size", type=_size, default=source.DEFAULT_MAX_BYTES,
                        metavar="SIZE",
                        help="larger files are not read, and reported (default 10M)")
    parser.add_argument("--timeout", type=_seconds, default=isolate.DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help="seconds one file may take to parse and plan before it is reported "
                        "and left as it was (default %(default)g)")
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
        with write.stop_on_signals():
            if args.verify:
                return _verify(args, args.bazel_flag + passthrough)
            if passthrough:
                return _fail(sys.stderr, "arguments after `--` are Bazel flags, for --verify only")
            return run(args, sys.stdout, sys.stderr)
    except write.Interrupted as exc:
        print(f"migrate: interrupted ({exc.name}); {exc.detail or 'no file was changed'}",
              file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("migrate: interrupted (SIGINT); no file was changed", file=sys.stderr)
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
    """Migrate as ``args`` say, print the diff, JSON and summary; return the exit code."""
    cwd = Path.cwd()
    mode = "diff" if args.diff else "check" if args.check else "write"
    options = Options(
        to=args.to,
        default_base=args.default_base,
        base_suffix=args.oci_base_suffix,
        workspace=args.workspace,
    )
    try:
        root = api.find_root(args.targets[0], cwd)
        request = api.Request(root, args.targets, mode, options, args.default_base_image,
                              args.jobs, cwd, args.module, args.max_file_size, args.timeout)
        outcome = api.migrate(request, _progress(stderr))
    except api.RequestError as exc:
        return _fail(stderr, str(exc))
    report = outcome.report
    if mode == "diff":
        for path in sorted(outcome.outputs):
            stdout.write(unified_diff(path, outcome.originals[path], outcome.outputs[path]))
    if args.json:
        json.dump(report.to_json(), stdout, indent=2)
        stdout.write("\n")
    if not args.quiet:
        summary_stream = stderr if (args.json or mode == "diff") else stdout
        summary_stream.write(report.summary())
    return report.exit_code()


def _progress(stderr: TextIO) -> api.Progress:
    """A progress bar on a terminal for long runs (tqdm), else nothing."""

    def start(total: int):
        if total < PROGRESS_THRESHOLD or not (hasattr(stderr, "isatty") and stderr.isatty()):
            return lambda: None
        from tqdm import tqdm

        bar = tqdm(total=total, file=stderr, unit="file", desc="migrate", leave=False)

        def tick() -> None:
            bar.update(1)
            if bar.n >= total:
                bar.close()

        return tick

    return start
