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
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from migrate.find import package_of
from migrate.labels import Label, parse_label
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


class _Lines:
    """Line numbers of increasing offsets, counting each byte once."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0
        self.line = 1

    def at(self, offset: int) -> int:
        self.line += self.data.count(b"\n", self.offset, offset)
        self.offset = offset
        return self.line


class _Attributes:
    """The attribute a literal is the value of, for increasing offsets, scanning each byte once."""

    WINDOW = 2000  # an attribute further back than this is not the literal's

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.scanned = 0
        self.last: re.Match[bytes] | None = None

    def before(self, position: int) -> str | None:
        # matches never cross ``scanned``: it is the opening quote of the previous literal
        for match in _ATTR.finditer(self.data, self.scanned, position):
            self.last = match
        self.scanned = position
        if self.last is None or self.last.start() < position - self.WINDOW:
            return None
        return self.last.group(1).decode("ascii")


def _local_labels(pattern: re.Pattern[bytes], data: bytes,
                  package: str) -> Iterator[tuple[re.Match[bytes], Label, str, str]]:
    """(match, label, label text, suffix) for each match of ``pattern`` (group 1 a
    label, group 2 its suffix) that names a target of this repository."""
    for match in pattern.finditer(data):
        try:
            base = match.group(1).decode("utf-8")
        except UnicodeDecodeError:
            continue
        label = parse_label(base, package)
        if label is None or label.repo:
            continue
        yield match, label, base, match.group(2).decode("ascii")


def scan(path: str, data: bytes) -> Scan:
    """One pass of each pattern over the bytes: linear in the size of the file."""
    package = package_of(path)
    refs = []
    if b"." in data:
        lines, attributes = _Lines(data), _Attributes(data)
        for match, label, base, suffix in _local_labels(_IMPLICIT, data, package):
            attr = attributes.before(match.start())
            refs.append((label.package, label.name, base + suffix, lines.at(match.start()),
                         suffix, attr in FILE_ATTRS))
        if b"$(" in data:
            lines = _Lines(data)
            for match, label, base, suffix in _local_labels(_LOCATION, data, package):
                refs.append((label.package, label.name, base + suffix,
                             lines.at(match.start()), suffix, True))
    targets = []
    if b"name" in data:
        lines = _Lines(data)
        for match in _TARGET.finditer(data):
            try:
                rule, name = match.group(1).decode("ascii"), match.group(2).decode("utf-8")
            except UnicodeDecodeError:
                continue
            targets.append((name, rule, lines.at(match.start(1))))
    uses = []
    if b"//" in data:
        lines = _Lines(data)
        for match in _REPO_USE.finditer(data):
            uses.append((match.group(1).decode("ascii"), lines.at(match.start())))
    return Scan(tuple(refs), tuple(uses), tuple(targets))


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
