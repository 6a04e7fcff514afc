"""Hostile trees never stop the run: each bad file is reported, every other file migrates.

A monorepo checkout can hold anything under a name Bazel reads: a FIFO or a
socket left by a tool, a BUILD linked to a device, a generated file of tens of
megabytes, a file with a NUL byte, a file nested deeply enough to crash
libcst's native parser (a stack overflow, SIGSEGV) or to make it run for
minutes. The run is driven in a subprocess (with a timeout) wherever a bug
would hang or kill the test process itself.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from migrate import isolate, refs
from migrate.source import SourceError, read_regular

REPO = Path(__file__).resolve().parents[2]
LOAD = 'load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")\n'


def image(name: str, extra: str = "") -> str:
    return LOAD + f'\npy3_image(\n    name = "{name}",\n    srcs = ["{name}.py"],\n{extra})\n'


STACK = 8 << 20  # Linux's default stack limit, on which the SIGSEGV depth below was measured


def _crash_limits() -> None:
    """In the migrate process: the stack limit the crash test's depth is measured
    on, whatever `ulimit -s` the run has (unlimited would not crash), and core
    dumps allowed, as a user's `ulimit -c unlimited` does: workers must still
    leave no core file."""
    _, stack_hard = resource.getrlimit(resource.RLIMIT_STACK)
    if stack_hard != resource.RLIM_INFINITY and stack_hard < STACK:
        raise RuntimeError(f"the stack hard limit {stack_hard} is below {STACK}")
    resource.setrlimit(resource.RLIMIT_STACK, (STACK, stack_hard))
    _, core_hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (core_hard, core_hard))


def migrate(root: Path, *args: str, timeout: float = 120,
            crash_limits: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "migrate", str(root), *args], cwd=root,
                          env=env, capture_output=True, text=True, timeout=timeout,
                          check=False, preexec_fn=_crash_limits if crash_limits else None)


def assert_good_migrated(ws, proc) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "py_image(" in ws.read("good/BUILD"), proc.stdout + proc.stderr
    assert "migrated good/BUILD:3 good (py3_image)" in proc.stdout


def test_fifo_named_build_is_reported_not_read(ws):
    ws.write("good/BUILD", image("good"), dedent=False)
    (ws.root / "pipe").mkdir()
    os.mkfifo(ws.root / "pipe" / "BUILD")  # opening it for reading would block forever
    proc = migrate(ws.root, timeout=60)
    assert proc.returncode == 2
    assert "not migrated pipe/BUILD: a FIFO, not a regular file: not read" in proc.stdout
    assert_good_migrated(ws, proc)


def test_build_linked_to_dev_zero_is_reported_not_read(ws):
    ws.write("good/BUILD", image("good"), dedent=False)
    (ws.root / "zero").mkdir()
    (ws.root / "zero" / "BUILD").symlink_to("/dev/zero")  # endless bytes
    (ws.root / "zero" / "defs.bzl").symlink_to("/dev/null")
    proc = migrate(ws.root, timeout=60)
    assert proc.returncode == 2
    assert ("not migrated zero/BUILD: a symbolic link to a character device, "
            "not a regular file: not read") in proc.stdout
    assert "not migrated zero/defs.bzl: a symbolic link to a character device" in proc.stdout
    assert_good_migrated(ws, proc)


def test_socket_and_fifo_outside_the_selection_only_noted(ws, tmp_path):
    import socket

    ws.write("good/BUILD", image("good"), dedent=False)
    (ws.root / "other").mkdir()
    os.mkfifo(ws.root / "other" / "BUILD.bazel")
    # the reference scan reads every Starlark file of the workspace, selected or not
    proc = migrate(ws.root / "good", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "note other/BUILD.bazel: not scanned for references: a FIFO" in proc.stdout
    with socket.socket(socket.AF_UNIX) as sock:
        path = ws.root / "sock" / "BUILD"
        path.parent.mkdir()
        sock.bind(str(path))
        with pytest.raises(SourceError, match="a socket, not a regular file"):
            read_regular(path)


def test_deeply_nested_file_crashing_the_native_parser_is_reported(ws):
    # 5,000 nested lists overflow the stack of libcst's native parser: SIGSEGV
    depth = 5000
    deep = ws.write("deep/BUILD", image("deep", f"    data = {'[' * depth}{']' * depth},\n"),
                    dedent=False)
    before = deep.read_bytes()
    ws.write("good/BUILD", image("good"), dedent=False)
    ws.write("later/BUILD", image("later"), dedent=False)
    proc = migrate(ws.root, "--jobs", "1", crash_limits=True)
    assert proc.returncode == 2
    assert ("not migrated deep/BUILD: the parser process crashed (killed by SIGSEGV); "
            "file left as it was") in proc.stdout
    assert deep.read_bytes() == before
    assert not [p for p in ws.root.rglob("core*")], "the crashed worker dumped a core"
    assert_good_migrated(ws, proc)
    assert "py_image(" in ws.read("later/BUILD")  # the file after it in the same worker
    assert "2 targets migrated" in proc.stdout


def test_recursion_error_is_reported(ws):
    # 3,000 unary minus signs parse, but printing the tree back recurses too deep
    ws.write("rec/BUILD", image("rec", f"    args = [{'-' * 3000}1],\n"), dedent=False)
    ws.write("good/BUILD", image("good"), dedent=False)
    proc = migrate(ws.root)
    assert proc.returncode == 2
    assert "not migrated rec/BUILD: too deeply nested to parse (RecursionError)" in proc.stdout
    assert_good_migrated(ws, proc)


def test_50_mb_file_is_over_the_size_cap(ws):
    big = ws.root / "gen" / "BUILD"
    big.parent.mkdir()
    line = b'# generated: "//third_party/pkg:target.tar"\n'
    with big.open("wb") as handle:
        handle.write(image("big").encode())
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            handle.write(line)
    assert big.stat().st_size > 50 * 1024 * 1024
    ws.write("good/BUILD", image("good"), dedent=False)
    start = time.monotonic()
    proc = migrate(ws.root, timeout=60)
    assert time.monotonic() - start < 60
    assert proc.returncode == 2
    assert "not migrated gen/BUILD: " in proc.stdout
    assert "bytes, over the size cap of 10 MiB: not read (--max-file-size to raise it)" \
        in proc.stdout
    assert_good_migrated(ws, proc)


def test_size_cap_flag(ws, run):
    ws.write("good/BUILD", image("good"), dedent=False)
    padded = ws.write("pad/BUILD", image("pad") + "# pad\n" * 400, dedent=False)
    assert 2048 < padded.stat().st_size < 4096
    result = run(str(ws.root), "--max-file-size", "2K", "--check")
    assert result.code == 2
    assert "not migrated pad/BUILD: " in result.out
    assert "over the size cap of 2 KiB" in result.out
    result = run(str(ws.root), "--max-file-size", "4k", "--check")
    assert result.code == 1, result.out
    for bad in ("0", "ten", "-1M"):
        result = run(str(ws.root), "--max-file-size", bad)
        assert result.code == 2
        assert "argument --max-file-size:" in result.err
        assert "Traceback" not in result.err


def test_nul_byte_anywhere_marks_a_file_binary(ws, run):
    # far past the first 8 KiB, where the old check stopped looking
    data = image("bin").encode() + b"x = 1\n" * 4000 + b"\x00\n"
    path = ws.write_bytes("bin/BUILD", data)
    ws.write("good/BUILD", image("good"), dedent=False)
    result = run(str(ws.root))
    assert result.code == 2
    assert "not migrated bin/BUILD: binary file (a NUL byte at line 4007)" in result.out
    assert path.read_bytes() == data
    assert "py_image(" in ws.read("good/BUILD")


def test_reference_scan_is_linear():
    # 100,000 references in one 3.5 MB file: counting lines from the start of the
    # file for each match (the old scan) took minutes; one pass takes a second.
    data = b"".join(b'    ":img%d.tar",\n' % i for i in range(100_000))
    data += b'BASE = "@python_base//image"\n' * 100_000
    start = time.monotonic()
    found = refs.scan("a/BUILD", data)
    elapsed = time.monotonic() - start
    assert len(found.refs) == 100_000
    assert found.refs[-1][3] == 100_000  # line numbers stay right
    assert found.refs[12_345][:4] == ("a", "img12345", ":img12345.tar", 12_346)
    assert found.repo_uses[-1] == ("python_base", 200_000)
    assert elapsed < 30, f"reference scan took {elapsed:.1f} s"


@pytest.mark.parametrize("value", ["0", "-3", "two", "1.5"])
def test_jobs_is_validated(ws, run, value):
    ws.write("good/BUILD", image("good"), dedent=False)
    result = run(str(ws.root), "--jobs", value)
    assert result.code == 2
    assert "argument -j/--jobs:" in result.err
    assert "usage:" in result.err
    assert "Traceback" not in result.err
    assert "py3_image(" in ws.read("good/BUILD")  # nothing ran


def test_target_of_an_unwritable_file_is_not_counted_as_migrated(ws, run, monkeypatch):
    # Tests run as root, which file modes cannot stop: the rename of one file
    # fails the way it does on a read-only mount, the other file is written.
    ws.write("good/BUILD", image("good"), dedent=False)
    stuck = ws.write("stuck/BUILD", image("stuck"), dedent=False)
    real_replace = os.replace

    def replace(src, dst):
        if Path(dst) == stuck:
            raise OSError(30, "Read-only file system")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    result = run(str(ws.root))
    assert result.code == 2
    assert "1 targets migrated, 1 files changed, 1 targets left" in result.out
    assert "migrated good/BUILD:3 good" in result.out
    assert "  migrated stuck/BUILD" not in result.out
    assert "left stuck/BUILD:3 stuck (py3_image): not migrated: its file could not be written" \
        in result.out
    assert "not migrated stuck/BUILD: cannot replace stuck/BUILD: Read-only file system" \
        in result.out.replace(str(ws.root) + "/", "")
    assert stuck.read_text() == image("stuck")
    assert sorted(p.name for p in stuck.parent.iterdir()) == ["BUILD"]


# -- worker isolation, on its own ------------------------------------------------------------

def _work(item: str) -> str:
    if item == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == "recursion":
        raise RecursionError("maximum recursion depth exceeded")
    if item == "memory":
        raise MemoryError()
    if item == "hang":
        time.sleep(600)
    if item == "exit":
        os._exit(3)
    return item.upper()


def _core_limit(item: str) -> tuple[int, int]:
    return resource.getrlimit(resource.RLIMIT_CORE)


def test_workers_dump_no_core():
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    try:
        assert isolate.run_isolated(_core_limit, ["x"], 1) == [(0, 0)]
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


@pytest.mark.parametrize("workers", [1, 2])
def test_isolation_reports_each_failure_and_finishes_the_rest(workers):
    items = ["a", "segv", "b", "recursion", "c", "memory", "hang", "d", "exit", "e"]
    start = time.monotonic()
    out = isolate.run_isolated(_work, items, workers, timeout=2)
    assert time.monotonic() - start < 60
    assert [o for o in out if isinstance(o, str)] == ["A", "B", "C", "D", "E"]
    reasons = {items[i]: o.reason for i, o in enumerate(out) if isinstance(o, isolate.Failed)}
    assert reasons == {
        "segv": "the parser process crashed (killed by SIGSEGV); file left as it was",
        "recursion": "too deeply nested to parse (RecursionError)",
        "memory": "out of memory while parsing (MemoryError)",
        "hang": "parsing took longer than 2 s; file left as it was",
        "exit": "the parser process crashed (exited with status 3); file left as it was",
    }


def test_slow_file_times_out_and_the_rest_migrates(ws):
    # libcst's parser is quadratic in a long chain of `+`: 20,000 terms take minutes
    chain = " + ".join(f"X{i}" for i in range(20_000))
    slow = ws.write("slow/BUILD", image("slow", f"    deps = {chain},\n"), dedent=False)
    ws.write("good/BUILD", image("good"), dedent=False)
    proc = migrate(ws.root, "--timeout", "3", "--jobs", "1")
    assert proc.returncode == 2
    assert "not migrated slow/BUILD: parsing took longer than 3 s; file left as it was" \
        in proc.stdout
    assert slow.read_text().startswith(LOAD)
    assert_good_migrated(ws, proc)


# -- SIGINT / SIGTERM while files are written ---------------------------------------------

DRIVER = '''
import sys, time
from migrate import write
from migrate.cli import main

phase, nth = sys.argv[1], int(sys.argv[2])
real = getattr(write, phase)
calls = 0

def slow(*args):
    global calls
    calls += 1
    if calls == nth:
        sys.stderr.write("READY\\n")
        sys.stderr.flush()
    time.sleep(0.05)
    return real(*args)

setattr(write, phase, slow)
sys.exit(main(sys.argv[3:]))
'''


def _tree(ws, count: int) -> dict[Path, str]:
    files = {}
    for i in range(count):
        files[ws.write(f"p{i:02d}/BUILD", image(f"img{i}"), dedent=False)] = image(f"img{i}")
    return files


def _check_whole(ws, files: dict[Path, str]) -> tuple[int, int]:
    old = new = 0
    for path, before in files.items():
        text = path.read_text()
        if text == before:
            old += 1
        else:
            assert 'name = "img' in text and "py_image(" in text and "py3_image" not in text
            new += 1
    leftovers = [p for p in ws.root.rglob("*") if p.name.endswith(".migrate")]
    assert leftovers == []
    return old, new


@pytest.mark.parametrize(("phase", "signum", "code"), [
    ("prepare", signal.SIGINT, 130),
    ("prepare", signal.SIGTERM, 143),
    ("commit", signal.SIGINT, 130),
    ("commit", signal.SIGTERM, 143),
])
def test_signal_during_writes_leaves_whole_files_and_no_temp_file(ws, tmp_path, phase,
                                                                     signum, code):
    files = _tree(ws, 30)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, str(driver), phase, "10", str(ws.root), "--jobs",
                             "1"], cwd=ws.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert proc.stderr.readline() == "READY\n"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert "Traceback" not in err
    assert f"migrate: interrupted ({signal.Signals(signum).name})" in err
    old, new = _check_whole(ws, files)
    if phase == "prepare":  # nothing is renamed before every temporary file is complete
        assert (old, new) == (30, 0)
        assert "no file was changed" in err
    else:  # stopped between two renames: some files new, the others old
        assert 0 < new < 30 and old + new == 30
        assert f"{new} of 30 files written, the others left as they were" in err


STARTER = """
import runpy, sys
sys.stderr.write("UP\\n")
sys.stderr.flush()
sys.argv = ["migrate", *sys.argv[1:]]
runpy.run_module("migrate", run_name="__main__")
"""


IN_SET_NAME = """
import os, signal, sys, time
from migrate.command import _stop_early
signal.signal(signal.SIGINT, _stop_early)

