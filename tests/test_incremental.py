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
