"""Reads Bazel's ``--execution_log_json_file``: which spawns ran, which were cache hits.

Bazel 4 to 6 write a stream of pretty-printed ``SpawnExec`` JSON objects, one
after the other (not one JSON array); later versions may write one object per
line. Both are read by decoding objects one at a time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

LAYER_MNEMONIC = "PyImageLayer"


@dataclass(frozen=True)
class Spawn:
    mnemonic: str
    outputs: tuple[str, ...]
    remote_cache_hit: bool
    runner: str

    @property
    def executed(self) -> bool:
        """Whether the command ran here (not served by a cache)."""
        return not self.remote_cache_hit


def read_log(path: Path) -> list[Spawn]:
    text = path.read_text()
    decoder = json.JSONDecoder()
    spawns, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return spawns
        obj, pos = decoder.raw_decode(text, pos)
        listed = [o for o in obj.get("listedOutputs", []) if isinstance(o, str)]
        actual = [o.get("path", "") for o in obj.get("actualOutputs", []) if isinstance(o, dict)]
        outputs = tuple(listed or actual)
        spawns.append(Spawn(
            mnemonic=obj.get("mnemonic", ""),
            outputs=outputs,
            remote_cache_hit=bool(obj.get("remoteCacheHit", False)),
            runner=obj.get("runner", ""),
        ))


def layer_spawns(path: Path) -> list[Spawn]:
    return [s for s in read_log(path) if s.mnemonic == LAYER_MNEMONIC]


def digests(paths) -> dict[str, str]:
    """sha256 of each file, keyed by its name."""
    return {Path(p).name: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}
