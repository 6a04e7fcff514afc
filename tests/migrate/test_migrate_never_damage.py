"""Bad input: a clear reason, exit 2, the file byte-identical, the run goes on."""

from __future__ import annotations

import os
import stat
import tempfile

import pytest

LOAD = 'load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")\n'
GOOD = LOAD + '\npy3_image(\n    name = "ok",\n    srcs = ["ok.py"],\n)\n'


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param(
            b'load("@io_bazel_rules_docker//python3:image.bzl", my = "py3_image",'
            b' "repositories")\n',
            "positional argument after a keyword",
            id="keyword-then-positional-load",
        ),
        pytest.param(
            LOAD.encode() + b'\npy3_image(\n    name = "x",\n    srcs = ["x.py"],\n)\n\n'
            b'genrule(\n    name = "g",\n    outs = ["g"],\n    cmd = "chmod 0755 $@",\n'
            b'    mode = 0755,\n)\n',
            "legacy octal",
            id="legacy-octal",
        ),
        pytest.param(
            LOAD.encode() + b'\npy3_image(\n    name = "caf\xe9",\n    srcs = ["x.py"],\n)\n',
            "not UTF-8: byte 0xe9 at line 4",
            id="latin-1",
        ),
        pytest.param(
            b"\x7fELF\x02\x01\x01\x00\x00\x00rules_docker\x00\x00",
            "binary file",
            id="binary-build",
        ),
        pytest.param(
            LOAD.encode() + b"\npy3_image(\n    name = \"x\",\n",
            "does not parse",
            id="truncated",
        ),
    ],
)
def test_unparseable_file_is_reported_and_left_byte_identical(ws, run, content, reason):
    bad = ws.write_bytes("bad/BUILD", content)
    ws.write("good/BUILD", GOOD, dedent=False)
    result = run(str(ws.root))
    assert result.code == 2
    assert bad.read_bytes() == content
    assert "not migrated bad/BUILD" in result.out
    assert reason in result.out
    assert "Traceback" not in result.out + result.err
    # the rest of the run still happened
    assert "py_image(" in ws.read("good/BUILD")


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        ('py3_image(\n    name = "x",\n    srcs = ["x.py"],\n    **common_kwargs\n)\n',
         "**common_kwargs is spread into the call"),
        ('py3_image(\n    name = "img_" + VARIANT,\n    srcs = ["x.py"],\n)\n',
         'computed name ("img_" + VARIANT)'),
        ('py3_image(\n    name = "%s_image" % VARIANT,\n    srcs = ["x.py"],\n)\n',
         "computed name"),
        ('[py3_image(\n    name = n,\n    srcs = ["x.py"],\n) for n in NAMES]\n',
         "inside a comprehension"),
        ('for n in NAMES:\n    py3_image(\n        name = n,\n        srcs = [n + ".py"],\n    )\n',
         "inside a loop"),
        ('IMAGE = py3_image(\n    name = "x",\n    srcs = ["x.py"],\n)\n',
         "part of an expression"),
        ('py3_image("x", srcs = ["x.py"])\n', "positional arguments"),
    ],
    ids=["kwargs", "concat-name", "format-name", "comprehension", "loop", "expression",
         "positional"],
)
def test_unsafe_calls_are_left_untouched_and_reported(ws, run, call, reason):
    content = LOAD + "\nNAMES = [\"a\"]\n\nVARIANT = \"v\"\n\n" + call + "\n" + \
        'py3_image(\n    name = "fine",\n    srcs = ["fine.py"],\n)\n'
    ws.write("a/BUILD", content, dedent=False)
    result = run(str(ws.root))
    assert result.code == 2, result
    text = ws.read("a/BUILD")
    assert call in text  # byte-identical
    assert LOAD in text  # still used, so still loaded
    assert 'name = "fine.binary"' in text
    assert reason in result.out


def test_crlf_stays_crlf(ws, run, buildifier):
    data = GOOD.replace("\n", "\r\n").encode()
    path = ws.write_bytes("a/BUILD", data)
    assert run(str(ws.root)).code == 0
    out = path.read_bytes()
    assert b"py_image(\r\n" in out
    assert out.count(b"\n") == out.count(b"\r\n")
    assert run(str(ws.root)).code == 3


def test_mixed_line_ends_are_preserved_outside_the_call(ws, run):
    data = (LOAD + "\n").encode() + b'# windows line\r\nx = 1\r\n\n' + GOOD[len(LOAD):].encode()
    path = ws.write_bytes("a/BUILD", data)
    assert run(str(ws.root)).code == 0
    assert b"# windows line\r\nx = 1\r\n" in path.read_bytes()


def test_file_mode_is_preserved(ws, run):
    path = ws.write("a/BUILD", GOOD, dedent=False)
    os.chmod(path, 0o754)
    assert run(str(ws.root)).code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o754


def test_symlinked_build_file_keeps_its_link(ws, run):
    target = ws.write("shared/image.BUILD", GOOD, dedent=False)
    link = ws.root / "a" / "BUILD"
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.relpath(target, link.parent))
    assert run(str(ws.root / "a")).code == 0
    assert link.is_symlink()
    assert "py_image(" in target.read_text()


def test_no_temporary_files_left(ws, run):
    ws.write("a/BUILD", GOOD, dedent=False)
    assert run(str(ws.root)).code == 0
    assert sorted(p.name for p in (ws.root / "a").iterdir()) == ["BUILD"]


def test_unwritable_directory_is_reported(ws, run, monkeypatch):
    # Tests run as root, which chmod cannot stop: the directory refuses the
    # temporary file the way a read-only directory does for everyone else.
    path = ws.write("a/BUILD", GOOD, dedent=False)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path.parent))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    result = run(str(ws.root))
    assert result.code == 2
    assert "Permission denied" in result.out
    assert path.read_text() == GOOD
    assert sorted(p.name for p in path.parent.iterdir()) == ["BUILD"]


def test_write_failure_leaves_the_file_whole(ws, run, monkeypatch):
    path = ws.write("a/BUILD", GOOD, dedent=False)

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    result = run(str(ws.root))
    assert result.code == 2
    assert "No space left on device" in result.out
    assert path.read_text() == GOOD
    assert sorted(p.name for p in path.parent.iterdir()) == ["BUILD"]


def test_missing_path_and_no_workspace(tmp_path, run):
    result = run(str(tmp_path / "nope"))
    assert result.code == 2
    assert "no such file or directory" in result.err
    (tmp_path / "BUILD").write_text(GOOD)
    result = run(str(tmp_path))
    assert result.code == 2
    assert "no WORKSPACE" in result.err
    assert "Traceback" not in result.err


def test_bad_label(ws, run):
    result = run("//does/not/exist:x", cwd=ws.root)
    assert result.code == 2
    assert "no package does/not/exist" in result.err


def test_usage_error_exit_code(run):
    assert run("--to", "nowhere", ".").code == 2
