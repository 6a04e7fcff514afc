"""The ``pycross-image`` command: dispatches to the layering core and the migrator.

``layers``, ``layer``, ``launcher`` and ``show`` run ``pycross_layers`` (standard library only);
``migrate`` runs the ``migrate`` package (needs libcst), ``diff`` the ``imagediff``
package (compares two images). The core never imports
this package or the migrator, so it stays a stand-alone Bazel action tool.
"""

from __future__ import annotations

import sys

PROG = "pycross-image"
_CORE = ("layers", "layer", "launcher", "show")
USAGE = f"""usage: {PROG} COMMAND ...

Layered, reproducible container images from Bazel py_binary runfiles, and a
rules_docker -> rules_oci migrator.

commands:
  layers    write one tar per layer and layers.json
  show      print entries, bytes and digests of layer files
  migrate   rewrite BUILD files from rules_docker to rules_oci
  diff      compare two images' filesystems and configs
  layer     (the Bazel action) write the tar of one group
  launcher  (the Bazel action) write the image launcher of a binary

`{PROG} COMMAND --help` describes a command.
"""


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else None
    if command in _CORE:
        from pycross_layers.cli import main as core_main

        return core_main(argv, prog=PROG)
    if command == "migrate":
        from migrate.command import run_command  # only the migrator needs libcst

        return run_command(argv[1:])
    if command == "diff":
        from imagediff.cli import main as diff_main

        return diff_main(argv[1:])
    if command in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    what = f"unknown command {command!r}" if command else "a command is required"
    print(USAGE + f"{PROG}: error: {what}", file=sys.stderr)
    return 2
