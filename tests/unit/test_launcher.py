"""The image launcher (launcher.py): a Python launcher gets its #! line, and
rules_python's --bootstrap_impl=script bash launcher becomes a Python program
that starts the stage-2 bootstrap as the bash script does.

The stage-1 texts below have the shape rules_python substitutes into
python/private/stage1_bootstrap_template.sh (first line, variable lines,
INTERPRETER_ARGS_FROM_TARGET block), at 1.0.0 and at 2.3.2; the bash between
them is elided.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pycross_layers.errors import LayerError
from pycross_layers.launcher import image_launcher, parse_stage1

from .helpers import write

REPO = Path(__file__).resolve().parents[2]
INTERP = "/app/app.runfiles/python_3_11_x86_64-unknown-linux-gnu/bin/python3"

STAGE1_1_0_0 = """#!/bin/bash

set -e

# runfiles-relative path
STAGE2_BOOTSTRAP="_main/pkg/_app_stage2_bootstrap.py"

# runfiles-relative path
PYTHON_BINARY='_main/pkg/_app.venv/bin/python3'
PYTHON_BINARY_ACTUAL=""

# 0 or 1
IS_ZIPFILE="0"
# ... (finds the runfiles and the interpreter, then execs stage 2)
"""

STAGE1_2_3_2 = """#!/usr/bin/env bash

set -e

STAGE2_BOOTSTRAP="_main/pkg/_app_stage2_bootstrap.py"
PYTHON_BINARY='_main/pkg/_app.venv/bin/python3'
PYTHON_BINARY_ACTUAL="/usr/bin/python3"
IS_ZIPFILE="0"
RECREATE_VENV_AT_RUNTIME="0"
RESOLVE_PYTHON_BINARY_AT_RUNTIME="0"
VENV_REL_SITE_PACKAGES="lib/python3.11/site-packages"

