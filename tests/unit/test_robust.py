"""Issue 9 item 4: never a traceback, never a half-updated output directory.

Each bad case gives one line on stderr starting ``pycross-image: error:`` and
exit code 2; the output directory holds the previous complete set or nothing.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pycross_layers import cli, layers, plain_tar
from pycross_layers.classify import NAME_MAX

from .helpers import execroot_tree, manifest, write
from .test_cli import REPO, run, sample_runfiles


def one_line_error(capsys, argv) -> str:
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("pycross-image: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def previous_set(tmp_path) -> tuple[Path, Path]:
    """A runfiles tree and an output directory holding a complete set from a first run."""
    rf = sample_runfiles(tmp_path)
    out = tmp_path / "out"
    proc = run("layers", "--runfiles", str(rf), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return rf, out


def snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def no_temp_files(tmp_path: Path) -> None:
    left = [p for p in tmp_path.rglob("*") if p.name.startswith((".tmp-", ".pycross-"))]
    assert not left, left


@pytest.mark.parametrize("method", ["none", "gzip"])
@pytest.mark.parametrize(("code", "words"), [
    (errno.ENOSPC, "No space left on device; free space"),
    (errno.EFBIG, "File too large; the file system or a ulimit"),
    (errno.ENAMETOOLONG, "File name too long; choose a shorter output path"),
])
def test_write_errors_are_one_line_and_keep_the_previous_set(tmp_path, capsys, monkeypatch,
                                                             method, code, words):
    rf, out = previous_set(tmp_path)
    before = snapshot(out)

    def full(self, *args):
        raise OSError(code, os.strerror(code))

    if method == "none":  # written straight into the file, not through a stream
        monkeypatch.setattr(plain_tar._Writer, "pwrite", full)
        monkeypatch.setattr(plain_tar._Writer, "pwritev", full)
    else:
        monkeypatch.setattr(layers._CountingFile, "write", full)
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf), "--out", str(out),
                                  "--compress", method, "--quiet"])
    assert f"cannot write {out}/interpreter" in err and words in err
    assert snapshot(out) == before
    no_temp_files(tmp_path)


def test_failed_swap_is_one_line_and_keeps_the_previous_set(tmp_path, capsys, monkeypatch):
    rf, out = previous_set(tmp_path)
    before = snapshot(out)

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(layers, "write_json_atomically", no_space)
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf), "--out", str(out)])
    assert "No space left on device" in err
    assert snapshot(out) == before
    no_temp_files(tmp_path)


def test_real_name_too_long(tmp_path, capsys):
    rf = sample_runfiles(tmp_path)
    out = tmp_path / ("x" * 300)
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf), "--out", str(out)])
    assert "File name too long" in err


def test_nul_in_a_command_line_path(tmp_path, capsys):
    rf = sample_runfiles(tmp_path)
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf) + "\0x", "--out",
                                  str(tmp_path / "o")])
    assert "--runfiles" in err and "NUL character" in err
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf), "--out",
                                  str(tmp_path / "o\0")])
    assert "--out" in err and "NUL" in err
    assert not (tmp_path / "o").exists()


def test_nul_in_a_manifest_line(tmp_path, capsys):
    root = execroot_tree(tmp_path / "execroot")
    m = manifest(tmp_path / "m.txt", ["file\tpkg/main.py\0\tpkg/main.py"])
    err = one_line_error(capsys, ["layers", "--manifest", str(m), "--execroot", str(root),
                                  "--out", str(tmp_path / "o")])
    assert "m.txt:3: a manifest line must not contain a NUL character" in err


@pytest.mark.parametrize("mtime", ["-1", str(8**11), str(10**20)])
def test_mtime_a_tar_header_cannot_hold(tmp_path, capsys, mtime):
    rf = sample_runfiles(tmp_path)
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf), "--out",
                                  str(tmp_path / "o"), "--mtime", mtime])
    assert f"--mtime {mtime}: must be 0..{8**11 - 1}" in err
    assert not (tmp_path / "o").exists()


def test_largest_mtime_is_written(tmp_path):
    rf = sample_runfiles(tmp_path)
    proc = run("layers", "--runfiles", str(rf), "--out", str(tmp_path / "o"), "--quiet",
               "--compress", "none", "--mtime", str(8**11 - 1))
    assert proc.returncode == 0, proc.stderr
    import tarfile

    with tarfile.open(tmp_path / "o" / "app.tar") as t:
        assert {m.mtime for m in t.getmembers()} == {8**11 - 1}


@pytest.mark.parametrize(("lines", "words"), [
    (["file\tpkg/x\tpkg/main.py", "file\tpkg/x/y.py\tpkg/data.txt"],
     "m.txt:3 (pkg/x) makes it a file, but "),
    (["file\tpkg/main.py\tpkg/main.py", "link\tpkg/sub/l\tbazel-out/bin/pkg/l",
      "file\tpkg/sub/l/y.py\tpkg/data.txt"],
     "makes it a declared symlink, but"),
])
def test_file_dir_and_link_conflicts(tmp_path, capsys, lines, words):
    root = execroot_tree(tmp_path / "execroot")
    os.symlink("../main.py", root / "bazel-out" / "bin" / "pkg" / "l")
    m = manifest(tmp_path / "m.txt", lines)
    err = one_line_error(capsys, ["layers", "--manifest", str(m), "--execroot", str(root),
                                  "--out", str(tmp_path / "o"), "--workspace-name", "ws"])
    assert words in err and "below it" in err
    assert not (tmp_path / "o").exists()


def test_a_file_and_a_directory_at_one_path(tmp_path, capsys):
    root = execroot_tree(tmp_path / "execroot")
    m = manifest(tmp_path / "m.txt", ["file\tpkg/tree\tbazel-out/bin/pkg/tree",
                                      "file\tpkg/tree/sub\tpkg/data.txt"])
    err = one_line_error(capsys, ["layers", "--manifest", str(m), "--execroot", str(root),
                                  "--out", str(tmp_path / "o")])
    assert "two entries claim bin.runfiles/ws/pkg/tree/sub with different content" in err


def test_relative_link_below_a_directory_read_through_must_stay_inside_it(tmp_path, capsys):
    rf = sample_runfiles(tmp_path)
    cache = tmp_path / "cache" / "pkg"
    write(cache / "lib" / "a.py", "a")
    write(cache / "other.py", "secret")
    os.symlink("../other.py", cache / "lib" / "escape.py")  # fine on the host, not in the image
    os.symlink(cache / "lib", rf / "ws" / "app" / "lib")
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf), "--out",
                                  str(tmp_path / "o")])
    assert "escape.py (below ws/app/lib, read through an absolute link" in err
    assert "symlink escape.py -> ../other.py climbs out" in err
    os.unlink(cache / "lib" / "escape.py")
    os.symlink("a.py", cache / "lib" / "alias.py")  # inside: kept as a link
    assert cli.main(["layers", "--runfiles", str(rf), "--out", str(tmp_path / "o"),
                     "--quiet"]) == 0


def test_over_long_group_name_is_refused_before_any_work(tmp_path, capsys):
    name = "g" * (NAME_MAX + 1)
    err = one_line_error(capsys, ["layers", "--runfiles", str(tmp_path / "missing"), "--out",
                                  str(tmp_path / "o"), "--group", f"{name}=x/"])
    assert f"is {NAME_MAX + 1} characters long; at most {NAME_MAX}" in err
    assert cli.main(["layers", "--runfiles", str(sample_runfiles(tmp_path)), "--quiet",
                     "--out", str(tmp_path / "o"), "--group", f"{name[1:]}=x/"]) == 0


@pytest.mark.parametrize("regex", ["(a+)+$", "(?:pip_deps_[a-z]*/)*", "(x|y+){2,}"])
def test_catastrophic_regex_is_refused(tmp_path, capsys, regex):
    err = one_line_error(capsys, ["layers", "--runfiles", str(tmp_path), "--out",
                                  str(tmp_path / "o"), "--group", f"g={regex}"])
    assert f"layer group 'g': regex {regex!r} is refused: nested quantifier" in err


def test_a_directory_with_foreign_files_is_not_replaced(tmp_path, capsys):
    rf = sample_runfiles(tmp_path)
    out = tmp_path / "o"
    write(out / "notes.txt", "mine")
    err = one_line_error(capsys, ["layers", "--runfiles", str(rf), "--out", str(out)])
    assert "holds files pycross-image did not write (notes.txt)" in err
    assert os.listdir(out) == ["notes.txt"]


def test_a_new_run_replaces_the_whole_set(tmp_path):
    rf, out = previous_set(tmp_path)
    proc = run("layers", "--runfiles", str(rf), "--out", str(out), "--quiet", "--compress",
               "none")
    assert proc.returncode == 0, proc.stderr
    names = sorted(os.listdir(out))
    assert names == ["app.tar", "interpreter.tar", "layers.json", "packages.tar"]
    no_temp_files(tmp_path)


def big_runfiles(tmp_path: Path) -> Path:
    """Enough bytes that an uncompressed run is still writing a second after it starts."""
    rf = sample_runfiles(tmp_path)
    blob = tmp_path / "execroot" / "ws" / "big.bin"
    with open(blob, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1 << 20))
    for i in range(12):
        os.symlink(blob, rf / "ws" / "app" / f"big{i}.bin")
    return rf


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_killed_mid_run_leaves_the_previous_complete_set(tmp_path, sig):
    rf = big_runfiles(tmp_path)
    out = tmp_path / "out"
    first = run("layers", "--runfiles", str(rf.parent / "small"), "--out", str(out))
    assert first.returncode == 2  # nothing yet: the first attempt fails cleanly
    assert not out.exists()
    small = sample_runfiles(tmp_path / "s")
    assert run("layers", "--runfiles", str(small), "--out", str(out),
               "--quiet").returncode == 0
    before = snapshot(out)
    env = dict(os.environ, PYTHONPATH=str(REPO / "bazel" / "rules"))
    proc = subprocess.Popen([sys.executable, "-m", "pycross_layers", "layers", "--runfiles",
                             str(rf), "--out", str(out), "--compress", "gzip", "--level", "1",
                             "--threads", "1", "--quiet"], env=env, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 20
    while not any(p.name.startswith(".pycross-staging-") and any(p.iterdir())
                  for p in tmp_path.iterdir()):  # mid-write: a layer is being staged
        assert proc.poll() is None and time.monotonic() < deadline, "finished too early"
        time.sleep(0.02)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130), err
    assert "Traceback" not in err and "the output is unchanged" in err
    assert snapshot(out) == before
    no_temp_files(tmp_path)


def test_concurrent_runs_never_mix_their_sets(tmp_path):
    rf = sample_runfiles(tmp_path)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO / "bazel" / "rules"))
    procs = [subprocess.Popen([sys.executable, "-m", "pycross_layers", "layers", "--runfiles",
                               str(rf), "--out", str(out), "--compress", method, "--quiet"],
                              env=env) for method in ("none", "gzip", "none", "gzip")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    report = json.loads((out / "layers.json").read_text())["layers"]
    assert sorted(os.listdir(out)) == sorted([r["file"] for r in report] + ["layers.json"])
    no_temp_files(tmp_path)
