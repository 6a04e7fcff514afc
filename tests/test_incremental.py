"""Only the changed layer rebuilds: edit one first-party .py file, rebuild, and read
Bazel's execution log. Exactly one layer action runs (the app layer's); every
other layer file is byte-identical."""

from __future__ import annotations

import pytest

from support import execlog, layers_ws

pytestmark = pytest.mark.bazel

GROUPS = ["interpreter", "packages", "assets", "app"]


def layer_paths(bazel):
    return [bazel.bin() / "app" / f"layers.{g}_layer.tar.gz" for g in GROUPS]


def test_editing_app_code_reruns_only_the_app_layer_action(tmp_path):
    ws = layers_ws.prepare(tmp_path / "ws")
    log1, log2, log3 = (tmp_path / f"exec{i}.json" for i in (1, 2, 3))
    bazel = layers_ws.build(ws, tmp_path / "output_base", "//app:layers",
                            f"--execution_log_json_file={log1}")
    try:
        first = execlog.layer_spawns(log1)
        # the clean build runs one action per layer group
        assert len(first) == len(GROUPS), first
        for g in GROUPS:
            assert any(o.endswith(f"layers.{g}_layer.tar.gz") for s in first for o in s.outputs), g
        before = execlog.digests(layer_paths(bazel))

        greeting = ws / "lib" / "greeting.py"
        greeting.write_text(greeting.read_text().replace("Hello", "Hi there"))
        bazel.build("//app:layers", f"--execution_log_json_file={log2}")
        ran = [s for s in execlog.layer_spawns(log2) if s.executed]
        assert len(ran) == 1, ran
        assert any(o.endswith("layers.app_layer.tar.gz") for o in ran[0].outputs), ran
        after = execlog.digests(layer_paths(bazel))
        for g in GROUPS:
            name = f"layers.{g}_layer.tar.gz"
            if g == "app":
                assert after[name] != before[name]
            else:
                assert after[name] == before[name], name

        # nothing changed: no layer action at all
        bazel.build("//app:layers", f"--execution_log_json_file={log3}")
        assert execlog.layer_spawns(log3) == []
    finally:
        bazel.shutdown()


def test_layer_actions_run_unsandboxed_unless_told_and_write_the_same_bytes(tmp_path):
    """A sandbox would link every runfile in before each layer action: the rule
    marks them ``no-sandbox``; ``--modify_execution_info`` takes that back, and
    the layers are the same bytes either way."""
    ws = layers_ws.prepare(tmp_path / "ws")
    logs = [tmp_path / f"exec{i}.json" for i in range(2)]
    bazel = layers_ws.build(ws, tmp_path / "output_base", "//app:layers",
                            f"--execution_log_json_file={logs[0]}")
    try:
        plain = execlog.layer_spawns(logs[0])
        assert len(plain) == len(GROUPS) and {s.runner for s in plain} == {"local"}, plain
        unsandboxed = execlog.digests(layer_paths(bazel))
        bazel.build("//app:layers", "--modify_execution_info=PyImageLayer=-no-sandbox",
                    f"--execution_log_json_file={logs[1]}")
        boxed = [s for s in execlog.layer_spawns(logs[1]) if s.executed]
        assert len(boxed) == len(GROUPS), boxed  # the execution info is part of the key
        assert all("sandbox" in s.runner for s in boxed), boxed
        assert execlog.digests(layer_paths(bazel)) == unsandboxed
    finally:
        bazel.shutdown()