declare -a INTERPRETER_ARGS_FROM_TARGET=(
-X
utf8
'-W' "ignore::DeprecationWarning"
)
# ... RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS ... exec "${command[@]}"
"""


def test_parses_rules_python_1_0_0():
    s = parse_stage1(STAGE1_1_0_0.encode(), "app")
    assert s is not None
    assert (s.stage2, s.python) == ("_main/pkg/_app_stage2_bootstrap.py",
                                    "_main/pkg/_app.venv/bin/python3")
    assert s.interpreter_args == ()
    assert s.additional_args_env is False


def test_parses_rules_python_2_3_2():
    s = parse_stage1(STAGE1_2_3_2.encode(), "app")
    assert s is not None
    assert s.interpreter_args == ("-X", "utf8", "-W", "ignore::DeprecationWarning")
    assert s.additional_args_env is True


@pytest.mark.parametrize("text", [
    "#!/usr/bin/env python3\nSTAGE2_BOOTSTRAP=\"x\"\n",  # not bash
    "#!/bin/bash\necho hello\n",  # bash, not rules_python's
    "#!/bin/bash\nSTAGE2_BOOTSTRAP=\"x\n",  # unterminated: no assignment
])
def test_other_launchers_are_not_stage1(text):
    assert parse_stage1(text.encode(), "app") is None


@pytest.mark.parametrize("change, words", [
    (('IS_ZIPFILE="0"', 'IS_ZIPFILE="1"'), "--build_python_zip"),
    (('RECREATE_VENV_AT_RUNTIME="0"', 'RECREATE_VENV_AT_RUNTIME="1"'),
     "venvs_use_declare_symlink"),
    (("PYTHON_BINARY='_main/pkg/_app.venv/bin/python3'", "PYTHON_BINARY=''"),
     "PYTHON_BINARY"),
    (("-X\n", "'-X\n"), "INTERPRETER_ARGS_FROM_TARGET"),
])
def test_stage1_it_cannot_run_is_refused(change, words):
    with pytest.raises(LayerError) as e:
        parse_stage1(STAGE1_2_3_2.replace(*change).encode(), "bazel-out/bin/pkg/app")
    assert words in str(e.value)
    assert str(e.value).startswith("bazel-out/bin/pkg/app: ")
    assert "\n" not in str(e.value)


def test_python_launcher_gets_its_shebang_as_before():
    stub = b"#!/usr/bin/env python3\n# x\nSHEBANG = '#!/usr/bin/env python3'\n"
    out = image_launcher(stub, "app", "/usr/bin/python3", "#!/usr/bin/env python3")
    assert out == b"#!/usr/bin/python3\n# x\nSHEBANG = '#!/usr/bin/python3'\n"
    assert image_launcher(stub, "app", "/usr/bin/python3", None) == stub


def test_stage1_becomes_python_and_is_deterministic():
    a = image_launcher(STAGE1_2_3_2.encode(), "app", INTERP, "#!/usr/bin/env python3")
    b = image_launcher(STAGE1_2_3_2.encode(), "other", INTERP, None)
    assert a == b
    assert a.startswith(f"#!{INTERP}\n".encode())
    compile(a, "app", "exec")
    assert b"bash" not in a.split(b"\n", 1)[0]


def _tree(tmp_path: Path, stage1: str) -> Path:
    """<tmp>/app (the image launcher) and app.runfiles with a venv python3 link
    to this interpreter and a stage 2 that prints what it was started with."""
    launcher = tmp_path / "app"
    launcher.write_bytes(image_launcher(stage1.encode(), "app", sys.executable, None))
    rf = tmp_path / "app.runfiles" / "_main" / "pkg"
    (rf / "_app.venv" / "bin").mkdir(parents=True)
    os.symlink(sys.executable, rf / "_app.venv" / "bin" / "python3")
    write(rf / "_app_stage2_bootstrap.py", (
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv, 'executable': sys.executable,\n"
        "  'runfiles': os.environ.get('RUNFILES_DIR'),\n"
        "  'safepath': os.environ.get('PYTHONSAFEPATH'), 'utf8': sys.flags.utf8_mode,\n"
        "  'dev': sys.flags.dev_mode,\n"
        "  'extra': os.environ.get('RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS')}))\n"))
    return launcher


def _run(launcher: Path, *args: str, cwd: Path | None = None, **env: str):
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("RUNFILES_", "PYTHON", "RULES_PYTHON_"))}
    environ.update(env)
    return subprocess.run([sys.executable, str(launcher), *args], env=environ, cwd=cwd,
                          capture_output=True, text=True)


def test_launcher_runs_stage2_as_stage1_would(tmp_path):
    launcher = _tree(tmp_path, STAGE1_2_3_2)
    proc = _run(launcher, "--flag", "x y")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    rf = str(tmp_path / "app.runfiles")
    assert got["argv"] == [f"{rf}/_main/pkg/_app_stage2_bootstrap.py", "--flag", "x y"]
    assert got["executable"] == f"{rf}/_main/pkg/_app.venv/bin/python3"
    assert (got["runfiles"], got["safepath"], got["utf8"]) == (rf, "1", 1)


def test_launcher_honours_the_callers_environment(tmp_path):
    launcher = _tree(tmp_path, STAGE1_2_3_2)
    other = tmp_path / "elsewhere.runfiles"
    os.symlink(tmp_path / "app.runfiles", other)
    proc = _run(launcher, RUNFILES_DIR=str(other), PYTHONSAFEPATH="",
                RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS="-X dev")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert (got["runfiles"], got["safepath"], got["dev"], got["extra"]) == (
        str(other), "", True, None)


@pytest.mark.parametrize("var, value", [
    ("RUNFILES_DIR", "outer.runfiles"),
    ("RUNFILES_MANIFEST_FILE", "outer.runfiles_manifest"),
    ("RUNFILES_MANIFEST_FILE", "outer.runfiles/MANIFEST"),
])
def test_launcher_ignores_an_outer_binarys_runfiles(tmp_path, var, value):
    # As stage 1's find_runfiles_root (rules_python 1.7.0+): the variables are used
    # only when their root holds this binary's stage 2, else the root is searched
    # from argv[0] (an outer binary runs this one, which is not its data).
    launcher = _tree(tmp_path, STAGE1_2_3_2)
    outer = tmp_path / "outer.runfiles" / "_main" / "pkg"
    outer.mkdir(parents=True)
    write(tmp_path / "outer.runfiles_manifest", "")
    write(outer.parent.parent / "MANIFEST", "")
    proc = _run(launcher, **{var: str(tmp_path / value)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["runfiles"] == str(tmp_path / "app.runfiles")
    # The same root is taken once it holds the stage 2.
    (outer / "_app.venv" / "bin").mkdir(parents=True)
    os.symlink(sys.executable, outer / "_app.venv" / "bin" / "python3")
    write(outer / "_app_stage2_bootstrap.py",
          "import os; print(repr(os.environ['RUNFILES_DIR']))\n")
    proc = _run(launcher, **{var: str(tmp_path / value)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == repr(str(tmp_path / "outer.runfiles"))


def test_launcher_of_1_0_0_ignores_additional_args_and_finds_runfiles_from_cwd(tmp_path):
    launcher = _tree(tmp_path, STAGE1_1_0_0)
    proc = _run(Path("app"), cwd=tmp_path, RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS="-X dev")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert (got["dev"], got["utf8"]) == (False, 0)
    assert got["extra"] == "-X dev"  # 1.0.0's stage 1 did not know the variable
    assert launcher.exists()


def test_launcher_without_its_interpreter_says_so(tmp_path):
    launcher = _tree(tmp_path, STAGE1_2_3_2)
    os.unlink(tmp_path / "app.runfiles" / "_main" / "pkg" / "_app.venv" / "bin" / "python3")
    proc = _run(launcher)
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("ERROR: Python interpreter not found: "
                                   f"{tmp_path}/app.runfiles/_main/pkg/_app.venv/bin/python3")


def _cli(*args: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONPATH=str(REPO / "bazel" / "rules"))
    return subprocess.run([sys.executable, "-m", "pycross_layers", "launcher", *args],
                          env=environ, capture_output=True, text=True)


def test_cli_writes_an_executable_launcher(tmp_path):
    exe = write(tmp_path / "stage1", STAGE1_2_3_2)
    proc = _cli("--executable", str(exe), "--output", str(tmp_path / "out"),
                "--interpreter", INTERP, "--shebang", "#!/usr/bin/env python3")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "out").read_bytes().startswith(f"#!{INTERP}\n".encode())


def test_cli_refusal_is_one_line_and_writes_nothing(tmp_path):
    exe = write(tmp_path / "stage1", STAGE1_2_3_2.replace('IS_ZIPFILE="0"', 'IS_ZIPFILE="1"'))
    proc = _cli("--executable", str(exe), "--output", str(tmp_path / "out"),
                "--interpreter", INTERP)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "--build_python_zip" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage1"]
    proc = _cli("--executable", str(tmp_path / "missing"), "--output", str(tmp_path / "out"),
                "--interpreter", INTERP)
    assert (proc.returncode, proc.stderr) == (
        2, f"pycross-image: error: --executable {tmp_path}/missing: cannot read: "
           "No such file or directory\n")
    proc = _cli("--executable", str(exe), "--output", str(tmp_path / "out"),
                "--interpreter", "python3")
    assert (proc.returncode, proc.stderr) == (
        2, "pycross-image: error: --interpreter 'python3': must be an absolute path in the "
           "image\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stage1"]
