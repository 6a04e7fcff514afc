"""The link rule (links.py), the same in directory and manifest mode.

An absolute link is read through only when it is Bazel's staging (its target
inside the output base, or the staged file where it lives in the workspace);
any other absolute link held by an output is a path in the image: rules_python's
venv ``bin/python3 -> /usr/bin/python3`` for an ``interpreter_path`` runtime
(rules_python python/private/py_executable.bzl) is kept as written.
"""

from __future__ import annotations

import os
import tarfile

import pytest

from pycross_layers import cli
from pycross_layers.entries import FILE, SYMLINK
from pycross_layers.links import find_output_base
from pycross_layers.manifest import parse_manifest
from pycross_layers.rundir import read_runfiles_dir

from .helpers import manifest, write

VENV_PY = "pkg/_hello.venv/bin/python3"


def output_base(tmp_path):
    """<ob>/execroot/ws with a source, an external repo, a declared venv link, and
    a host file outside the output base (what a local runtime repo links to)."""
    ob = tmp_path / "ob"
    ex = ob / "execroot" / "ws"
    write(ex / "pkg" / "main.py", "print('hi')\n")
    host = write(tmp_path / "host" / "libpython.so", "ELF\n")
    write(ob / "external" / "pip_six" / "six.py", "# six\n")
    os.makedirs(ob / "external" / "local_py" / "lib")
    os.symlink(host, ob / "external" / "local_py" / "lib" / "libpython.so")
    os.makedirs(ex / "external")
    for repo in ("pip_six", "local_py"):
        os.symlink(ob / "external" / repo, ex / "external" / repo)
    bin_pkg = ex / "bazel-out" / "bin" / "pkg"
    os.makedirs(bin_pkg / "_hello.venv" / "bin")
    os.symlink("/usr/bin/python3", bin_pkg / "_hello.venv" / "bin" / "python3")
    os.symlink(ex / "pkg" / "main.py", bin_pkg / "abs_into_execroot")  # declared, absolute
    os.symlink("../main.py", bin_pkg / "rel")
    return ob, ex


def test_find_output_base_skips_the_sandbox(tmp_path):
    ob, _ = output_base(tmp_path)
    sandbox = ob / "sandbox" / "linux-sandbox" / "7" / "execroot" / "ws"
    sandbox.mkdir(parents=True)
    assert find_output_base(str(sandbox)) == str(ob)
    assert find_output_base(str(tmp_path / "host")) is None


def _manifest_lines():
    return [
        "file\tpkg/main.py\tpkg/main.py",
        f"link\t{VENV_PY}\tbazel-out/bin/{VENV_PY}",
        "file\tpkg/python3_old_bazel\tbazel-out/bin/" + VENV_PY,  # no File.is_symlink
        "link\tpkg/abs\tbazel-out/bin/pkg/abs_into_execroot",
        "link\tpkg/sub/rel\tbazel-out/bin/pkg/rel",
        "file\t../pip_six/six.py\texternal/pip_six/six.py",
        "file\t../local_py/lib/libpython.so\texternal/local_py/lib/libpython.so",
    ]


def _check_manifest_entries(by):
    venv = by[f"bin.runfiles/ws/{VENV_PY}"]
    assert (venv.kind, venv.target) == (SYMLINK, "/usr/bin/python3")
    assert by["bin.runfiles/ws/pkg/python3_old_bazel"].target == "/usr/bin/python3"
    assert by["bin.runfiles/ws/pkg/abs"].kind == FILE  # into the execroot: read through
    assert by["bin.runfiles/ws/pkg/abs"].size == len("print('hi')\n")
    assert (by["bin.runfiles/ws/pkg/sub/rel"].kind,
            by["bin.runfiles/ws/pkg/sub/rel"].target) == (SYMLINK, "../main.py")
    assert by["bin.runfiles/pip_six/six.py"].kind == FILE
    # a source file's link to the host is the file, as Bazel treats it
    assert by["bin.runfiles/local_py/lib/libpython.so"].kind == FILE


def test_manifest_mode_unsandboxed(tmp_path):
    _, ex = output_base(tmp_path)
    m = parse_manifest(str(manifest(tmp_path / "m.txt", _manifest_lines())), str(ex))
    _check_manifest_entries({e.path: e for e in m.entries})


def test_manifest_mode_sandboxed(tmp_path):
    """Sandbox staging: every input a link to the same exec path in the execroot."""
    ob, ex = output_base(tmp_path)
    sandbox = ob / "sandbox" / "linux-sandbox" / "7" / "execroot" / "ws"
    for line in _manifest_lines():
        exec_path = line.split("\t")[2]
        staged = sandbox / exec_path
        if not os.path.lexists(staged):
            staged.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(ex / exec_path, staged)
    m = parse_manifest(str(manifest(tmp_path / "m.txt", _manifest_lines())), str(sandbox))
    _check_manifest_entries({e.path: e for e in m.entries})


