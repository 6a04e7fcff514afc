"""A real remote-execution service on loopback: BuildGrid's server plus our bot.

BuildGrid 0.2.53 (installed by ``.ci/setup`` into ``.tools/buildgrid-venv``)
serves CAS, ByteStream, ActionCache, Execution and Bots for one instance, with
an SQLite scheduler whose tables are created first (``Base.metadata.create_all``:
the server does not create them). The worker is ``reapi_bot.py``, with a
stable id and a short keepalive. Everything lives in one directory and both
processes are stopped by ``stop()``, which the caller runs in a ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .bazel import REPO
from .net import free_port

VENV = REPO / ".tools" / "buildgrid-venv"
PYTHON = VENV / "bin" / "python"
BGD = VENV / "bin" / "bgd"
BOT = Path(__file__).with_name("reapi_bot.py")
INSTANCE = "main"
BOT_ID = "pycross-test-bot"
KEEPALIVE_TIMEOUT = 10  # s without a bot update before its session (and leases) is dropped

CONFIG = """\
server:
  - !channel
    address: "127.0.0.1:{port}"
    insecure-mode: true
authorization:
  method: none
connections:
  - !sql-connection &sql
    connection-string: sqlite:///{root}/scheduler.db
storages:
  - !disk-storage &cas
    path: {root}/cas
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 4096
    allow-updates: true
    cache-failed-actions: false
schedulers:
  - !sql-scheduler &scheduler
    sql: *sql
    storage: *cas
    action-cache: *ac
    bot-session-keepalive-timeout: {keepalive}
    session-expiry-timer-interval: 2.0
    poll-interval: 0.2
    bot-poll-interval: 0.2
    max-execution-timeout: 600
    assigners:
      - !priority-age-assigner
        count: 1
        interval: 0.1
instances:
  - name: {instance}
    services:
      - !action-cache
        cache: *ac
      - !execution
        scheduler: *scheduler
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
monitoring:
  enabled: false
"""

CREATE_TABLES = """\
import sys
from sqlalchemy import create_engine
from buildgrid.server.sql.models import Base
engine = create_engine("sqlite:///" + sys.argv[1])
Base.metadata.create_all(engine)
engine.dispose()
"""


def require_buildgrid() -> None:
    """Fails (never skips) with the fix when BuildGrid is not installed."""
    if not (PYTHON.exists() and BGD.exists()):
        raise AssertionError(f"BuildGrid missing ({VENV}): run bash .ci/setup")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class BuildGrid:
    """``bgd server start`` and one bot, both in their own process group."""

    def __init__(self, root: Path) -> None:
        require_buildgrid()
        self.root = root
        self.port = 0
        self.server: subprocess.Popen | None = None
        self.bot: subprocess.Popen | None = None
        self._logs: list = []

    @property
    def url(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def _spawn(self, argv: list[str], log_name: str) -> subprocess.Popen:
        log = open(self.root / log_name, "wb")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PYTHONUNBUFFERED"] = "1"
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=self.root, start_new_session=True)

    def log(self, name: str) -> str:
        path = self.root / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def start(self) -> BuildGrid:
        self.root.mkdir(parents=True, exist_ok=True)
        db = self.root / "scheduler.db"
        subprocess.run([str(PYTHON), "-c", CREATE_TABLES, str(db)], check=True,
                       capture_output=True)
        for _attempt in range(5):  # the free port may be taken in between: retry
            self.port = free_port()
            conf = self.root / "bgd.yml"
            conf.write_text(CONFIG.format(port=self.port, root=self.root, instance=INSTANCE,
                                          keepalive=KEEPALIVE_TIMEOUT))
            self.server = self._spawn([str(BGD), "server", "start", str(conf)], "server.log")
            if self._wait(lambda: _port_open(self.port), self.server, 60):
                break
            self._stop(self.server)
            self.server = None
        else:
            raise AssertionError(f"BuildGrid did not start:\n{self.log('server.log')}")
        work = self.root / "bot"
        work.mkdir(exist_ok=True)
        # -P: not the script's folder on sys.path (this module would shadow BuildGrid)
        self.bot = self._spawn([str(PYTHON), "-P", str(BOT), "--server",
                                f"127.0.0.1:{self.port}", "--instance", INSTANCE,
                                "--bot-id", BOT_ID, "--work", str(work)], "bot.log")
        if not self._wait(lambda: "created" in self.log("bot.log"), self.bot, 60):
            raise AssertionError(f"the bot did not connect:\n{self.log('bot.log')}\n"
                                 f"server:\n{self.log('server.log')}")
        return self

    @staticmethod
    def _wait(ready, proc: subprocess.Popen, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if ready():
                return True
            time.sleep(0.2)
        return False

    @staticmethod
    def _stop(proc: subprocess.Popen | None) -> None:
        """Stops ``proc`` and anything it started (its own process group)."""
        if proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # the group: the leader and its children
            try:
                proc.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # children that outlived the leader
            os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        self._stop(self.bot)
        self._stop(self.server)
        self.bot = self.server = None
        for log in self._logs:
            log.close()
        self._logs.clear()