class Interrupted:
    def __set_name__(self, owner, name):  # where libcst's dataclasses were caught
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)

class Node:
    field = Interrupted()

print("not stopped")
"""


def test_a_signal_while_loading_ends_at_once_without_a_traceback(tmp_path):
    """A Ctrl-C while the modules load (here: inside a class's ``__set_name__``,
    where Python would wrap a SystemExit in a RuntimeError) exits 130, silently."""
    proc = subprocess.run([sys.executable, "-c", IN_SET_NAME], env=dict(
        os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (130, "", "")


def test_signal_at_any_moment_leaves_whole_files(ws, tmp_path):
    # From the moment the interpreter is up (before that no Python code runs at all,
    # and a loaded machine can take a second to get there) to after the run.
    files = _tree(ws, 30)
    starter = tmp_path / "starter.py"
    starter.write_text(STARTER)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    for delay in (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3, 1.7, 2.5):
        proc = subprocess.Popen([sys.executable, str(starter), str(ws.root)], cwd=ws.root,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        assert proc.stderr is not None
        assert proc.stderr.readline() == "UP\n"
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode in (0, 130), out + err  # 0: it had finished already
        assert "Traceback" not in err, err
        _check_whole(ws, files)
        for path, before in files.items():
            path.write_text(before)


ORPHAN_PARENT = """
import os, sys, time
from migrate import isolate

