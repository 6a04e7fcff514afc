"""References, anywhere in the workspace, to the implicit targets of images.

rules_docker images have implicit targets (``:app.tar``, ``:app.digest``,
``:app.json.sha256``, ``:app.0``, ``:app-layer.tar``, ...). Before a run plans
anything it scans every Starlark file for string literals shaped like those, so
the planner knows which references keep working and which would break.
The same scan records each file's uses of ``@repo//`` labels, which say whether
a ``container_pull`` is still needed by rules_docker.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from migrate.find import package_of
from migrate.labels import parse_label
from migrate.model import ImplicitRef

_IMPLICIT = re.compile(
    rb"""["']([^"'\n]*?)(-layer\.tar|\.json\.sha256|\.json|\.digest|\.executable|\.tar"""
    rb"""|\.\d+-symlinks|\.\d+)["']"""
)
_REPO_USE = re.compile(rb"""["']@([A-Za-z0-9_.~+-]+)//""")
_LOCATION = re.compile(
    rb"""\$\((?:location|locations|execpath|execpaths|rootpath|rootpaths|rlocationpath)\s+"""
    rb"""([^)\s"']+?)(-layer\.tar|\.json\.sha256|\.json|\.digest|\.executable|\.tar"""
    rb"""|\.\d+-symlinks|\.\d+)\)"""
)
_ATTR = re.compile(rb"([A-Za-z_]\w*)\s*=(?!=)")
_TARGET = re.compile(rb"""(?m)^[ \t]*([A-Za-z_][\w.]*)\(\s*name\s*=\s*["']([^"'\n]+)["']""")
# attributes whose labels are read as files (a tar there is the tarball itself)
FILE_ATTRS = frozenset({"data", "srcs", "src", "tars", "files", "tools", "outs_tars"})


@dataclass(frozen=True)
class Scan:
    """What one file says about other targets."""

    refs: tuple[tuple[str, str, str, int, str, bool], ...]  # (package, name, text, line,
    #                                                          suffix, read as a file)
    repo_uses: tuple[tuple[str, int], ...]  # (repo, line)
    targets: tuple[tuple[str, str, int], ...] = ()  # (name, rule, line): "rule(name = ...)"


def scan(path: str, data: bytes) -> Scan:
    package = package_of(path)
    refs = []
    if b".tar" in data or b".digest" in data or b".json" in data or b"." in data:
        for match in _IMPLICIT.finditer(data):
            try:
                base = match.group(1).decode("utf-8")
            except UnicodeDecodeError:
                continue
            label = parse_label(base, package)
            if label is None or label.repo:
                continue
            suffix = match.group(2).decode("ascii")
            line = data.count(b"\n", 0, match.start()) + 1
            attr = _attribute_before(data, match.start())
            refs.append((label.package, label.name, base + suffix, line, suffix,
                         attr in FILE_ATTRS))
        if b"$(" in data:
            for match in _LOCATION.finditer(data):
                try:
                    base = match.group(1).decode("utf-8")
                except UnicodeDecodeError:
                    continue
                label = parse_label(base, package)
                if label is None or label.repo:
                    continue
                suffix = match.group(2).decode("ascii")
                line = data.count(b"\n", 0, match.start()) + 1
                refs.append((label.package, label.name, base + suffix, line, suffix, True))
    targets = []
    if b"name" in data:
        for match in _TARGET.finditer(data):
            try:
                rule, name = match.group(1).decode("ascii"), match.group(2).decode("utf-8")
            except UnicodeDecodeError:
                continue
            targets.append((name, rule, data.count(b"\n", 0, match.start(1)) + 1))
    uses = []
    if b"//" in data:
        for match in _REPO_USE.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            uses.append((match.group(1).decode("ascii"), line))
    return Scan(tuple(refs), tuple(uses), tuple(targets))


def _attribute_before(data: bytes, position: int) -> str | None:
    """The attribute a literal at ``position`` is the value of (the last ``name =`` before it)."""
    window = data[max(0, position - 2000):position]
    matches = list(_ATTR.finditer(window))
    return matches[-1].group(1).decode("ascii") if matches else None


def index_refs(scans: Mapping[str, Scan]) -> dict[str, dict[str, tuple[ImplicitRef, ...]]]:
    """package -> image name -> references to its implicit targets."""
    out: dict[str, dict[str, list[ImplicitRef]]] = {}
    for path, found in scans.items():
        for package, name, text, line, suffix, as_file in found.refs:
            target = f"//{package}:{name}"
            ref = ImplicitRef(path, line, text, target, suffix, as_file=as_file)
            out.setdefault(package, {}).setdefault(name, []).append(ref)
    return {p: {n: tuple(r) for n, r in names.items()} for p, names in out.items()}


def repo_uses(scans: Iterable[tuple[str, Scan]]) -> dict[str, tuple[str, ...]]:
    """repo -> "path:line" of every ``@repo//`` use."""
    out: dict[str, list[str]] = {}
    for path, found in scans:
        for repo, line in found.repo_uses:
            out.setdefault(repo, []).append(f"{path}:{line}")
    return {repo: tuple(places) for repo, places in out.items()}
