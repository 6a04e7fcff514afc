"""The differences between two loaded images: filesystems and configs.

A difference names *what* (a path, or a config key such as ``env:PATH``,
``labels:version``, ``exposed_ports:5000/tcp``, ``entrypoint``), the *field*
that differs (``type``, ``content``, ``mode``, ``owner``, ``target`` for a
path; ``value`` for the config) and both values. ``--map OLD=NEW`` rewrites
image A's paths (and absolute symlink targets, the working directory and
absolute entrypoint/cmd arguments) before comparing; ``--ignore REGEX`` drops
differences whose path or config key it matches (``re.search``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from imagediff.merge import Entry

PathMap = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Difference:
    """One difference. ``a``/``b`` are ``None`` when the thing is absent on that side."""

    change: str  # added, removed, changed
    scope: str  # file, config
    what: str  # path or config key
    field: str  # type, content, mode, owner, target, value
    a: Any = None
    b: Any = None


def parse_map(specs: Iterable[str]) -> list[tuple[str, str]]:
    """``OLD=NEW`` path prefixes, longest first. Raises ValueError on a bad spec."""
    out = []
    for spec in specs:
        old, sep, new = spec.partition("=")
        if not sep or not old.startswith("/") or not new.startswith("/"):
            raise ValueError(f"--map {spec!r}: expected /OLD=/NEW (absolute path prefixes)")
        out.append((posixpath.normpath(old), posixpath.normpath(new)))
    return sorted(out, key=lambda p: -len(p[0]))


def map_path(path: str, mapping: PathMap) -> str:
    for old, new in mapping:
        if path == old:
            return new
        if path.startswith(old.rstrip("/") + "/"):
            return posixpath.normpath(new + "/" + path[len(old):].lstrip("/"))
    return path


def map_files(entries: dict[str, Entry], mapping: PathMap) -> dict[str, Entry]:
    """Image A's table with ``mapping`` applied to paths and absolute symlink targets.

    Parent directories that exist only because of a mapped path (``/app`` for
    ``/app/x.runfiles`` -> ``/srv/x.runfiles``) stay where they were.
    """
    if not mapping:
        return entries
    out: dict[str, Entry] = {}
    for path, entry in entries.items():
        if entry.kind == "symlink" and entry.target.startswith("/"):
            entry = replace(entry, target=map_path(entry.target, mapping))
        new = map_path(path, mapping)
        if new in out and new != path and out[new].kind == "dir" and entry.kind == "dir":
            continue  # a mapped directory lands on one A already has: keep A's own
        out[new] = entry
    return out


def compare_files(a: dict[str, Entry], b: dict[str, Entry]) -> list[Difference]:
    diffs = []
    for path in sorted(a.keys() | b.keys()):
        ea, eb = a.get(path), b.get(path)
        if ea is None:
            diffs.append(Difference("added", "file", path, "type", None, _describe(eb)))
        elif eb is None:
            diffs.append(Difference("removed", "file", path, "type", _describe(ea), None))
        elif ea.kind != eb.kind:
            diffs.append(Difference("changed", "file", path, "type", ea.kind, eb.kind))
        else:
            if ea.digest != eb.digest:
                diffs.append(Difference("changed", "file", path, "content", ea.digest, eb.digest))
            if ea.target != eb.target:
                diffs.append(Difference("changed", "file", path, "target", ea.target, eb.target))
            if ea.mode != eb.mode:
                diffs.append(Difference("changed", "file", path, "mode",
                                        f"{ea.mode:04o}", f"{eb.mode:04o}"))
            if (ea.uid, ea.gid) != (eb.uid, eb.gid):
                diffs.append(Difference("changed", "file", path, "owner",
                                        f"{ea.uid}:{ea.gid}", f"{eb.uid}:{eb.gid}"))
    return diffs


def _describe(entry: Entry | None) -> str | None:
    if entry is None:
        return None
    if entry.kind == "symlink":
        return f"symlink -> {entry.target}"
    return entry.kind


# config key -> (location in the config, kind): "list" compared whole, "map" per key
_SCALARS = [("architecture", ("architecture",)), ("os", ("os",)), ("variant", ("variant",)),
            ("user", ("config", "User")), ("working_dir", ("config", "WorkingDir")),
            ("stop_signal", ("config", "StopSignal"))]
_LISTS = [("entrypoint", ("config", "Entrypoint")), ("cmd", ("config", "Cmd"))]
_MAPS = [("env", ("config", "Env")), ("exposed_ports", ("config", "ExposedPorts")),
         ("volumes", ("config", "Volumes")), ("labels", ("config", "Labels"))]


def _get(config: dict[str, Any], where: tuple[str, ...]) -> Any:
    value: Any = config
    for key in where:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _as_map(name: str, value: Any) -> dict[str, Any]:
    if not value:
        return {}
    if name == "env":
        return dict(item.partition("=")[::2] for item in value if isinstance(item, str))
    if isinstance(value, dict):
        return {k: (v if name == "labels" else None) for k, v in value.items()}
    if isinstance(value, list):  # some writers use lists for ports and volumes
        return dict.fromkeys(value)
    return {str(value): None}


def _map_arg(value: Any, mapping: PathMap) -> Any:
    if isinstance(value, str) and value.startswith("/"):
        return map_path(value, mapping)
    return value


def compare_configs(a: dict[str, Any], b: dict[str, Any],
                    mapping: PathMap = ()) -> list[Difference]:
    diffs = []
    for key, where in _SCALARS:
        va, vb = _get(a, where) or None, _get(b, where) or None
        if key == "working_dir":
            va = _map_arg(va, mapping)
        if va != vb:
            diffs.append(Difference(_change(va, vb), "config", key, "value", va, vb))
    for key, where in _LISTS:
        va, vb = _get(a, where) or [], _get(b, where) or []
        va = [_map_arg(v, mapping) for v in va]
        if va != vb:
            diffs.append(Difference(_change(va, vb), "config", key, "value",
                                    va or None, vb or None))
    for name, where in _MAPS:
        ma, mb = _as_map(name, _get(a, where)), _as_map(name, _get(b, where))
        for item in sorted(ma.keys() | mb.keys()):
            key = f"{name}:{item}"
            if item not in mb:
                diffs.append(Difference("removed", "config", key, "value", ma[item], None))
            elif item not in ma:
                diffs.append(Difference("added", "config", key, "value", None, mb[item]))
            elif ma[item] != mb[item]:
                diffs.append(Difference("changed", "config", key, "value", ma[item], mb[item]))
    return diffs


def _change(va: Any, vb: Any) -> str:
    if not va:
        return "added"
    return "removed" if not vb else "changed"


def compile_ignores(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    out = []
    for pattern in patterns:
        try:
            out.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"--ignore {pattern!r}: {exc}") from None
    return out


def drop_ignored(diffs: Iterable[Difference],
                 ignores: Sequence[re.Pattern[str]]) -> list[Difference]:
    return [d for d in diffs if not any(p.search(d.what) for p in ignores)]
