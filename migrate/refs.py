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


@dataclass(frozen=True)
class Scan:
    """What one file says about other targets."""

    refs: tuple[tuple[str, str, str, int, str], ...]  # (package, name, text, line, suffix)
    repo_uses: tuple[tuple[str, int], ...]  # (repo, line)


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
            refs.append((label.package, label.name, base + suffix, line, suffix))
    uses = []
    if b"//" in data:
        for match in _REPO_USE.finditer(data):
            line = data.count(b"\n", 0, match.start()) + 1
            uses.append((match.group(1).decode("ascii"), line))
    return Scan(tuple(refs), tuple(uses))


def index_refs(scans: Mapping[str, Scan]) -> dict[str, dict[str, tuple[ImplicitRef, ...]]]:
    """package -> image name -> references to its implicit targets."""
    out: dict[str, dict[str, list[ImplicitRef]]] = {}
    for path, found in scans.items():
        for package, name, text, line, suffix in found.refs:
            target = f"//{package}:{name}"
            ref = ImplicitRef(path, line, text, target, suffix)
            out.setdefault(package, {}).setdefault(name, []).append(ref)
    return {p: {n: tuple(r) for n, r in names.items()} for p, names in out.items()}


def repo_uses(scans: Iterable[tuple[str, Scan]]) -> dict[str, tuple[str, ...]]:
    """repo -> "path:line" of every ``@repo//`` use."""
    out: dict[str, list[str]] = {}
    for path, found in scans:
        for repo, line in found.repo_uses:
            out.setdefault(repo, []).append(f"{path}:{line}")
    return {repo: tuple(places) for repo, places in out.items()}
