"""The manifest the rule writes: every runfiles kind, and every bad line."""

from __future__ import annotations

import os

import pytest

from pycross_layers.classify import Classifier
from pycross_layers.entries import FILE, SYMLINK
from pycross_layers.errors import LayerError
from pycross_layers.layers import assign
from pycross_layers.manifest import parse_manifest

from .helpers import execroot_tree, manifest, write

LAUNCHER = "launcher\tapp\tbazel-out/bin/pkg/app"


def entries_of(tmp_path, lines, **kw):
    root = execroot_tree(tmp_path / "execroot")
    m = parse_manifest(str(manifest(tmp_path / "m.txt", lines, **kw)), str(root))
    return m, {e.path: e for e in m.entries}


def test_every_kind(tmp_path):
    root = execroot_tree(tmp_path / "execroot")
    os.symlink("../data.txt", root / "bazel-out" / "bin" / "pkg" / "venv_link")
    (root / "bazel-out" / "bin" / "pkg" / "venv_link").is_symlink()
    m = parse_manifest(str(manifest(tmp_path / "m.txt", [
        "file\tpkg/main.py\tpkg/main.py",
        "file\tpkg/data.txt\tpkg/data.txt",
        "file\t../pip_deps_six/site-packages/six.py\texternal/pip_deps_six/site-packages/six.py",
        "file\tpkg/tree\tbazel-out/bin/pkg/tree",
        "file\tpkg/linked.txt\tpkg/data.txt",  # a `symlinks` entry
        "link\tpkg/sub/venv_link\tbazel-out/bin/pkg/venv_link",
        "rootfile\t_repo_mapping\tbazel-out/bin/pkg/app",
        "empty\tpkg/__init__.py",
        "empty\tpkg/main.py",  # a real file wins over an empty one
    ], launcher=LAUNCHER)), str(root))
    by = {e.path: e for e in m.entries}
    assert m.workspace == "ws" and m.launcher == "app"
    assert by["app"].runfiles_path is None and by["app"].kind == FILE
    assert by["app.runfiles/ws/pkg/main.py"].size == len("print('hi')\n")
    assert by["app.runfiles/pip_deps_six/site-packages/six.py"].runfiles_path == \
        "pip_deps_six/site-packages/six.py"
    assert by["app.runfiles/ws/pkg/tree/sub/a.txt"].kind == FILE
    assert by["app.runfiles/ws/pkg/linked.txt"].source.endswith("pkg/data.txt")
    link = by["app.runfiles/ws/pkg/sub/venv_link"]
    assert (link.kind, link.target) == (SYMLINK, "../data.txt")
    assert by["app.runfiles/_repo_mapping"].runfiles_path == "_repo_mapping"
    assert by["app.runfiles/ws/pkg/__init__.py"].size == 0
    assert by["app.runfiles/ws/pkg/main.py"].source is not None
    assert "bazel-out/bin/pkg/tree" in m.inputs()


def test_declared_symlink_is_found_without_is_symlink(tmp_path):
    """Bazel < 7 has no File.is_symlink: a relative link behind a 'file' line is a link."""
    root = execroot_tree(tmp_path / "execroot")
    os.symlink("main.py", root / "bazel-out" / "bin" / "pkg" / "latest")
    staged = tmp_path / "sandbox"
    staged.mkdir()
    os.symlink(root / "bazel-out" / "bin" / "pkg" / "latest", staged / "latest")
    m = parse_manifest(str(manifest(tmp_path / "m.txt", [
        "file\tpkg/main.py\tpkg/main.py",
        f"file\tpkg/latest\t{staged / 'latest'}",
    ])), str(root))
    by = {e.path: e for e in m.entries}
    assert by["bin.runfiles/ws/pkg/latest"].target == "main.py"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["file\tpkg/main.py"], r"m.txt:3: cannot parse manifest line 'file\\tpkg/main.py'"),
        (["bogus\ta\tb"], r"m.txt:3: cannot parse manifest line"),
        (["file\t/abs/x\tpkg/main.py"], r"m.txt:3 \(/abs/x\): path '/abs/x' must be relative"),
        (["file\tpkg/../../x\tpkg/main.py"], r"must not contain empty, '.' or '..' parts"),
        (["file\tpkg/missing.py\tpkg/missing.py"], r"m.txt:3 \(pkg/missing.py\): .*missing.py "
                                                   r"does not exist"),
        (["file\tpkg/a.py\tpkg/main.py", "file\tpkg/a.py\tpkg/data.txt"],
         r"two entries claim bin.runfiles/ws/pkg/a.py with different content"),
        (["link\tpkg/l\tpkg/main.py"], r"m.txt:3 \(pkg/l\): pkg/main.py is declared a symlink"),
    ],
)
def test_bad_lines(tmp_path, lines, message):
    with pytest.raises(LayerError, match=message):
        entries_of(tmp_path, lines)