def test_manifest_mode_sandbox_elsewhere_needs_no_output_base(tmp_path):
    """--sandbox_base=/dev/shm: staging links end with their exec path."""
    _, ex = output_base(tmp_path)
    sandbox = tmp_path / "shm" / "execroot" / "ws"
    for line in _manifest_lines():
        exec_path = line.split("\t")[2]
        staged = sandbox / exec_path
        if not os.path.lexists(staged):
            staged.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(ex / exec_path, staged)
    m = parse_manifest(str(manifest(tmp_path / "m.txt", _manifest_lines())), str(sandbox))
    _check_manifest_entries({e.path: e for e in m.entries})


def runfiles(ob, ex, tmp_path):
    """bazel-out/bin/pkg/app.runfiles as Bazel builds it: absolute links."""
    write(ex / "bazel-out" / "bin" / "pkg" / "app", "#!/bin/sh\n", 0o755)
    rf = ex / "bazel-out" / "bin" / "pkg" / "app.runfiles"
    links = {
        "ws/pkg/main.py": ex / "pkg" / "main.py",
        f"ws/{VENV_PY}": ex / "bazel-out" / "bin" / VENV_PY,
        "ws/pkg/direct_python3": "/usr/bin/python3",  # a runfiles manifest with the raw target
        "ws/pkg/abs": ex / "bazel-out" / "bin" / "pkg" / "abs_into_execroot",
        "pip_six/six.py": ob / "external" / "pip_six" / "six.py",
        "local_py": ob / "external" / "local_py",
    }
    for rel, target in links.items():
        (rf / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, rf / rel)
    os.symlink("main.py", rf / "ws" / "pkg" / "alias.py")
    return rf


def test_directory_mode(tmp_path):
    ob, ex = output_base(tmp_path)
    rf = runfiles(ob, ex, tmp_path)
    _, _, entries = read_runfiles_dir(str(rf), "ws")
    by = {e.path: e for e in entries}
    venv = by[f"app.runfiles/ws/{VENV_PY}"]
    assert (venv.kind, venv.target) == (SYMLINK, "/usr/bin/python3")
    assert by["app.runfiles/ws/pkg/direct_python3"].target == "/usr/bin/python3"
    assert by["app.runfiles/ws/pkg/main.py"].kind == FILE
    assert by["app.runfiles/ws/pkg/abs"].kind == FILE
    assert by["app.runfiles/ws/pkg/alias.py"].target == "main.py"
    assert by["app.runfiles/pip_six/six.py"].kind == FILE
    assert by["app.runfiles/local_py/lib/libpython.so"].kind == FILE


def test_directory_mode_copied_tree_takes_output_base(tmp_path):
    """A runfiles tree copied out of the output base: --output-base says where
    Bazel's staging links point."""
    ob, ex = output_base(tmp_path)
    write(ex / "bazel-out" / "bin" / "gen" / "data.bin", "x")
    rf = tmp_path / "copy" / "app.runfiles"
    (rf / "ws" / "pkg").mkdir(parents=True)
    os.symlink(ex / "bazel-out" / "bin" / "gen" / "data.bin", rf / "ws" / "pkg" / "renamed")
    os.symlink("/usr/bin/python3", rf / "ws" / "pkg" / "python3")
    _, _, entries = read_runfiles_dir(str(rf), "ws", output_base=str(ob))
    by = {e.path: e for e in entries}
    assert by["app.runfiles/ws/pkg/renamed"].kind == FILE
    assert by["app.runfiles/ws/pkg/python3"].target == "/usr/bin/python3"


def test_realpath_cache_agrees_with_os_realpath(tmp_path):
    """LinkRule resolves each directory once; the result is os.path.realpath's,
    whether a directory, the last component or nothing is a link."""
    from pycross_layers.links import LinkRule

    real = tmp_path / "real"
    write(real / "sub" / "f.py", "x")
    (tmp_path / "dirlink").symlink_to(real)
    (real / "sub" / "filelink").symlink_to(tmp_path / "elsewhere.py")
    (real / "sub" / "rel").symlink_to("f.py")
    rule = LinkRule(())
    for p in ["dirlink/sub/f.py", "dirlink/sub/filelink", "dirlink/sub/rel",
              "dirlink/sub/missing", "real/sub/f.py", "nothing/here", "dirlink"]:
        path = str(tmp_path / p)
        for _ in range(2):  # uncached, then cached
            assert rule._realpath(path) == os.path.realpath(path), p


# The Bazel action (`layer`) and directory mode, side by side: the rule runs the
# core in the action's working directory (the execroot or its sandbox) with no
# --execroot or --output-base, so the output base is found from that directory,
# as directory mode finds it from the runfiles tree.

_SAME = {  # runfiles path -> exec path
    "ws/pkg/main.py": "pkg/main.py",
    f"ws/{VENV_PY}": f"bazel-out/bin/{VENV_PY}",
    "ws/pkg/abs_into_execroot": "bazel-out/bin/pkg/abs_into_execroot",
    "pip_six/six.py": "external/pip_six/six.py",
    "local_py/lib/libpython.so": "external/local_py/lib/libpython.so",
}


