"""imagediff: images written by hand (docker-archive and OCI layouts, every layer
compression, whiteouts, opaque directories, hard links, long names) and by the
real tools (umoci makes an OCI layout, skopeo converts it to a docker-archive)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from imagediff.cli import main
from imagediff.merge import read_image

LONG = "/opt/" + "/".join(["a-rather-long-directory-name"] * 5) + "/file.txt"  # > 100 chars
BASE_CONFIG = {
    "architecture": "amd64", "os": "linux",
    "config": {"Entrypoint": ["/app/run"], "Cmd": ["--port", "80"], "Env": ["A=1", "B=2"],
               "WorkingDir": "/app", "User": "1000:1000", "ExposedPorts": {"80/tcp": {}},
               "Volumes": {"/data": {}}, "Labels": {"version": "1"}},
}


# --- writing images by hand --------------------------------------------------

def layer(*entries: tuple) -> bytes:
    """A layer tar. Entries: ("file", path, data[, mode, uid, gid]), ("dir", path),
    ("symlink", path, target), ("hardlink", path, target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, path, *rest in entries:
            info = tarfile.TarInfo(path.lstrip("/"))
            data = b""
            if kind == "file":
                data = rest[0]
                info.size = len(data)
                info.mode, info.uid, info.gid = (list(rest[1:]) + [0o644, 0, 0][len(rest) - 1:])
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, rest[0]
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, rest[0].lstrip("/")
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        try:
            import zstandard
        except ImportError:
            pytest.fail("zstandard is not installed: run `bash .ci/setup`", pytrace=False)
        return zstandard.ZstdCompressor().compress(data)
    return data


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def config_with(layers: list[bytes], config: dict | None = None) -> bytes:
    doc = json.loads(json.dumps(config or BASE_CONFIG))
    doc["rootfs"] = {"type": "layers", "diff_ids": [sha(raw) for raw in layers]}
    return json.dumps(doc).encode()


def docker_archive(path: Path, layers: list[bytes], config: dict | None = None,
                   how: str = "none", tag: str = "app:latest") -> Path:
    cfg = config_with(layers, config)
    with tarfile.open(path, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        names = []
        for i, raw in enumerate(layers):
            names.append(f"layer{i}/layer.tar")
            add(names[-1], compress(raw, how))
        add("config.json", cfg)
        add("manifest.json", json.dumps(
            [{"Config": "config.json", "RepoTags": [tag], "Layers": names}]).encode())
    return path


def oci_layout(path: Path, layers: list[bytes], config: dict | None = None,
               how: str = "gzip", tag: str = "latest") -> Path:
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data: bytes) -> dict:
        (blobs / sha(data)[7:]).write_bytes(data)
        return {"digest": sha(data), "size": len(data)}
    cfg = config_with(layers, config)
    media = {"gzip": "+gzip", "zstd": "+zstd", "none": ""}[how]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **blob(cfg)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar" + media,
                            **blob(compress(raw, how))} for raw in layers]}
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            **blob(json.dumps(manifest).encode()),
            "annotations": {"org.opencontainers.image.ref.name": tag}}
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    return path


