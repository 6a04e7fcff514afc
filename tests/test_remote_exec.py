"""Real remote execution: the layer actions run on a BuildGrid worker, and the
layers it makes are byte-identical to a local build's.

BuildGrid 0.2.53 (CAS, ByteStream, ActionCache, Execution, Bots; SQLite
scheduler) runs on loopback with the test's own bot (tests/support/reapi_bot.py),
which runs each action in a temporary directory on this machine. Bazel builds
the layers of the ``//cached`` package (see tests/support/layers_ws.py) with
``--remote_executor`` and ``--spawn_strategy=remote``; the execution log shows
every PyImageLayer action with runner "remote". The same workspace, built
locally in another output base, gives the same bytes: Bazel 4.2.3 sends every
input as executable, and a layer's file modes come from content, not disk.
The server, the bot, both Bazel servers and the temporary directory are gone
at the end, pass or fail.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from support import execlog, layers_ws
from support.remote_exec import INSTANCE, BuildGrid, require_buildgrid

pytestmark = pytest.mark.bazel


def _rmtree(path: Path) -> None:
    """Removes a tree that holds Bazel's read-only output base."""
    def onerror(func, p, _exc):
        os.chmod(os.path.dirname(p), stat.S_IRWXU)
        if os.path.isdir(p) and not os.path.islink(p):
            os.chmod(p, stat.S_IRWXU)
        func(p)

    shutil.rmtree(path, onerror=onerror)


@pytest.fixture
def workdir():
    path = Path(tempfile.mkdtemp(prefix="pycross-rexec-"))
    try:
        yield path
    finally:
        _rmtree(path)


@pytest.fixture
def buildgrid(workdir):
    require_buildgrid()
    grid = BuildGrid(workdir / "buildgrid")
    try:
        yield grid.start()
    finally:
        grid.stop()


def test_layer_actions_run_remotely_and_match_a_local_build(buildgrid, workdir):
    ws = layers_ws.prepare_cached(workdir / "ws")
    log = workdir / "exec_remote.json"
    flags = [f"--remote_executor={buildgrid.url}", f"--remote_instance_name={INSTANCE}",
             "--spawn_strategy=remote", "--jobs=4", "--remote_timeout=120",
             f"--execution_log_json_file={log}"]
    remote = layers_ws.Bazel(ws, workdir / "output_base_remote", list(layers_ws.FLAGS))
    try:
        proc = remote.build(layers_ws.CACHED_TARGET, *flags, check=False)
        assert proc.returncode == 0, (
            f"remote build failed:\n{proc.stderr[-6000:]}\n"
            f"bot:\n{buildgrid.log('bot.log')}\nserver:\n{buildgrid.log('server.log')}")
        spawns = execlog.layer_spawns(log)
        assert len(spawns) == len(layers_ws.CACHED_GROUPS), spawns
        assert {s.runner for s in spawns} == {"remote"}, spawns
        assert not any(s.remote_cache_hit for s in spawns), spawns  # executed, not cached
        remote_digests = execlog.digests(layers_ws.cached_layer_paths(remote))
    finally:
        remote.shutdown()
    assert "ran " in buildgrid.log("bot.log")  # the bot, not a fallback, ran them

    local_log = workdir / "exec_local.json"
    local = layers_ws.Bazel(ws, workdir / "output_base_local", list(layers_ws.FLAGS))
    try:
        local.build(layers_ws.CACHED_TARGET, "--spawn_strategy=local",
                    f"--execution_log_json_file={local_log}")
        assert {s.runner for s in execlog.layer_spawns(local_log)} == {"local"}
        assert execlog.digests(layers_ws.cached_layer_paths(local)) == remote_digests
    finally:
        local.shutdown()
