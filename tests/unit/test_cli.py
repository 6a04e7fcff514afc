"""`pycross-image layers` end to end: outputs, layers.json, and every bad input.

Bad input must give one clear line naming the entry, exit code 2, no
traceback, and no half-written output file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import execroot_tree, manifest, members, write

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    environ = dict(os.environ, PYTHONPATH=str(REPO / "bazel" / "rules"))
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "pycross_layers", *args], cwd=cwd,
                          env=environ, text=True, capture_output=True)


def sample_runfiles(tmp_path: Path) -> Path:
    execroot = tmp_path / "execroot"
    files = {
        "ws/app/main.py": "print('hi')\n",
        "ws/python_utils/u.py": "x = 1\n",
        "pip_deps_six/site-packages/six.py": "# six\n",
        "pip_deps_six/site-packages/six-1.17.0.dist-info/METADATA": "Name: six\n",
        "python_3_11_x86_64-unknown-linux-gnu/bin/python3": "#!/bin/sh\n",
        "pip_deps_torch/site-packages/torch/__init__.py": "# torch\n",
    }
    rf = tmp_path / "bin" / "app.runfiles"
    for rel, text in files.items():
        src = write(execroot / rel, text, 0o755 if rel.endswith("python3") else 0o644)
        (rf / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(src, rf / rel)
    write(tmp_path / "bin" / "app", "#!/usr/bin/env python3\n", 0o755)
    os.symlink(execroot / "ws/app/main.py", rf / "ws" / "app" / "app")  # launcher copy
    return rf


def test_layers_json_and_tars(tmp_path):
    rf = sample_runfiles(tmp_path)
    out = tmp_path / "out"
    proc = run("layers", "--runfiles", str(rf), "--out", str(out), "--group",
               "torch=pip_deps_torch/", "--compress", "gzip", "--root", "/srv/app")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:3] == ["layer", "entries", "content"]
    report = json.loads((out / "layers.json").read_text())["layers"]
    assert [r["name"] for r in report] == ["interpreter", "packages", "torch", "app"]
    for r in report:
        path = out / r["file"]
        data = path.read_bytes()
        assert r["digest"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert r["size"] == len(data)
        raw = gzip.decompress(data)
        assert r["diff_id"] == "sha256:" + hashlib.sha256(raw).hexdigest()
        assert r["tar_bytes"] == len(raw)
        assert r["entries"] == len(members(path))
    names = {r["name"]: set(members(out / r["file"])) for r in report}
    assert "srv/app/app.runfiles/pip_deps_torch/site-packages/torch/__init__.py" in names["torch"]
    assert "srv/app/app.runfiles/pip_deps_six/site-packages/six.py" in names["packages"]
    assert "srv/app/app" in names["app"]
    assert "srv/app/app.runfiles/ws/python_utils/u.py" in names["app"]
    assert not [p for p in os.listdir(out) if p.startswith(".tmp-")]


@pytest.mark.parametrize("method,suffix", [("none", ".tar"), ("gzip", ".tar.gz")])
def test_compression_choices(tmp_path, method, suffix):
    rf = sample_runfiles(tmp_path)
    proc = run("layers", "--runfiles", str(rf), "--out", str(tmp_path / "o"), "--compress",
               method, "--quiet")
    assert proc.returncode == 0 and proc.stdout == ""
    assert (tmp_path / "o" / f"app{suffix}").exists()


def _bad(tmp_path, *args, **kw):
    proc = run(*args, **kw)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("pycross-image: error: ")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def test_bad_group_regex(tmp_path):
    rf = sample_runfiles(tmp_path)
    err = _bad(tmp_path, "layers", "--runfiles", str(rf), "--out", str(tmp_path / "o"),
               "--group", "torch=pip_deps_torch(")
    assert "layer group 'torch': invalid regex 'pip_deps_torch('" in err
    assert not (tmp_path / "o").exists()


def test_bad_group_name(tmp_path):
    rf = sample_runfiles(tmp_path)
    err = _bad(tmp_path, "layers", "--runfiles", str(rf), "--out", str(tmp_path / "o"),
               "--group", "torch-libs=x")
    assert "'torch-libs' is not a simple identifier" in err


def test_dangling_link_leaves_nothing_behind(tmp_path):
    rf = sample_runfiles(tmp_path)
    os.symlink(tmp_path / "gone", rf / "ws" / "app" / "gone.py")
    out = tmp_path / "o"
    err = _bad(tmp_path, "layers", "--runfiles", str(rf), "--out", str(out))
    assert "ws/app/gone.py: dangling symlink" in err
    assert not out.exists() or os.listdir(out) == []


def test_error_mid_write_leaves_previous_set_and_no_temp_file(tmp_path):
    from pycross_layers.classify import Classifier, compile_groups
    from pycross_layers.entries import FILE, Entry
    from pycross_layers.errors import LayerError
    from pycross_layers.layers import build_layers
    from pycross_layers.tarball import TarPolicy

    src = write(tmp_path / "f.py", "short")
    out = tmp_path / "o"
    out.mkdir()
    (out / "app.tar.gz").write_bytes(b"previous complete layer")
    # The file is shorter than when it was listed: found half-way through the tar.
    entry = Entry(path="app.runfiles/ws/f.py", kind=FILE, runfiles_path="ws/f.py",
                  source=str(src), size=10_000, origin="ws/f.py")
    with pytest.raises(LayerError, match=r"ws/f.py: .*f.py changed size while being read"):
        build_layers([entry], Classifier(compile_groups([]), "ws"), str(out), "app",
                     TarPolicy(), "gzip")
    # All or nothing: the previous set as it was, no new layer, nothing staged beside it.
    assert (out / "app.tar.gz").read_bytes() == b"previous complete layer"
    assert sorted(os.listdir(out)) == ["app.tar.gz"]
    assert sorted(os.listdir(tmp_path)) == ["f.py", "o"]


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_unwritable_output_directory(tmp_path, where):
    rf = sample_runfiles(tmp_path)
    blocker = write(tmp_path / "blocker", "x")
    out = blocker if where == "file" else blocker / "sub"
    err = _bad(tmp_path, "layers", "--runfiles", str(rf), "--out", str(out))
    assert f"--out {out}" in err


def test_manifest_mode_and_unused_inputs(tmp_path):
    root = execroot_tree(tmp_path / "execroot")
    m = manifest(tmp_path / "m.txt", [
        "file\tpkg/main.py\tpkg/main.py",
        "file\t../pip_deps_six/site-packages/six.py\texternal/pip_deps_six/site-packages/six.py",
    ], launcher="launcher\tapp\tbazel-out/bin/pkg/app")
    out = tmp_path / "pk.tar"
    unused = tmp_path / "unused"
    proc = run("layer", "--manifest", str(m), "--execroot", str(root), "--only", "packages",
               "--output", str(out), "--compress", "none", "--unused-inputs-list", str(unused))
    assert proc.returncode == 0, proc.stderr
    assert [n for n in members(out) if n.endswith(".py")] == [
        "app/app.runfiles/pip_deps_six/site-packages/six.py"]
    assert unused.read_text().splitlines() == ["bazel-out/bin/pkg/app", "pkg/main.py"]
    err = _bad(tmp_path, "layer", "--manifest", str(m), "--execroot", str(root), "--only",
               "nope", "--output", str(out))
    assert "--only 'nope': not a layer group" in err


def test_bad_root(tmp_path):
    rf = sample_runfiles(tmp_path)
    err = _bad(tmp_path, "layers", "--runfiles", str(rf), "--out", str(tmp_path / "o"),
               "--root", "app")
    assert "--root 'app' must be an absolute path" in err


@pytest.mark.parametrize("method", ["gzip", "none"])
def test_show_agrees_with_layers_json(tmp_path, method):
    rf = sample_runfiles(tmp_path)
    out = tmp_path / "o"
    assert run("layers", "--runfiles", str(rf), "--out", str(out), "--compress", method,
               "--quiet").returncode == 0
    report = json.loads((out / "layers.json").read_text())["layers"]
    proc = run("show", "--json", *[str(out / r["file"]) for r in report])
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)["layers"]
    keys = ["entries", "bytes", "tar_bytes", "diff_id", "digest", "size", "media_type"]
    assert [{k: r[k] for k in keys} for r in shown] == [{k: r[k] for k in keys} for r in report]
    err = _bad(tmp_path, "show", str(rf / "ws" / "app" / "main.py"))
    assert "main.py: not a readable layer" in err