def _same_manifest(path):
    lines = ["launcher\tapp\tbazel-out/bin/pkg/app"]
    for rf_path, exec_path in _SAME.items():
        kind = "link" if exec_path.startswith("bazel-out/") else "file"
        short = rf_path[3:] if rf_path.startswith("ws/") else "../" + rf_path
        lines.append(f"{kind}\t{short}\t{exec_path}")
    return manifest(path, lines)


def _tars(paths):
    """name -> (type, link target, bytes) of every member of the given layers."""
    out = {}
    for p in paths:
        with tarfile.open(p) as tar:
            for m in tar.getmembers():
                data = tar.extractfile(m).read() if m.isfile() else b""
                out[m.name] = (m.type, m.linkname, m.mode, data)
    return out


def _staged_sandbox(ex, sandbox):
    for exec_path in [*_SAME.values(), "bazel-out/bin/pkg/app"]:
        staged = sandbox / exec_path
        staged.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(ex / exec_path, staged)


def _layer_action(tmp_path, monkeypatch, cwd, *extra):
    m = _same_manifest(tmp_path / "m.txt")
    monkeypatch.chdir(cwd)
    outs = []
    for group in ("interpreter", "packages", "app"):
        out = tmp_path / f"action.{group}.tar"
        assert cli.main(["layer", "--manifest", str(m), "--only", group, "--output", str(out),
                         "--compress", "none", *extra]) == 0
        outs.append(out)
    return _tars(outs)


@pytest.mark.parametrize("sandbox_at", ["linux-sandbox", "sandbox-base-elsewhere", None])
def test_layer_action_reads_links_as_directory_mode(tmp_path, monkeypatch, sandbox_at):
    ob, ex = output_base(tmp_path)
    write(ex / "bazel-out" / "bin" / "pkg" / "app", "#!/bin/sh\n", 0o755)
    rf = ex / "bazel-out" / "bin" / "pkg" / "app.runfiles"
    for rf_path, exec_path in _SAME.items():
        (rf / rf_path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(ex / exec_path, rf / rf_path)
    out = tmp_path / "dir_mode"
    assert cli.main(["layers", "--runfiles", str(rf), "--out", str(out), "--compress", "none",
                     "--workspace-name", "ws", "--quiet"]) == 0
    directory = _tars(sorted(out.glob("*.tar")))

    cwd = ex
    if sandbox_at == "linux-sandbox":
        cwd = ob / "sandbox" / "linux-sandbox" / "3" / "execroot" / "ws"
    elif sandbox_at:
        cwd = tmp_path / "shm" / "bazel-sandbox.1" / "execroot" / "ws"
    if sandbox_at:
        _staged_sandbox(ex, cwd)
    action = _layer_action(tmp_path, monkeypatch, cwd)
    assert action == directory
    venv = action[f"app/app.runfiles/ws/{VENV_PY}"]
    assert (venv[0], venv[1]) == (tarfile.SYMTYPE, "/usr/bin/python3")
    assert action["app/app.runfiles/ws/pkg/abs_into_execroot"][3] == b"print('hi')\n"
    assert action["app/app.runfiles/local_py/lib/libpython.so"][3] == b"ELF\n"


def test_layer_action_takes_output_base_like_directory_mode(tmp_path, monkeypatch):
    """An execroot copied out of the output base: its outputs' absolute links into
    the output base are staging only once --output-base says where it is, in the
    action (`layer`) as in directory mode (`layers --runfiles`)."""
    ob, ex = output_base(tmp_path)
    copy = tmp_path / "copy" / "ws"
    write(copy / "bazel-out" / "bin" / "pkg" / "app", "#!/bin/sh\n", 0o755)
    for exec_path in _SAME.values():
        (copy / exec_path).parent.mkdir(parents=True, exist_ok=True)
        source = ex / exec_path
        if os.path.islink(source):
            os.symlink(os.readlink(source), copy / exec_path)
        else:
            os.symlink(source, copy / exec_path)
    name = "app/app.runfiles/ws/pkg/abs_into_execroot"
    without = _layer_action(tmp_path, monkeypatch, copy)
    assert without[name][:2] == (tarfile.SYMTYPE, str(ex / "pkg" / "main.py"))
    given = _layer_action(tmp_path, monkeypatch, copy, "--output-base", str(ob))
    assert given[name][0] == tarfile.REGTYPE and given[name][3] == b"print('hi')\n"
    assert given[f"app/app.runfiles/ws/{VENV_PY}"][1] == "/usr/bin/python3"

    rf = tmp_path / "copy" / "app.runfiles"
    (rf / "ws" / "pkg").mkdir(parents=True)
    os.symlink(ex / "pkg" / "main.py", rf / "ws" / "pkg" / "abs_into_execroot")
    for flags, kind in (([], tarfile.SYMTYPE), (["--output-base", str(ob)], tarfile.REGTYPE)):
        out = tmp_path / f"dir{len(flags)}"
        assert cli.main(["layers", "--runfiles", str(rf), "--out", str(out), "--compress",
                         "none", "--workspace-name", "ws", "--quiet", *flags]) == 0
        assert _tars(sorted(out.glob("*.tar")))[name][0] == kind
