"""Inspecting and running built images with real OCI tools (skopeo, umoci, bwrap)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port


def skopeo_json(*args: str):
    out = subprocess.run(["skopeo", "--insecure-policy", *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def config(layout: Path) -> dict:
    return skopeo_json("inspect", "--config", f"oci:{layout}:latest")


def manifest(layout: Path) -> dict:
    return skopeo_json("inspect", "--raw", f"oci:{layout}:latest")


def manifest_digest(layout: Path) -> str:
    index = json.loads((Path(layout) / "index.json").read_text())
    return index["manifests"][0]["digest"]


def archive_tags(tar: Path) -> list[str]:
    """RepoTags of a docker-archive tarball (docker load applies them), without the
    default-registry prefix skopeo writes (docker load treats both the same)."""
    import tarfile

    with tarfile.open(tar) as t:
        entries = json.load(t.extractfile("manifest.json"))
    tags = [tag for entry in entries for tag in entry["RepoTags"]]
    return [t.split("/", 1)[1] if "." in t.split("/", 1)[0] else t for t in tags]


def diff_id(tar: Path) -> str:
    """sha256 of the uncompressed layer (what the image config lists)."""
    h = hashlib.sha256()
    data = Path(tar).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    h.update(data)
    return "sha256:" + h.hexdigest()


@dataclass
class Answer:
    status: int
    body: str
    log: str


def unpack(layout: Path, dest: Path) -> Path:
    """umoci unpack (rootless); returns the rootfs."""
    if dest.exists():
        shutil.rmtree(dest)
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{layout}:latest", str(dest)],
                   check=True, capture_output=True)
    return dest / "rootfs"


def run_http(layout: Path, extra_args: list[str] | None = None, env: dict | None = None,
             timeout: float = 40.0) -> Answer:
    """Runs the image's entrypoint + cmd (or extra_args) with its env and workdir in
    bwrap (network shared, the app binds 127.0.0.1 only) and GETs / on its port."""
    cfg = config(layout)["config"]
    argv = list(cfg.get("Entrypoint") or []) + list(
        extra_args if extra_args is not None else (cfg.get("Cmd") or []))
    port = free_port()
    image_env = dict(e.split("=", 1) for e in cfg.get("Env") or [])
    image_env.update(env or {})
    image_env["PORT"] = str(port)
    with tempfile.TemporaryDirectory(prefix="pycross-run-") as tmp:
        rootfs = unpack(layout, Path(tmp) / "bundle")
        cmd = ["bwrap", "--bind", str(rootfs), "/", "--proc", "/proc", "--dev", "/dev",
               "--tmpfs", "/tmp", "--unshare-all", "--share-net", "--die-with-parent",
               "--clearenv", "--chdir", cfg.get("WorkingDir") or "/"]
        for k, v in sorted(image_env.items()):
            cmd += ["--setenv", k, v]
        log_path = Path(tmp) / "log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd + ["--"] + argv, stdout=log, stderr=subprocess.STDOUT)
        status, body = 0, ""
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    break
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                        status, body = resp.status, resp.read().decode()
                        break
                except OSError:
                    time.sleep(0.2)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return Answer(status, body, log_path.read_text(errors="replace"))


def layer_table(layout: Path, names: list[str]) -> list[tuple[str, str, int]]:
    """(name, digest, compressed size) per layer, bottom to top."""
    layers = manifest(layout)["layers"]
    names = ["base"] * (len(layers) - len(names)) + names
    return [(n, lay["digest"], lay["size"]) for n, lay in zip(names, layers)]


def human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024
    return str(size)


def have_tools() -> list[str]:
    return [t for t in ("bazel", "umoci", "skopeo", "bwrap") if not shutil.which(t)]


def env_without_bazel() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("BAZEL")}
