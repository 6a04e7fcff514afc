"""Reading a runfiles directory: links read through, kept, or rejected."""

from __future__ import annotations

import os
import socket

import pytest

from pycross_layers.classify import Classifier
from pycross_layers.entries import FILE, SYMLINK
from pycross_layers.errors import LayerError
from pycross_layers.layers import assign
from pycross_layers.rundir import read_runfiles_dir

from .helpers import write


def runfiles(tmp_path):
    """bin/app + bin/app.runfiles made, like Bazel's, of absolute links to an execroot."""
    execroot = tmp_path / "execroot"
    src = write(execroot / "pkg" / "main.py", "print('hi')\n")
    six = write(execroot / "external" / "pip_six" / "six.py", "# six\n")
    launcher = write(tmp_path / "bin" / "app", "#!/usr/bin/env python3\n", 0o755)
    rf = tmp_path / "bin" / "app.runfiles"
    (rf / "ws" / "pkg").mkdir(parents=True)
    (rf / "pip_six").mkdir()
    os.symlink(src, rf / "ws" / "pkg" / "main.py")
    os.symlink(six, rf / "pip_six" / "six.py")
    os.symlink(launcher, rf / "ws" / "pkg" / "app")
    return rf


def test_absolute_links_are_read_through_relative_ones_kept(tmp_path):
    rf = runfiles(tmp_path)
    os.symlink("main.py", rf / "ws" / "pkg" / "alias.py")
    ws, launcher, entries = read_runfiles_dir(str(rf))
    by_path = {e.path: e for e in entries}
    assert ws == "ws" and launcher == "app"
    main = by_path["app.runfiles/ws/pkg/main.py"]
    assert main.kind == FILE and main.runfiles_path == "ws/pkg/main.py"
    alias = by_path["app.runfiles/ws/pkg/alias.py"]
    assert alias.kind == SYMLINK and alias.target == "main.py"
    assert by_path["app"].kind == FILE and by_path["app"].runfiles_path is None


def test_absolute_link_to_a_directory_is_expanded(tmp_path):
    rf = runfiles(tmp_path)
    tree = tmp_path / "execroot" / "tree"
    write(tree / "sub" / "a.txt", "a")
    os.symlink(tree, rf / "ws" / "tree")
    _, _, entries = read_runfiles_dir(str(rf))
    assert "app.runfiles/ws/tree/sub/a.txt" in {e.path for e in entries}


def test_dangling_link(tmp_path):
    rf = runfiles(tmp_path)
    os.symlink(tmp_path / "execroot" / "nonexistent", rf / "ws" / "broken")
    with pytest.raises(LayerError, match=r"ws/broken: dangling symlink \(-> /\S+/nonexistent"):
        read_runfiles_dir(str(rf))


def test_relative_link_climbing_out_of_the_runfiles(tmp_path):
    rf = runfiles(tmp_path)
    write(tmp_path / "bin" / "secret.txt", "s")
    os.symlink("../../secret.txt", rf / "ws" / "escape")
    with pytest.raises(LayerError, match=r"ws/escape -> \.\./\.\./secret\.txt climbs out"):
        read_runfiles_dir(str(rf))


def test_fifo(tmp_path):
    rf = runfiles(tmp_path)
    os.mkfifo(rf / "ws" / "pipe")
    with pytest.raises(LayerError, match=r"ws/pipe: is a fifo"):
        read_runfiles_dir(str(rf))


def test_socket(tmp_path):
    rf = runfiles(tmp_path)
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(rf / "ws" / "sock"))
        with pytest.raises(LayerError, match=r"ws/sock: is a socket"):
            read_runfiles_dir(str(rf))
    finally:
        s.close()


def test_device_behind_a_link(tmp_path):
    rf = runfiles(tmp_path)
    # a source file's link (no bazel-out) is read through, as Bazel does
    os.symlink("/dev/null", tmp_path / "execroot" / "null")
    os.symlink(tmp_path / "execroot" / "null", rf / "ws" / "devnull")
    with pytest.raises(LayerError, match=r"ws/devnull: /\S+devnull is a character device"):
        read_runfiles_dir(str(rf))


def test_cycle(tmp_path):
    rf = runfiles(tmp_path)
    os.symlink(rf / "ws", rf / "ws" / "loop")
    with pytest.raises(LayerError, match="symlink cycle"):
        read_runfiles_dir(str(rf))


def test_workspace_guess_needs_help_when_ambiguous(tmp_path):
    rf = tmp_path / "x.runfiles"
    write(rf / "a" / "f", "1")
    write(rf / "b" / "g", "2")
    with pytest.raises(LayerError, match="pass --workspace-name"):
        read_runfiles_dir(str(rf))
    assert read_runfiles_dir(str(rf), "a")[0] == "a"


def test_not_a_directory(tmp_path):
    with pytest.raises(LayerError, match="not a directory"):
        read_runfiles_dir(str(tmp_path / "missing"))


def test_second_path_to_a_pip_file_is_classified_as_that_file(tmp_path):
    """A root symlink into the venv (rules_python venvs_site_packages) links the
    same input as the pip repository's own runfile: it goes to the packages layer."""
    rf = runfiles(tmp_path)
    site = rf / "ws" / "pkg" / "_app.venv" / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    os.symlink(os.readlink(rf / "pip_six" / "six.py"), site / "six.py")
    ws, _, entries = read_runfiles_dir(str(rf))
    by_path = {e.path: e for e in entries}
    venv_six = by_path["app.runfiles/ws/pkg/_app.venv/lib/python3.11/site-packages/six.py"]
    assert venv_six.kind == FILE and venv_six.runfiles_path == "pip_six/six.py"
    assert by_path["app.runfiles/ws/pkg/main.py"].runfiles_path == "ws/pkg/main.py"
    groups = assign(entries, Classifier([], ws))
    assert venv_six in groups["packages"]