def note(item):
    with open(os.path.join(sys.argv[1], str(os.getpid())), "w"):
        pass
    time.sleep(0.3)
    return item

isolate.run_isolated(note, list(range(400)), 2)
"""


def test_workers_end_when_their_parent_dies_without_stopping_them(tmp_path):
    """A parent killed outright (SIGKILL: no clean-up runs) must not leave its
    workers waiting forever on their pipes, holding the parent's stdout."""
    pids_dir = tmp_path / "pids"
    pids_dir.mkdir()
    script = tmp_path / "parent.py"
    script.write_text(ORPHAN_PARENT)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    parent = subprocess.Popen([sys.executable, str(script), str(pids_dir)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(list(pids_dir.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = {int(p.name) for p in pids_dir.iterdir()}
    assert len(workers) == 2
    parent.kill()
    parent.wait()
    # the workers finish the item in hand, then see end-of-file and exit
    deadline = time.monotonic() + 30
    alive = set(workers)
    try:
        while alive and time.monotonic() < deadline:
            alive = {p for p in alive if Path(f"/proc/{p}").exists()
                     and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"}
            time.sleep(0.1)
    finally:
        for pid in alive:  # never leave them behind, even when the test fails
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert not alive
    parent.communicate(timeout=30)  # nothing holds the parent's pipes any more


def test_pycross_image_migrate_is_run_as_a_command(monkeypatch):
    """``pycross-image migrate`` gets the same signal handling as ``python -m migrate``."""
    import pycross_image_cli
    from migrate import command

    seen = []
    monkeypatch.setattr(command, "run_command", lambda argv: seen.append(argv) or 7)
    assert pycross_image_cli.main(["migrate", "--check", "//..."]) == 7
    assert seen == [["--check", "//..."]]
