"""py_image_layers under a real Bazel (offline): which layer holds every file,
no host paths, byte-identical rebuilds in a fresh output base, and the
extracted layers really run."""

from __future__ import annotations

import gzip
import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from support import layers_ws

pytestmark = pytest.mark.bazel

GROUPS = ["interpreter", "packages", "assets", "app"]
RF = "app/app.runfiles/"
PY = "python_3_11_x86_64-unknown-linux-gnu"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("layers_ws")
    ws = layers_ws.prepare(root / "ws")
    bazel = layers_ws.build(ws, root / "output_base")
    yield bazel
    bazel.shutdown()


def layer_files(bazel, target="layers", ext=".tar.gz", groups=GROUPS) -> dict[str, Path]:
    return {g: bazel.bin() / "app" / f"{target}.{g}_layer{ext}" for g in groups}


def read_layers(paths: dict[str, Path]) -> dict[str, dict[str, tuple[tarfile.TarInfo, bytes]]]:
    out = {}
    for group, path in paths.items():
        with tarfile.open(path) as t:
            out[group] = {
                m.name: (m, t.extractfile(m).read() if m.isfile() else b"") for m in t
            }
    return out


EXPECTED = {
    "app/app": "app",
    RF + "layers_test/app/main.py": "app",
    RF + "layers_test/app/app": "app",
    RF + "layers_test/app/data/message.txt": "assets",
    RF + "layers_test/lib/greeting.py": "app",
    RF + "layers_test/lib/__init__.py": "app",
    RF + "layers_test/python_utils/helpers.py": "app",
    RF + "layers_test/extras/note.txt": "app",
    RF + "layers_test/extras/linked_note.txt": "app",
    RF + "layers_test/extras/extras_latest": "app",
    RF + "layers_test/extras/extras_tree/one.txt": "app",
    RF + "layers_test/extras/extras_tree/sub/two.txt": "app",
    RF + "root_note.txt": "app",
    RF + f"{PY}/bin/python3": "interpreter",
    RF + f"{PY}/lib/python3.11/site-packages/pip/__init__.py": "interpreter",
    RF + f"{PY}/lib/python3.11/site-packages/pip-23.2.1.dist-info/METADATA": "interpreter",
    RF + "pip_deps_six/site-packages/six.py": "packages",
    RF + "pip_deps_six/site-packages/six-1.17.0.dist-info/METADATA": "packages",
    RF + "layers_test/external/pip_deps_six/site-packages/__init__.py": "packages",
}


def test_every_file_lands_in_its_layer_once(built):
    layers = read_layers(layer_files(built))
    where: dict[str, list[str]] = {}
    for group, entries in layers.items():
        for name, (info, _) in entries.items():
            if not info.isdir():
                where.setdefault(name, []).append(group)
            # The parents of every entry are in the same layer.
            parent = name.rpartition("/")[0]
            assert not parent or parent in entries, (group, name)
    assert {n: g for n, g in where.items() if len(g) > 1} == {}
    for name, group in EXPECTED.items():
        assert where.get(name) == [group], name
    # Nothing unexpected hides in the heavy layers.
    for name, groups in where.items():
        if groups == ["interpreter"]:
            assert PY in name, name
        if groups == ["packages"]:
            assert "pip_deps_six" in name, name
    assert sum(len(v) for v in where.values()) == len(where)


def test_symlinks_and_modes(built):
    app = read_layers(layer_files(built))["app"]
    link, _ = app[RF + "layers_test/extras/extras_latest"]
    assert link.issym() and link.linkname == "note.txt"
    linked, data = app[RF + "layers_test/extras/linked_note.txt"]
    assert linked.isfile() and data == b"a note reached through symlinks\n"
    assert app["app/app"][0].mode == 0o755
    assert app[RF + "layers_test/app/main.py"][0].mode == 0o644
    for info, _ in app.values():
        assert (info.uid, info.gid, info.uname, info.gname, info.mtime) == (0, 0, "", "", 0)
        assert not info.name.startswith("/")


def test_empty_groups_are_valid_layers(built):
    plain = layer_files(built, "layers_plain", ".tar", ["interpreter", "packages", "app"])
    assert all(p.exists() for p in plain.values())
    # layers_plain has no custom group: the data file falls back to the app layer.
    assert RF + "layers_test/app/data/message.txt" in read_layers(plain)["app"]


def test_no_host_path_anywhere(built):
    needles = [str(built.workspace).encode(), str(built.output_base).encode(),
               str(layers_ws.REPO).encode(), b"/execroot/", b"/sandbox/", b"bazel-out/"]
    for group, entries in read_layers(layer_files(built)).items():
        for name, (info, data) in entries.items():
            for needle in needles:
                assert needle not in name.encode(), (group, name)
                assert needle not in info.linkname.encode(), (group, name)
                assert needle not in data, (group, name, needle)


def test_fresh_output_base_elsewhere_gives_identical_bytes(built, tmp_path_factory):
    root = tmp_path_factory.mktemp("second_copy")
    ws = layers_ws.prepare(root / "a" / "different" / "path")
    second = layers_ws.build(ws, root / "fresh_output_base")
    try:
        for target, ext, groups in (("layers", ".tar.gz", GROUPS),
                                    ("layers_plain", ".tar", ["interpreter", "packages",
                                                              "app"])):
            a = layer_files(built, target, ext, groups)
            b = layer_files(second, target, ext, groups)
            for g in groups:
                assert a[g].read_bytes() == b[g].read_bytes(), (target, g)
    finally:
        second.shutdown()


def test_gzip_layers_decompress_to_the_plain_tars(built):
    gz = layer_files(built)
    plain_app = layer_files(built, "layers_plain", ".tar", ["app"])["app"]
    data = gzip.decompress(gz["app"].read_bytes())
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert RF + "layers_test/app/main.py" in t.getnames()
    assert gz["app"].read_bytes()[4:8] == b"\0\0\0\0"  # no timestamp in the gzip header
    assert plain_app.read_bytes()[:512].count(b"app/") >= 1


def test_extracted_layers_run_in_bwrap(built, tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    for g in GROUPS:  # in image order, like a container runtime
        with tarfile.open(layer_files(built)[g]) as t:
            t.extractall(root)
    assert shutil.which("bwrap"), "bubblewrap missing: run `bash .ci/setup`"
    cmd = [
        "bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--ro-bind", "/etc", "/etc", "--ro-bind", str(root / "app"), "/app",
        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--unshare-all",
        "--die-with-parent", "--chdir", "/app", "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin", "/app/app", "--flag", "x",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "Hello, layers!",
        "SIX 1.17.0",
        "data file says hi",
        "a note reached through symlinks",
        "a note reached through symlinks",
        "two",
        "args: --flag x",
    ]
