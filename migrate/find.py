"""Find stage: the workspace root, and which files and targets a run looks at.

Selectors are buildozer-style: ``//...``, ``//pkg/...``, ``//pkg:all``,
``//pkg:target`` (relative to the workspace root), or paths to files and
directories. Directories are scanned recursively for ``BUILD``,
``BUILD.bazel`` and ``*.bzl`` files; ``.bazelignore`` entries, ``bazel-*``
output links, symlinked directories and nested workspaces are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

WORKSPACE_MARKERS = ("WORKSPACE", "WORKSPACE.bazel", "MODULE.bazel", "REPO.bazel")
BUILD_NAMES = ("BUILD", "BUILD.bazel")


class SelectionError(Exception):
    """A selector that names nothing usable (the CLI exits 2 with this message)."""


@dataclass(frozen=True)
class Selector:
    """One command-line selector, resolved against the workspace root."""

    path: str  # workspace-relative posix path of a directory or file ("" is the root)
    recursive: bool  # "/..." or a directory path
    target: str | None = None  # "//pkg:target"; None selects every call
    build_only: bool = False  # "//pkg:all" and "//pkg:target" look at the BUILD file only


@dataclass(frozen=True)
class Candidate:
    """A file to look at, and the target names selected in it (None: all)."""

    path: str  # workspace-relative posix path
    targets: frozenset[str] | None = None


def find_root(start: Path) -> Path | None:
    """Walk up from ``start`` to the directory holding a WORKSPACE/MODULE.bazel file."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for directory in (here, *here.parents):
        if any((directory / marker).is_file() for marker in WORKSPACE_MARKERS):
            return directory
    return None


def workspace_file(root: Path) -> Path | None:
    for name in ("WORKSPACE.bazel", "WORKSPACE"):
        if (root / name).is_file():
            return root / name
    return None


def is_build_file(name: str) -> bool:
    return name in BUILD_NAMES


def is_starlark_file(name: str) -> bool:
    return name in BUILD_NAMES or name.endswith(".bzl")


def parse_selector(arg: str, root: Path, cwd: Path) -> Selector:
    """Turn one command-line argument into a :class:`Selector`."""
    if arg.startswith("//") or arg.startswith("@//"):
        text = arg[1:] if arg.startswith("@") else arg
        body = text[2:]
        if body.endswith("/...") or body == "...":
            package = body[: -len("...")].rstrip("/")
            return Selector(_check_dir(root, package, arg), recursive=True)
        package, sep, target = body.partition(":")
        package = _check_dir(root, package, arg)
        if not sep or target in ("all", "*", "all-targets"):
            return Selector(package, recursive=False, build_only=True)
        if not target:
            raise SelectionError(f"{arg}: empty target name")
        return Selector(package, recursive=False, target=target, build_only=True)
    if arg.startswith("@"):
        raise SelectionError(f"{arg}: labels of other repositories cannot be migrated from here")
    path = (cwd / arg).resolve() if not Path(arg).is_absolute() else Path(arg).resolve()
    # keep a symlinked BUILD file's own path (not its target) inside the workspace
    raw = Path(os.path.abspath(cwd / arg))
    if raw.is_symlink() and raw.parent.resolve() != path.parent:
        path = raw.parent.resolve() / raw.name
    if not path.exists():
        raise SelectionError(f"{arg}: no such file or directory")
    try:
        rel = path.relative_to(root.resolve())
    except ValueError:
        raise SelectionError(f"{arg}: outside the workspace {root}") from None
    rel_text = "" if str(rel) == "." else rel.as_posix()
    if path.is_dir():
        return Selector(rel_text, recursive=True)
    return Selector(rel_text, recursive=False)


def _check_dir(root: Path, package: str, arg: str) -> str:
    package = package.strip("/")
    if not (root / package).is_dir():
        raise SelectionError(f"{arg}: no package {package or '(root)'} in {root}")
    return package


def read_bazelignore(root: Path) -> frozenset[str]:
    path = root / ".bazelignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return frozenset()
    entries = set()
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            entries.add(line.strip("/"))
    return frozenset(entries)


def walk(root: Path, start: str, ignored: frozenset[str]) -> Iterator[str]:
    """Yield the workspace-relative paths of Starlark files under ``start``."""
    top = root / start if start else root
    for dirpath, dirnames, filenames in os.walk(top):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        if rel_dir != start and any(marker in filenames for marker in WORKSPACE_MARKERS):
            dirnames[:] = []  # a nested workspace is another repository
            continue
        keep = []
        for name in sorted(dirnames):
            child = f"{rel_dir}/{name}" if rel_dir else name
            if name.startswith("bazel-") or name.startswith("."):
                continue
            if child in ignored or os.path.islink(os.path.join(dirpath, name)):
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            if is_starlark_file(name):
                yield f"{rel_dir}/{name}" if rel_dir else name


def select_files(root: Path, selectors: Iterable[Selector]) -> list[Candidate]:
    """The files named by ``selectors``, in a stable order, each with its target filter."""
    ignored = read_bazelignore(root)
    found: dict[str, set[str] | None] = {}

    def add(path: str, target: str | None) -> None:
        if path in found and found[path] is None:
            return
        if target is None:
            found[path] = None
        else:
            found.setdefault(path, set())
            existing = found[path]
            if existing is not None:
                existing.add(target)

    for selector in selectors:
        if selector.recursive:
            for path in walk(root, selector.path, ignored):
                add(path, None)
        elif selector.build_only:
            build = next(
                (f"{selector.path}/{n}".lstrip("/") for n in BUILD_NAMES
                 if (root / selector.path / n).is_file()),
                None,
            )
            if build is None:
                raise SelectionError(f"//{selector.path}: no BUILD or BUILD.bazel file")
            add(build, selector.target)
        else:
            add(selector.path, None)
    return [
        Candidate(path, None if targets is None else frozenset(targets))
        for path, targets in sorted(found.items())
    ]


def package_of(path: str) -> str:
    """The package a workspace-relative file belongs to (its directory)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""
