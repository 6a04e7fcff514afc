"""The image launcher of a py_image: the binary's launcher, fit to run as
``[interpreter, launcher]`` in an image that may have no shell.

Two kinds of executable come in:

* A Python launcher (Bazel's native ``py_binary`` stub, rules_python's
  ``--bootstrap_impl=system_python`` bootstrap): its ``#!`` line (the
  runtime's ``stub_shebang``) is replaced by ``#!<interpreter>``, every
  occurrence, as ``ctx.actions.expand_template`` did before this module
  existed, so these images keep their bytes.
* rules_python's ``--bootstrap_impl=script`` stage-1 launcher
  (``python/private/stage1_bootstrap_template.sh``: ``#!/bin/bash`` up to
  rules_python 1.5, ``#!/usr/bin/env bash`` from 1.6 and in 2.x). It is a
  bash script: ``python3 launcher`` is a SyntaxError and a distroless base has
  no bash. It is replaced by a small Python program that does what stage 1
  does for a runfiles tree (not a zip): find the runfiles root (as
  ``find_runfiles_root`` does since rules_python 1.7.0: ``RUNFILES_DIR``, else
  the root ``RUNFILES_MANIFEST_FILE`` names, only when it holds
  ``STAGE2_BOOTSTRAP``; else searched from ``argv[0]``), take the
  interpreter stage 1 names (``PYTHON_BINARY``: the venv's ``bin/python3``,
  runfiles-relative, or an absolute path or a command name), set
  ``RUNFILES_DIR`` and ``PYTHONSAFEPATH=1`` (unless set), and exec
  ``<python> <interpreter args> <runfiles>/<STAGE2_BOOTSTRAP> <args>``. The
  values come from the lines rules_python substituted into the script, so the
  program follows whatever rules_python version wrote it.

A stage 1 that zips (``--build_python_zip``) or recreates its venv at run time
(``venvs_use_declare_symlink=no``, a runtime with
``supports_build_time_venv = False``) is refused with one line: the image has
no build-time venv to run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from .errors import LayerError

BASH_SHEBANGS = (b"#!/bin/bash", b"#!/usr/bin/env bash")

_ASSIGN = re.compile(r"""^([A-Z][A-Z0-9_]*)=(?:"([^"]*)"|'([^']*)')\s*$""")
_ARGS_OPEN = "declare -a INTERPRETER_ARGS_FROM_TARGET=("
_ADDITIONAL = "RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS"


@dataclass(frozen=True)
class Stage1:
    """What a rules_python stage-1 script was built with (its substituted lines)."""

    stage2: str  # runfiles-root-relative path of the stage-2 bootstrap
    python: str  # runfiles-relative path, absolute path or command name
    interpreter_args: tuple[str, ...]  # INTERPRETER_ARGS_FROM_TARGET (1.3+)
    additional_args_env: bool  # honours RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS (1.3+)


def _first_line(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0].rstrip(b"\r").rstrip()


