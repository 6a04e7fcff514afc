"""Command line of the core: ``layers`` (users), ``layer`` (the Bazel action, one group
per run), ``launcher`` (the Bazel action writing the image launcher) and ``show``.
``python -m pycross_layers`` runs it; the ``pycross-image`` command
(``pycross_image_cli``) adds ``migrate`` on top.

Every failure is one line on stderr and exit code 2 (130 on SIGINT, 143 on
SIGTERM), never a traceback and never a half-written output."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict

from . import compress
from .classify import Classifier, compile_groups, parse_group_spec
from .errors import LayerError
from .launcher import image_launcher
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
from .tarball import TarPolicy, check_mtime

PROG = "pycross-image"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--group", action="append", default=[], metavar="NAME=REGEX",
                   help="a custom layer group, checked before the defaults in the order "
                        "given; REGEX is matched at the start of the runfiles-relative path "
                        "(and of that path without a bzlmod canonical prefix). NAME:deps "
                        "is a dependency group: the paths the manifest's member lines give")
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
                   help="directory that manifest exec paths are relative to (default: ., "
                        "the working directory of a Bazel action)")
    p.add_argument("--output-base", default=None, metavar="DIR",
                   help="Bazel's output base: absolute links into it are read through, "
                        "other absolute links kept as links (default: the outermost "
                        "ancestor of the runfiles directory or the execroot holding execroot/)")


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

    run = sub.add_parser("launcher", help="(Bazel action) write the image launcher of a binary",
                         description="The binary's launcher as the image runs it: a Python "
                                     "launcher with its #! line naming the in-image "
                                     "interpreter, or, for rules_python's "
                                     "--bootstrap_impl=script bash launcher, a Python program "
                                     "doing what it does.")
    run.add_argument("--executable", required=True, metavar="FILE", help="the binary's launcher")
    run.add_argument("--output", required=True, metavar="FILE")
    run.add_argument("--interpreter", required=True, metavar="PATH",
                     help="the in-image interpreter, an absolute path")
    run.add_argument("--shebang", default=None, metavar="LINE",
                     help="the runtime's stub_shebang, replaced by #!<interpreter> in a Python "
                          "launcher (default: keep the launcher as it is)")

    show = sub.add_parser("show", help="print entries, bytes and digests of layer files",
                          description="Summarise layer tars (.tar, .tar.gz, .tar.zst).")
    show.add_argument("files", nargs="+", metavar="LAYER")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
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
    members: dict[str, set[str]] = {}
    if args.runfiles:
        workspace, _launcher, entries = read_runfiles_dir(args.runfiles, args.workspace_name,
                                                          args.output_base)
    else:
        m = parse_manifest(args.manifest, args.execroot, args.output_base)
        workspace, entries, members = args.workspace_name or m.workspace, m.entries, m.members
    results = build_layers(entries, Classifier(groups, workspace, members), args.out, root,
                           TarPolicy(mtime=args.mtime), args.compress, args.level, args.threads)
    if not args.quiet:
        print(format_table(results))
    return 0


def _run_layer(args: argparse.Namespace) -> int:
    groups = compile_groups(parse_group_spec(s) for s in args.group)
    root = normalise_root(args.root)
    m = parse_manifest(args.manifest, args.execroot, args.output_base)
    classifier = Classifier(groups, m.workspace, m.members)
    if args.only not in classifier.order:
        raise LayerError(f"--only {args.only!r}: not a layer group (groups: "
                         f"{', '.join(classifier.order)})")
    mine = assign(m.entries, classifier)[args.only]
    # No digests: nothing reads them here (the image rules hash the layer file themselves).
    write_layer(args.output, args.only, mine, root, TarPolicy(mtime=args.mtime), args.compress,
                args.level, args.threads, digest=False)
    if args.unused_inputs_list:
        used = {e.input for e in mine}
        unused = [p for p in m.inputs() if p not in used]
        try:
            with atomic_output(args.unused_inputs_list) as f:
                f.write("".join(p + "\n" for p in unused).encode("utf-8"))
        except OSError as e:
            raise LayerError(f"--unused-inputs-list: cannot write: {e.strerror}") from None
    return 0


def _run_launcher(args: argparse.Namespace) -> int:
    try:
        with open(args.executable, "rb") as f:
            data = f.read()
    except OSError as e:
        raise LayerError(f"--executable {args.executable}: cannot read: {e.strerror}") from None
    out = image_launcher(data, args.executable, args.interpreter, args.shebang)
    with atomic_output(args.output, mode=0o755) as f:
        f.write(out)
    return 0


def _run_show(args: argparse.Namespace) -> int:
    from .inspect_layers import describe, layer_name  # tarfile and friends: only here

    results = [describe(p, layer_name(p)) for p in args.files]
    if args.json:
        print(json.dumps({"layers": [asdict(r) for r in results]}, indent=2, sort_keys=True))
    else:
        print(format_table(results))
    return 0


class Terminated(BaseException):
    """SIGTERM, raised on the main thread so cleanup (``finally``) runs."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _check_args(args: argparse.Namespace) -> None:
    """Refuses, before any work, what would otherwise fail half-way."""
    for key, value in sorted(vars(args).items()):
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, str) and "\0" in v:
                flag = "--" + key.replace("_", "-") if key != "files" else "LAYER"
                raise LayerError(f"{flag} {v!r}: a path or value must not contain a NUL "
                                 "character")
    if hasattr(args, "mtime"):
        check_mtime(args.mtime)


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    parser.prog = prog
    args = parser.parse_args(argv)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _check_args(args)
        if args.command == "layers":
            return _run_layers(args)
        if args.command == "show":
            return _run_show(args)
        if args.command == "launcher":
            return _run_launcher(args)
        return _run_layer(args)
    except LayerError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:  # a failure no check above foresaw: still one line
        where = f"{e.filename}: " if e.filename else ""
        print(f"{prog}: error: {where}{e.strerror or e}", file=sys.stderr)
        return LayerError.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; the output is unchanged", file=sys.stderr)
        return 130
    except Terminated:
        print(f"{prog}: terminated; the output is unchanged", file=sys.stderr)
        return 143
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