def test_same_path_same_content_is_fine(tmp_path):
    root = execroot_tree(tmp_path / "execroot")
    write(root / "pkg" / "copy.py", "print('hi')\n")
    m = parse_manifest(str(manifest(tmp_path / "m.txt", [
        "file\tpkg/a.py\tpkg/main.py", "file\tpkg/a.py\tpkg/copy.py"])), str(root))
    assert [e.path for e in m.entries] == ["bin.runfiles/ws/pkg/a.py"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("../../../outside", r"symlink ws/pkg/l -> ../../../outside climbs out"),
        ("nothing_here", r"dangling symlink bin.runfiles/ws/pkg/l -> nothing_here"),
    ],
)
def test_bad_declared_symlinks(tmp_path, target, message):
    root = execroot_tree(tmp_path / "execroot")
    os.symlink(target, root / "bazel-out" / "bin" / "pkg" / "l")
    with pytest.raises(LayerError, match=message):
        parse_manifest(str(manifest(tmp_path / "m.txt", [
            "file\tpkg/main.py\tpkg/main.py", "link\tpkg/l\tbazel-out/bin/pkg/l"])), str(root))


def test_header_is_required(tmp_path):
    p = tmp_path / "m.txt"
    p.write_text("workspace\tws\n")
    with pytest.raises(LayerError, match="not a pycross-image manifest"):
        parse_manifest(str(p))
    p.write_bytes(b"\xff\xfe")
    with pytest.raises(LayerError, match="not UTF-8"):
        parse_manifest(str(p))


SITE = "_main/pkg/_app.venv/lib/python3.11/site-packages"


def test_root_symlink_to_a_pip_file_lands_in_its_layer(tmp_path):
    """rules_python venvs_site_packages: single-file modules are root_symlinks into
    the venv pointing at files of the pip repositories (venv_runfiles.bzl). Kept
    as bytes (a regular file), classified by the target runfile's path."""
    root = execroot_tree(tmp_path / "execroot")
    write(root / "bazel-out" / "bin" / "external" / "pypi_attrs" / "site-packages" / "attr"
          / "__init__.py", "# attr\n")
    m = parse_manifest(str(manifest(tmp_path / "m.txt", [
        "file\tpkg/main.py\tpkg/main.py",
        "file\t../pip_deps_six/site-packages/six.py\texternal/pip_deps_six/site-packages/six.py",
        "file\tsix_alias.py\texternal/pip_deps_six/site-packages/six.py",  # a `symlinks` alias
        f"rootfile\t{SITE}/six.py\texternal/pip_deps_six/site-packages/six.py",
        # a tree artifact of a pip repository, and a root symlink to a file inside it
        "file\t../pypi_attrs/site-packages\tbazel-out/bin/external/pypi_attrs/site-packages",
        f"rootfile\t{SITE}/attr/__init__.py\t"
        "bazel-out/bin/external/pypi_attrs/site-packages/attr/__init__.py",
        f"rootfile\t{SITE}/own.py\tpkg/data.txt",  # no runfile is that input: its own path
        "rootfile\t_repo_mapping\tbazel-out/bin/pkg/app",
    ], workspace="_main")), str(root))
    by = {e.path: e for e in m.entries}
    six = by[f"bin.runfiles/{SITE}/six.py"]
    assert six.kind == FILE and six.size == len("# six\n")
    assert six.runfiles_path == "pip_deps_six/site-packages/six.py"
    attr = by[f"bin.runfiles/{SITE}/attr/__init__.py"]
    assert attr.runfiles_path == "pypi_attrs/site-packages/attr/__init__.py"
    groups = assign(m.entries, Classifier([], m.workspace))
    packages = {e.path for e in groups["packages"]}
    app = {e.path for e in groups["app"]}
    assert f"bin.runfiles/{SITE}/six.py" in packages
    assert f"bin.runfiles/{SITE}/attr/__init__.py" in packages
    assert f"bin.runfiles/{SITE}/own.py" in app
    assert "bin.runfiles/_repo_mapping" in app
    assert "bin.runfiles/_main/six_alias.py" in packages  # a second path to a pip file, too
    assert "bin.runfiles/_main/pkg/main.py" in app