def parse_stage1(data: bytes, origin: str) -> Stage1 | None:
    """The stage-1 values when ``data`` is rules_python's script bootstrap, else None.

    It is one when its first line is a bash ``#!`` line and it assigns
    ``STAGE2_BOOTSTRAP``; then ``PYTHON_BINARY`` must be there too.
    """
    if _first_line(data) not in BASH_SHEBANGS:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    values: dict[str, str] = {}
    args: list[str] | None = None
    block: list[str] | None = None
    for line in text.split("\n"):
        if block is not None:
            if line.strip() == ")":
                try:
                    args = shlex.split("\n".join(block))
                except ValueError as e:
                    raise LayerError(f"{origin}: cannot read INTERPRETER_ARGS_FROM_TARGET "
                                     f"of the rules_python stage-1 launcher: {e}") from None
                block = None
            else:
                block.append(line)
            continue
        if line.strip() == _ARGS_OPEN and args is None:
            block = []
            continue
        m = _ASSIGN.match(line)
        if m and m.group(1) not in values:
            values[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    if "STAGE2_BOOTSTRAP" not in values:
        return None
    what = "the rules_python --bootstrap_impl=script launcher"
    if not values.get("PYTHON_BINARY"):
        raise LayerError(f"{origin}: {what} names no interpreter (PYTHON_BINARY); "
                         "rebuild it with a Python toolchain that has a runtime")
    if not values["STAGE2_BOOTSTRAP"]:
        raise LayerError(f"{origin}: {what} names no stage-2 bootstrap (STAGE2_BOOTSTRAP)")
    if values.get("IS_ZIPFILE") == "1":
        raise LayerError(f"{origin}: {what} is a zip (--build_python_zip); py_image lays out "
                         "the runfiles tree: build without --build_python_zip")
    if values.get("RECREATE_VENV_AT_RUNTIME") == "1":
        raise LayerError(f"{origin}: {what} recreates its venv at run time "
                         "(venvs_use_declare_symlink=no, or a runtime with "
                         "supports_build_time_venv = False); py_image needs the build-time "
                         "venv: use --@rules_python//python/config_settings:"
                         "venvs_use_declare_symlink=yes and a runtime that supports it")
    return Stage1(
        stage2=values["STAGE2_BOOTSTRAP"],
        python=values["PYTHON_BINARY"],
        interpreter_args=tuple(args or ()),
        additional_args_env=_ADDITIONAL in text,
    )


# The program that replaces a stage-1 script. Values are Python literals (repr),
# so the bytes depend on the stage-1 values and the interpreter only.
_PROGRAM = '''\
{shebang}
# Written by pycross_image's py_image for a rules_python --bootstrap_impl=script
# binary: its stage-1 launcher is a bash script and the image may have no bash.
# This does what stage 1 does for a runfiles tree, then runs stage 2.
import os
import sys

STAGE2_BOOTSTRAP = {stage2!r}
PYTHON_BINARY = {python!r}
INTERPRETER_ARGS_FROM_TARGET = {args!r}
ADDITIONAL_ARGS_ENV = {additional!r}


def fail(message):
    sys.stderr.write("ERROR: " + message + "\\n")
    sys.exit(1)


def runfiles_root(stub):
    maybe_root = os.environ.get("RUNFILES_DIR", "")
    manifest = os.environ.get("RUNFILES_MANIFEST_FILE", "")
    if not maybe_root:
        for suffix in (".runfiles_manifest", ".runfiles/MANIFEST"):
            if manifest.endswith(suffix):
                maybe_root = manifest[:-len(suffix)] + ".runfiles"
                break
    # An outer binary's variables name its own runfiles, not ours: trusted only
    # when they hold our stage 2.
    if maybe_root and os.path.exists(os.path.join(maybe_root, STAGE2_BOOTSTRAP)):
        return maybe_root
    path = os.path.join(os.getcwd(), stub)
    while True:
        if os.path.isdir(path + ".runfiles"):
            return path + ".runfiles"
        if ".runfiles/" in path:
            return path[:path.rindex(".runfiles/")] + ".runfiles"
        if not os.path.islink(path):
            fail("Unable to find runfiles directory for " + stub)
        path = os.path.join(os.path.dirname(path), os.readlink(path))


def main():
    root = runfiles_root(sys.argv[0])
    python = PYTHON_BINARY
    if not python.startswith("/") and "/" in python:
        python = os.path.join(root, python)
    if "/" in python and not os.access(python, os.X_OK):
        if not os.path.exists(python):
            fail("Python interpreter not found: " + python)
        fail("Python interpreter not executable: " + python)
    if "PYTHONSAFEPATH" not in os.environ:
        os.environ["PYTHONSAFEPATH"] = "1"
    args = []
    if ADDITIONAL_ARGS_ENV and os.environ.get("RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS"):
        args = os.environ.pop("RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS").split()
    os.environ["RUNFILES_DIR"] = root
    argv = [python, *args, *INTERPRETER_ARGS_FROM_TARGET,
            os.path.join(root, STAGE2_BOOTSTRAP), *sys.argv[1:]]
    if os.environ.get("RULES_PYTHON_BOOTSTRAP_VERBOSE"):
        sys.stderr.write("exec " + " ".join(argv) + "\\n")
    sys.stdout.flush()
    os.execvp(python, argv)


main()
'''


def render(stage1: Stage1, interpreter: str) -> bytes:
    """The Python program that replaces a stage-1 script, run by ``interpreter``."""
    return _PROGRAM.format(
        shebang="#!" + interpreter,
        stage2=stage1.stage2,
        python=stage1.python,
        args=list(stage1.interpreter_args),
        additional=stage1.additional_args_env,
    ).encode("utf-8")


def image_launcher(data: bytes, origin: str, interpreter: str, shebang: str | None) -> bytes:
    """The launcher the image gets for the executable ``data``.

    ``shebang``: the runtime's ``stub_shebang`` to replace by ``#!<interpreter>``
    in a Python launcher (every occurrence, as expand_template does); None keeps
    a Python launcher as it is.
    """
    if not interpreter.startswith("/") or "\n" in interpreter or "\0" in interpreter:
        raise LayerError(f"--interpreter {interpreter!r}: must be an absolute path in the image")
    stage1 = parse_stage1(data, origin)
    if stage1 is not None:
        return render(stage1, interpreter)
    if shebang:
        return data.replace(shebang.encode("utf-8"), b"#!" + interpreter.encode("utf-8"))
    return data