def run_diff(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def diff_json(*argv) -> tuple[int, list[dict]]:
    code, out, err = run_diff(*argv, "--json")
    assert err == ""
    return code, json.loads(out)["differences"]


BASE = layer(("dir", "/app"), ("file", "/app/run", b"#!/bin/sh\n", 0o755, 0, 0),
             ("file", "/app/data.txt", b"data"), ("dir", "/etc"),
             ("file", "/etc/passwd", b"root:x:0:0\n"), ("symlink", "/app/link", "data.txt"),
             ("file", LONG, b"long"))


# --- merging ------------------------------------------------------------------

@pytest.mark.parametrize("how", ["none", "gzip", "zstd"])
def test_oci_and_docker_archive_of_the_same_layers_are_the_same(tmp_path, how):
    top = layer(("file", "/app/more.txt", b"more"))
    a = docker_archive(tmp_path / "a.tar", [BASE, top], how=how)
    b = oci_layout(tmp_path / "b", [BASE, top], how=how)
    assert run_diff(a, b) == (0, "same\n", "")
    assert run_diff(a, f"{b}:latest")[0] == 0
    files = read_image(str(b)).files
    assert files[LONG].digest == sha(b"long") and len(LONG) > 100
    assert files["/app/link"].kind == "symlink" and files["/app/link"].target == "data.txt"


def test_whiteouts_opaque_dirs_and_hard_links(tmp_path):
    lower = layer(("dir", "/app"), ("file", "/app/keep", b"k"), ("file", "/app/gone", b"g"),
                  ("dir", "/app/sub"), ("file", "/app/sub/x", b"x"), ("dir", "/opq"),
                  ("file", "/opq/old1", b"1"), ("dir", "/opq/olddir"),
                  ("file", "/opq/olddir/old2", b"2"))
    upper = layer(("file", "/app/.wh.gone", b""), ("file", "/app/.wh.sub", b""),
                  ("file", "/opq/.wh..wh..opq", b""), ("file", "/opq/new", b"n"),
                  ("hardlink", "/app/hard", "/app/keep"))
    merged = oci_layout(tmp_path / "merged", [lower, upper])
    files = read_image(str(merged)).files
    assert "/app/gone" not in files and "/app/sub" not in files and "/app/sub/x" not in files
    assert sorted(p for p in files if p.startswith("/opq/")) == ["/opq/new"]
    assert files["/app/hard"].kind == "file" and files["/app/hard"].digest == sha(b"k")
    flat = layer(("dir", "/app"), ("file", "/app/keep", b"k"), ("file", "/app/hard", b"k"),
                 ("dir", "/opq"), ("file", "/opq/new", b"n"))
    assert run_diff(merged, docker_archive(tmp_path / "flat.tar", [flat])) == (0, "same\n", "")


def test_a_file_replacing_a_directory_takes_its_subtree(tmp_path):
    lower = layer(("dir", "/d"), ("file", "/d/x", b"x"))
    upper = layer(("file", "/d", b"now a file"))
    files = read_image(str(oci_layout(tmp_path / "i", [lower, upper]))).files
    assert files["/d"].kind == "file" and "/d/x" not in files


# --- differences ----------------------------------------------------------------

def test_every_file_difference(tmp_path):
    a = docker_archive(tmp_path / "a.tar", [BASE])
    changed = layer(("dir", "/app"), ("file", "/app/run", b"#!/bin/sh\n", 0o700, 0, 0),
                    ("file", "/app/data.txt", b"DATA"), ("dir", "/etc"),
                    ("file", "/etc/passwd", b"root:x:0:0\n", 0o644, 1, 2),
                    ("symlink", "/app/link", "run"), ("dir", LONG),
                    ("file", "/app/new", b"new"))
    code, diffs = diff_json(a, oci_layout(tmp_path / "b", [changed]))
    assert code == 1
    got = {(d["change"], d["what"], d["field"], str(d["a"]), str(d["b"])) for d in diffs}
    assert got == {
        ("changed", "/app/run", "mode", "0755", "0700"),
        ("changed", "/app/data.txt", "content", sha(b"data"), sha(b"DATA")),
        ("changed", "/etc/passwd", "owner", "0:0", "1:2"),
        ("changed", "/app/link", "target", "data.txt", "run"),
        ("changed", LONG, "type", "file", "dir"),
        ("added", "/app/new", "type", "None", "file"),
    }
    code, diffs = diff_json(oci_layout(tmp_path / "c", [changed]), a)
    assert ("removed", "/app/new") in {(d["change"], d["what"]) for d in diffs}


def test_every_config_difference(tmp_path):
    other = {"architecture": "arm64", "os": "windows",
             "config": {"Entrypoint": ["/bin/app"], "Cmd": ["x"], "Env": ["A=1", "B=3", "C=4"],
                        "WorkingDir": "/srv", "User": "0", "ExposedPorts": {"81/tcp": {}},
                        "Volumes": {"/cache": {}}, "Labels": {"version": "2", "team": "x"}}}
    a = docker_archive(tmp_path / "a.tar", [BASE])
    b = docker_archive(tmp_path / "b.tar", [BASE], other)
    code, diffs = diff_json(a, b)
    assert code == 1
    got = {(d["change"], d["what"]): (d["a"], d["b"]) for d in diffs}
    assert got == {
        ("changed", "architecture"): ("amd64", "arm64"),
        ("changed", "os"): ("linux", "windows"),
        ("changed", "user"): ("1000:1000", "0"),
        ("changed", "working_dir"): ("/app", "/srv"),
        ("changed", "entrypoint"): (["/app/run"], ["/bin/app"]),
        ("changed", "cmd"): (["--port", "80"], ["x"]),
        ("changed", "env:B"): ("2", "3"),
        ("added", "env:C"): (None, "4"),
        ("removed", "exposed_ports:80/tcp"): (None, None),
        ("added", "exposed_ports:81/tcp"): (None, None),
        ("removed", "volumes:/data"): (None, None),
        ("added", "volumes:/cache"): (None, None),
        ("changed", "labels:version"): ("1", "2"),
        ("added", "labels:team"): (None, "x"),
    }
    code, out, _ = run_diff(a, b)
    assert "~  env:B" in out and out.rstrip().endswith("in 0 paths and 14 config keys")


def test_map_and_ignore(tmp_path):
    moved = layer(("dir", "/srv"), ("file", "/srv/run", b"#!/bin/sh\n", 0o755, 0, 0),
                  ("file", "/srv/data.txt", b"data"), ("dir", "/etc"),
                  ("file", "/etc/passwd", b"root:x:0:0\n"),
                  ("symlink", "/srv/link", "data.txt"), ("file", LONG, b"long"))
    cfg = json.loads(json.dumps(BASE_CONFIG))
    cfg["config"].update(WorkingDir="/srv", Entrypoint=["/srv/run"])
    cfg["config"]["Env"] = ["A=1", "B=2", "BUILD_ID=7"]
    a = docker_archive(tmp_path / "a.tar", [BASE])
    b = oci_layout(tmp_path / "b", [moved], cfg)
    code, diffs = diff_json(a, b)
    assert code == 1 and {d["what"] for d in diffs} >= {"/app/run", "/srv/run", "working_dir"}
    code, diffs = diff_json(a, b, "--map", "/app=/srv")
    assert [(d["change"], d["what"]) for d in diffs] == [("added", "env:BUILD_ID")]
    assert run_diff(a, b, "--map", "/app=/srv", "--ignore", "^env:BUILD_") == (0, "same\n", "")
    code, diffs = diff_json(a, b, "--ignore", "^/(app|srv)",
                            "--ignore", "^env:|^working_dir$|^entr")
    assert code == 0 and diffs == []


# --- bad input: exit 2, one line naming the file ----------------------------------

def _one_line(code: int, out: str, err: str, *words: str) -> None:
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_bad_input(tmp_path):
    good = docker_archive(tmp_path / "good.tar", [BASE])
    _one_line(*run_diff(tmp_path / "missing.tar", good), "missing.tar", "no such file")
    (tmp_path / "text.tar").write_text("hello")
    _one_line(*run_diff(good, tmp_path / "text.tar"), "text.tar", "not a tar")
    with tarfile.open(tmp_path / "nomanifest.tar", "w") as tar:
        tar.add(__file__, "something.py")
    _one_line(*run_diff(good, tmp_path / "nomanifest.tar"), "nomanifest.tar", "no manifest.json")
    (tmp_path / "emptydir").mkdir()
    _one_line(*run_diff(tmp_path / "emptydir", good), "emptydir", "not a docker-archive or an OCI")
    oci = oci_layout(tmp_path / "oci", [BASE])
    _one_line(*run_diff(f"{oci}:nope", good), "oci", "tag 'nope' not found", "latest")
    _one_line(*run_diff(f"{good}:other:tag", good), "good.tar", "tag 'other:tag' not found")
    bad = oci_layout(tmp_path / "corrupt", [BASE])
    blobs = (bad / "blobs" / "sha256").iterdir()
    blob = next(p for p in blobs if p.read_bytes()[:2] == b"\x1f\x8b")
    blob.write_bytes(blob.read_bytes()[:200])
    _one_line(*run_diff(good, bad), "corrupt: layer 1", "corrupt layer")
    cfg_broken = docker_archive(tmp_path / "mismatch.tar", [BASE])
    data = bytearray(cfg_broken.read_bytes())  # a layer that no longer matches its diff_id
    pos = data.find(b"root:x:0:0")
    data[pos:pos + 4] = b"ROOT"
    cfg_broken.write_bytes(bytes(data))
    _one_line(*run_diff(good, cfg_broken), "mismatch.tar: layer 1", "diff_ids")
    _one_line(*run_diff(good, good, "--map", "app=srv"), "--map")
    _one_line(*run_diff(good, good, "--ignore", "("), "--ignore")


# --- the real tools -------------------------------------------------------------

def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run `bash .ci/setup` (apt-get install {name})")
    return path


def test_umoci_and_skopeo_images(tmp_path):
    umoci, skopeo = _tool("umoci"), _tool("skopeo")
    layout = tmp_path / "oci"

    def sh(*argv):
        subprocess.run([str(a) for a in argv], check=True, capture_output=True)
    sh(umoci, "init", "--layout", layout)
    sh(umoci, "new", "--image", f"{layout}:v1")
    for i, data in enumerate([BASE, layer(("file", "/app/.wh.data.txt", b""),
                                           ("file", "/app/extra", b"e"))]):
        (tmp_path / f"l{i}.tar").write_bytes(data)
        sh(umoci, "raw", "add-layer", "--image", f"{layout}:v1", tmp_path / f"l{i}.tar")
    sh(umoci, "config", "--image", f"{layout}:v1", "--config.entrypoint", "/app/run",
       "--config.env", "A=1", "--config.workingdir", "/app", "--config.label", "v=1")
    sh(umoci, "config", "--image", f"{layout}:v1", "--tag", "v2", "--config.env", "A=2",
       "--config.user", "1000")
    archive = tmp_path / "v1.tar"
    sh(skopeo, "copy", f"oci:{layout}:v1", f"docker-archive:{archive}:app:v1")
    assert run_diff(f"{layout}:v1", archive) == (0, "same\n", "")
    files = read_image(str(archive)).files
    assert "/app/data.txt" not in files and files["/app/extra"].digest == sha(b"e")
    code, diffs = diff_json(archive, f"{layout}:v2")
    assert code == 1
    assert {(d["what"], d["a"], d["b"]) for d in diffs} == {
        ("env:A", "1", "2"), ("user", None, "1000")}
    _one_line(*run_diff(layout, archive), "oci", "pick one with")
