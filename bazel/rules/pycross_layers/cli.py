"""Command line: ``pycross-image layers`` (users), ``pycross-image layer`` (the Bazel
action, one group per run), ``pycross-image migrate`` (the migrator) and
``pycross-image diff`` (compare two images)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict

from . import compress
from .classify import Classifier, compile_groups, parse_group_spec
from .errors import LayerError
from .inspect_layers import describe, layer_name
from .layers import (
    LayerResult,
    assign,
    atomic_output,
    build_layers,
    normalise_root,
    write_layer,
)
from .manifest import parse_manifest
from .rundir import read_runfiles_dir
from .tarball import TarPolicy

PROG = "pycross-image"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--group", action="append", default=[], metavar="NAME=REGEX",
                   help="a custom layer group, checked before the defaults in the order "
                        "given; REGEX is matched at the start of the runfiles-relative path")
    p.add_argument("--compress", choices=compress.METHODS, default="gzip",
                   help="layer compression (default: gzip)")
    p.add_argument("--level", type=int, default=None,
                   help="compression level (gzip 0-9, default 6; zstd default 3)")
    p.add_argument("--threads", type=int, default=None,
                   help="compression threads (never changes the output bytes)")
    p.add_argument("--root", default="/app",
                   help="image directory for the launcher and <name>.runfiles (default: /app)")
    p.add_argument("--mtime", type=int, default=0,
                   help="modification time of every entry, seconds since the epoch (default 0)")
    p.add_argument("--execroot", default=".",
                   help="directory that manifest exec paths are relative to (default: .)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Layered, reproducible container images from Bazel py_binary "
                               "runfiles, and a rules_docker -> rules_oci migrator.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    layers = sub.add_parser("layers", help="write one tar per layer and layers.json",
                            description="Split runfiles into deterministic layer tars.")
    src = layers.add_mutually_exclusive_group(required=True)
    src.add_argument("--runfiles", metavar="DIR", help="a runfiles directory, e.g. "
                     "bazel-bin/pkg/app.runfiles (the launcher beside it is included)")
    src.add_argument("--manifest", metavar="FILE",
                     help="the manifest written by the py_image_layers rule")
    layers.add_argument("--out", required=True, metavar="OUTDIR", help="output directory")
    layers.add_argument("--workspace-name", default=None,
                        help="main repository directory in the runfiles (default: guessed)")
    layers.add_argument("--quiet", action="store_true", help="do not print the summary table")
    _common(layers)

    one = sub.add_parser("layer", help="(Bazel action) write the tar of one group")
    one.add_argument("--manifest", required=True, metavar="FILE")
    one.add_argument("--only", required=True, metavar="GROUP", help="the group to write")
    one.add_argument("--output", required=True, metavar="FILE")
    one.add_argument("--unused-inputs-list", metavar="FILE", default=None,
                     help="write the exec paths of inputs this group does not use")
    _common(one)

    show = sub.add_parser("show", help="print entries, bytes and digests of layer files",
                          description="Summarise layer tars (.tar, .tar.gz, .tar.zst).")
    show.add_argument("files", nargs="+", metavar="LAYER")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")

    sub.add_parser("migrate", help="rewrite BUILD files from rules_docker to rules_oci "
                                   "(see `pycross-image migrate --help`)", add_help=False)
    sub.add_parser("diff", help="compare two images' filesystems and configs "
                                "(see `pycross-image diff --help`)", add_help=False)
    return parser


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


def format_table(results: Sequence[LayerResult]) -> str:
    """A fixed-width table of layers: entries, content bytes, file size, digest."""
    rows = [("layer", "entries", "content", "file size", "file", "diff_id")]
    for r in results:
        rows.append((r.name, str(r.entries), _size(r.bytes), _size(r.size), r.file,
                     r.diff_id[:19]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.rjust(w) if i in (1, 2, 3) else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _run_layers(args: argparse.Namespace) -> int:
    groups = compile_groups(parse_group_spec(s) for s in args.group)
    root = normalise_root(args.root)
    if args.runfiles:
        workspace, _launcher, entries = read_runfiles_dir(args.runfiles, args.workspace_name)
    else:
        m = parse_manifest(args.manifest, args.execroot)
        workspace, entries = args.workspace_name or m.workspace, m.entries
    results = build_layers(entries, Classifier(groups, workspace), args.out, root,
                           TarPolicy(mtime=args.mtime), args.compress, args.level, args.threads)
    if not args.quiet:
        print(format_table(results))
    return 0


def _run_layer(args: argparse.Namespace) -> int:
    groups = compile_groups(parse_group_spec(s) for s in args.group)
    root = normalise_root(args.root)
    m = parse_manifest(args.manifest, args.execroot)
    classifier = Classifier(groups, m.workspace)
    if args.only not in classifier.order:
        raise LayerError(f"--only {args.only!r}: not a layer group (groups: "
                         f"{', '.join(classifier.order)})")
    mine = assign(m.entries, classifier)[args.only]
    write_layer(args.output, args.only, mine, root, TarPolicy(mtime=args.mtime), args.compress,
                args.level, args.threads)
    if args.unused_inputs_list:
        used = {e.input for e in mine}
        unused = [p for p in m.inputs() if p not in used]
        try:
            with atomic_output(args.unused_inputs_list) as f:
                f.write("".join(p + "\n" for p in unused).encode("utf-8"))
        except OSError as e:
            raise LayerError(f"--unused-inputs-list: cannot write: {e.strerror}") from None
    return 0


def _run_show(args: argparse.Namespace) -> int:
    results = [describe(p, layer_name(p)) for p in args.files]
    if args.json:
        print(json.dumps({"layers": [asdict(r) for r in results]}, indent=2, sort_keys=True))
    else:
        print(format_table(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "diff":
        from imagediff.cli import main as diff_main  # lazy: the core stays stdlib-only

        return diff_main(argv[1:])
    if argv and argv[0] == "migrate":
        from migrate.cli import main as migrate_main  # only the migrator needs libcst

        return migrate_main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        if args.command == "layers":
            return _run_layers(args)
        if args.command == "show":
            return _run_show(args)
        return _run_layer(args)
    except LayerError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
