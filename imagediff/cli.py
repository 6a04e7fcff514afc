"""``pycross-image diff A B`` / ``python -m imagediff A B``.

Exit codes: 0 the images are the same, 1 they differ, 2 bad input (one line on
stderr naming the file and what is wrong).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from imagediff import compare, render
from imagediff.errors import BadInput
from imagediff.merge import read_image

EXIT_SAME, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2
PROG = "pycross-image diff"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Compare two container images: merged filesystems (content, mode, owner, "
        "symlink target, type) and configs (entrypoint, cmd, env, working dir, user, ports, "
        "volumes, labels, platform). Each image is a docker-archive tar file or an OCI image "
        "layout directory (PATH:TAG picks a tag of its index.json).",
        epilog="Exit codes: 0 same, 1 different, 2 bad input.",
    )
    parser.add_argument("image_a", metavar="IMAGE_A")
    parser.add_argument("image_b", metavar="IMAGE_B")
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")
    parser.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                        help="path prefix of image A that is NEW in image B (repeatable); also "
                        "applied to A's absolute symlink targets, working dir and absolute "
                        "entrypoint/cmd arguments")
    parser.add_argument("--ignore", action="append", default=[], metavar="REGEX",
                        help="drop differences whose path or config key (env:NAME, "
                        "labels:NAME, entrypoint, ...) matches (re.search; repeatable)")
    parser.add_argument("--platform", default=None, metavar="OS/ARCH",
                        help="image of a multi-platform OCI index (default: this machine's)")
    return parser


def diff_images(ref_a: str, ref_b: str, mapping: compare.PathMap = (),
                ignores: Sequence[str] = (), platform: str | None = None,
                ) -> list[compare.Difference]:
    """The differences between two images. Raises :class:`BadInput`, ValueError (options)."""
    patterns = compare.compile_ignores(ignores)
    image_a = read_image(ref_a, platform)
    image_b = read_image(ref_b, platform)
    configs = compare.compare_configs(image_a.config, image_b.config, mapping)
    files = compare.compare_files(compare.map_files(image_a.files, mapping), image_b.files)
    return compare.drop_ignored(configs + files, patterns)


def run(args: argparse.Namespace, stdout: TextIO) -> int:
    diffs = diff_images(args.image_a, args.image_b, compare.parse_map(args.map),
                        args.ignore, args.platform)
    if args.json:
        stdout.write(render.to_json(diffs, args.image_a, args.image_b))
    else:
        stdout.write(render.table(diffs, args.image_a, args.image_b))
    return EXIT_DIFFERENT if diffs else EXIT_SAME


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for usage errors
        return int(exc.code or 0)
    try:
        compare.parse_map(args.map)
        compare.compile_ignores(args.ignore)
    except ValueError as exc:
        print(f"{PROG}: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    try:
        return run(args, stdout)
    except BadInput as exc:
        print(f"{PROG}: {exc}", file=stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback for the user
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=stderr)
        return EXIT_BAD_INPUT
