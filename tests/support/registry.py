"""A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8).

It listens on a free loopback port, stores blobs under a temporary directory
and writes its access log to a file the tests read (which requests reached
the registry: a blob upload is a `POST /v2/<name>/blobs/uploads/`). Leaving
the `with` block stops the server and removes its storage.

    with running_registry() as registry:
        ... push to f"{registry.address}/name:tag" ...
        registry.blob_uploads(since=mark)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .net import free_port

BINARY = "docker-registry"
CONFIG = """\
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""
# Combined log format lines of the access log: "METHOD PATH HTTP/1.1" STATUS
_ACCESS = re.compile(r'^\S+ - - \[[^\]]*\] '
                     r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')


@dataclass(frozen=True)
class Request:
    """One request the registry answered."""

    method: str
    path: str
    status: int


@dataclass
class Registry:
    """A running registry: its address, storage and log."""

    port: int
    storage: Path
    log_path: Path
    process: subprocess.Popen

    @property
    def address(self) -> str:
        """`127.0.0.1:PORT`, the registry part of an image reference."""
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def mark(self) -> int:
        """A position in the log; requests(since=mark) lists those made after it."""
        return len(self.requests())

    def requests(self, since: int = 0) -> list[Request]:
        found = []
        for line in self.log().splitlines():
            m = _ACCESS.match(line)
            if m:
                found.append(Request(m["method"], m["path"], int(m["status"])))
        return found[since:]

    def blob_uploads(self, since: int = 0) -> list[Request]:
        """Blob uploads started after `since` (one POST per blob the client sends)."""
        return [r for r in self.requests(since)
                if r.method == "POST" and r.path.split("?")[0].endswith("/blobs/uploads/")]


    def uploaded_digests(self, since: int = 0) -> list[str]:
        """Digests of the blobs whose upload completed after `since` (the final PUT)."""
        digests = []
        for r in self.requests(since):
            path, _, query = r.path.partition("?")
            if r.method == "PUT" and "/blobs/uploads/" in path and r.status == 201:
                digests += urllib.parse.parse_qs(query).get("digest", [])
        return digests


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(root: Path, timeout: float) -> Registry:
    """Starts the registry on a free port (another if that one was taken meanwhile)."""
    last = ""
    for attempt in range(3):
        port = free_port()
        storage = root / "storage"
        storage.mkdir(exist_ok=True)
        config = root / "config.yml"
        config.write_text(CONFIG.format(storage=storage, port=port))
        log_path = root / f"registry-{attempt}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen([BINARY, "serve", str(config)], stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       cwd=root)
        registry = Registry(port, storage, log_path, process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(port):
                return registry
            time.sleep(0.1)
        _stop(process)
        last = registry.log()[-2000:]
        if "address already in use" not in last:
            break
    raise RuntimeError(f"{BINARY} did not answer on 127.0.0.1 within {timeout:.0f} s:\n{last}")


@contextmanager
def running_registry(timeout: float = 30.0) -> Iterator[Registry]:
    """A registry for the `with` block; afterwards no process and no file is left."""
    if not shutil.which(BINARY):
        raise RuntimeError(f"{BINARY} is not installed: run `bash .ci/setup` first")
    with tempfile.TemporaryDirectory(prefix="pycross-registry-") as tmp:
        registry = _start(Path(tmp), timeout)
        try:
            yield registry
        finally:
            _stop(registry.process)
