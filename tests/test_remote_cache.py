"""A real remote cache: nginx (Debian) as Bazel's WebDAV HTTP cache on loopback.

The layers are built in one output base through ``--remote_cache``, then from a
copy of the workspace at another path in a second, fresh output base: there
every layer action is a remote cache hit (none executes, read from the
execution log) and the layer files are byte-identical. The test starts and
stops nginx itself; its configuration lives in a temporary directory.

The target is a package added to each copy of tests/workspace: the same
interpreter, pip-shaped repository and first-party libraries as ``//app``,
plus a custom group, but no declared (unresolved) symlink. Bazel 4.2.3 cannot
send an action with a declared-symlink input through a remote cache at all
("Encountered symlink input ... This is a bug", DirectoryTreeBuilder), so
``//app:layers`` itself cannot be remote-cached on that Bazel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import execlog, layers_ws
from support.net import free_port

pytestmark = pytest.mark.bazel

GROUPS = layers_ws.CACHED_GROUPS
TARGET = layers_ws.CACHED_TARGET
prepare = layers_ws.prepare_cached

NGINX_CONF = """\
{user}worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        root {root}/cache;
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"""


def _worker_user() -> str:
    """nginx's workers run as the current user (only settable, and needed, as root)."""
    if os.geteuid() != 0:
        return ""
    import grp
    import pwd

    return (f"user {pwd.getpwuid(os.geteuid()).pw_name} "
            f"{grp.getgrgid(os.getegid()).gr_name};\n")


class Nginx:
    """nginx in the foreground, configured in ``root``, serving WebDAV PUT/GET."""

    def __init__(self, root: Path) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        assert os.path.exists(nginx), "nginx missing: run `bash .ci/setup` (nginx-light)"
        self.root = root
        for d in ("cache", "tmp", "logs"):
            (root / d).mkdir(parents=True, exist_ok=True)
        self.proc = None
        for _attempt in range(5):  # the free port may be taken in between: retry
            self.port = free_port()
            conf = root / "nginx.conf"
            conf.write_text(NGINX_CONF.format(user=_worker_user(), root=root, port=self.port))
            self.proc = subprocess.Popen(
                [nginx, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log"),
                 "-g", "daemon off;"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            if self._wait_ready():
                return
            self.stop()
        raise AssertionError(f"nginx did not start: {(root / 'error.log').read_text()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                req = urllib.request.Request(f"{self.url}/probe/x", data=b"ok", method="PUT")
                urllib.request.urlopen(req, timeout=2).close()
                with urllib.request.urlopen(f"{self.url}/probe/x", timeout=2) as r:
                    return r.read() == b"ok"
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: nginx's fast shutdown
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stored_entries(self) -> int:
        return sum(len(files) for _d, _s, files in os.walk(self.root / "cache"))


@pytest.fixture
def nginx(tmp_path):
    server = Nginx(tmp_path / "nginx")
    yield server
    server.stop()


def layer_paths(bazel):
    return [bazel.bin() / "cached" / f"layers.{g}_layer.tar.gz" for g in GROUPS]


def test_second_output_base_gets_every_layer_from_the_remote_cache(nginx, tmp_path):
    flags = [f"--remote_cache={nginx.url}", "--remote_upload_local_results"]

    ws1 = prepare(tmp_path / "first" / "ws")
    log1 = tmp_path / "exec1.json"
    first = layers_ws.build(ws1, tmp_path / "output_base_1", TARGET, *flags,
                            f"--execution_log_json_file={log1}")
    try:
        executed = [s for s in execlog.layer_spawns(log1) if s.executed]
        assert len(executed) == len(GROUPS), executed  # a cold cache: every layer runs
        digests1 = execlog.digests(layer_paths(first))
    finally:
        first.shutdown()
    assert nginx.stored_entries() > 2 * len(GROUPS)  # action results + layer blobs (CAS)

    # another checkout path, another output base: only the remote cache is shared
    ws2 = prepare(tmp_path / "elsewhere" / "checkout" / "ws")
    log2 = tmp_path / "exec2.json"
    second = layers_ws.build(ws2, tmp_path / "output_base_2", TARGET, *flags,
                             f"--execution_log_json_file={log2}")
    try:
        spawns = execlog.layer_spawns(log2)
        assert len(spawns) == len(GROUPS), spawns
        assert [s for s in spawns if s.executed] == []  # zero layer actions executed
        assert all(s.remote_cache_hit for s in spawns)
        assert execlog.digests(layer_paths(second)) == digests1
    finally:
        second.shutdown()
