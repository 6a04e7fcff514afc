"""Which layer group an entry belongs to.

Groups are checked in this order, first match wins:

1. the custom ``layer_groups``, in the order given: a *regex group* matches
   its pattern against the path, and also against the path without a bzlmod
   canonical prefix (``rules_python++pip+pypi_311_torch/x`` is also tried as
   ``pypi_311_torch/x``, ``rules_python~~pip~pypi_311_torch/x`` likewise); a
   *dependency group* (``NAME:deps``) takes the paths the manifest's
   ``member`` lines list for it (the files of its dependencies' runfiles);
2. ``interpreter``: Python toolchain repositories, in the WORKSPACE
   (``python_3_11_x86_64-unknown-linux-gnu``), Bazel 7 bzlmod
   (``rules_python~~python~python_3_11_...``) and Bazel 8 bzlmod
   (``rules_python++python+python_3_11_...``) naming schemes;
3. ``packages``: pip/pypi repositories (``pip_deps_flask``, ``pypi_flask``,
   ``rules_python~~pip~pypi_311_flask``), and any file of an external
   repository under ``site-packages/`` or a ``*.dist-info/`` directory;
4. ``app``: everything else, including the launcher.

Every pattern is matched with ``re.match`` against the path relative to the
runfiles root (``<repo>/<path in repo>``), so it is anchored at the start of
that path: never against a host path or a whole manifest line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from . import contract
from .errors import LayerError

INTERPRETER, PACKAGES = contract.DEFAULT_GROUPS_BEFORE
(APP,) = contract.DEFAULT_GROUPS_AFTER
RESERVED = (*contract.DEFAULT_GROUPS_BEFORE, *contract.DEFAULT_GROUPS_AFTER)
NAME_MAX = contract.GROUP_NAME_MAX

_NAME = re.compile(
    f"[{re.escape(contract.GROUP_NAME_FIRST)}][{re.escape(contract.GROUP_NAME_CHARS)}]*\\Z")
# An optional bzlmod canonical prefix ending in '~' or '+', then the apparent name.
_CANONICAL = r"(?:[^/]*[~+])?"
_CPU = r"(?:x86_64|aarch64|arm64|armv7|i[3-6]86|ppc64le|s390x|riscv64)"
INTERPRETER_PATTERN = _CANONICAL + r"python[A-Za-z0-9_]*_" + _CPU + r"-[A-Za-z0-9_-]+/"
PIP_REPO_PATTERN = _CANONICAL + r"(?:pip|pypi)(?:[_-][A-Za-z0-9_.-]*)?/"
SITE_PACKAGES_PATTERN = r"[^/]+/(?:[^/]+/)*?(?:site-packages|[^/]+\.dist-info)/"


_CANONICAL_PREFIX = re.compile(r"[^/]*[~+]")
DEPS_SUFFIX = ":deps"


@dataclass(frozen=True)
class Group:
    """A named layer group: a compiled pattern, or (pattern None) a dependency
    group whose members are runfiles paths."""

    name: str
    pattern: re.Pattern[str] | None
    members: frozenset[str] = frozenset()


def parse_group_spec(spec: str) -> tuple[str, str | None]:
    """Splits ``NAME=REGEX``, or reads ``NAME:deps`` (the ``--group`` flag)."""
    name, sep, regex = spec.partition("=")
    if sep:
        return name, regex
    if spec.endswith(DEPS_SUFFIX) and len(spec) > len(DEPS_SUFFIX):
        return spec[:-len(DEPS_SUFFIX)], None
    raise LayerError(f"--group {spec!r}: expected NAME=REGEX or NAME{DEPS_SUFFIX}")


def without_canonical_prefix(path: str) -> str | None:
    """``pypi_311_torch/x`` for ``rules_python++pip+pypi_311_torch/x`` (None if no prefix)."""
    m = _CANONICAL_PREFIX.match(path)
    return path[m.end():] if m else None


def nested_quantifier(regex: str) -> str | None:
    """Why ``regex`` risks catastrophic backtracking, or None.

    A group that holds a quantifier (``*``, ``+``, ``{``) and is itself
    repeated with ``*``, ``+`` or ``{`` -- ``(a+)+``, ``(?:x*y)*``, ``(a|b+){2,}``
    -- can take exponential time on a path that almost matches, which would hang
    the build. Such a pattern is refused; write the repetition once (``a+``).
    The same scan as ``regex_error`` in bazel/rules/private/validate.bzl.
    """
    quantified = []  # per open group: whether a quantifier was seen inside
    i, n = 0, len(regex)
    prev = ""
    while i < n:
        c = regex[i]
        if c == "\\":
            i += 2
            prev = "x"
            continue
        if c == "[":
            j = i + 1
            if j < n and regex[j] == "^":
                j += 1
            if j < n and regex[j] == "]":
                j += 1
            while j < n and regex[j] != "]":
                j += 2 if regex[j] == "\\" else 1
            i = j + 1
            prev = "x"
            continue
        if c == "(":
            quantified.append(False)
        elif c == ")":
            inner = quantified.pop() if quantified else False
            if inner and i + 1 < n and regex[i + 1] in "*+{":
                return (f"nested quantifier: the group closed at position {i} repeats a "
                        "pattern that is itself repeated (like `(a+)+`), which can backtrack "
                        "for ever; repeat once, e.g. `a+` instead of `(a+)+`")
            if inner and quantified:
                quantified[-1] = True
        elif c in "*+{" and prev != "(" and quantified:
            quantified[-1] = True
        prev = c
        i += 1
    return None


def regex_error(regex: str) -> str | None:
    """What is wrong with a group regex (invalid, or a nested quantifier), or None."""
    try:
        re.compile(regex)
    except re.error as e:
        return str(e)
    return nested_quantifier(regex)


def compile_groups(pairs: Iterable[tuple[str, str | None]]) -> list[Group]:
    """Validates and compiles custom groups, keeping their order."""
    groups: list[Group] = []
    seen = set()
    for name, regex in pairs:
        if len(name) > NAME_MAX:
            raise LayerError(
                f"layer group name {name[:20]!r}... is {len(name)} characters long; at most "
                f"{NAME_MAX} (it becomes part of file names)"
            )
        if not _NAME.match(name):
            raise LayerError(
                f"layer group name {name!r} is not a simple identifier "
                "(letters, digits, '_', not starting with a digit)"
            )
        if name in RESERVED:
            raise LayerError(
                f"layer group name {name!r} is reserved for a default layer "
                f"({', '.join(RESERVED)}); pick another name"
            )
        if name in seen:
            raise LayerError(f"layer group {name!r} is given twice")
        seen.add(name)
        if regex is None:
            groups.append(Group(name, None))
            continue
        try:
            pattern = re.compile(regex)
        except re.error as e:
            raise LayerError(f"layer group {name!r}: invalid regex {regex!r}: {e}") from None
        nested = nested_quantifier(regex)
        if nested:
            raise LayerError(f"layer group {name!r}: regex {regex!r} is refused: {nested}")
        groups.append(Group(name, pattern))
    return groups


class Classifier:
    """Maps runfiles paths to group names."""

    def __init__(self, groups: Sequence[Group], workspace: str,
                 members: Mapping[str, Iterable[str]] | None = None) -> None:
        members = members or {}
        unknown = sorted(set(members) - {g.name for g in groups if g.pattern is None})
        if unknown:
            raise LayerError(f"manifest lists members of {', '.join(unknown)}, which "
                             f"--group does not declare as NAME{DEPS_SUFFIX}")
        self.groups = [Group(g.name, None, frozenset(members.get(g.name, ())))
                       if g.pattern is None else g for g in groups]
        self.workspace = workspace
        self._interpreter = re.compile(INTERPRETER_PATTERN)
        self._pip = re.compile(PIP_REPO_PATTERN)
        self._site = re.compile(SITE_PACKAGES_PATTERN)
        self._legacy = f"{workspace}/external/"

    @property
    def order(self) -> list[str]:
        """Layer names in image order: interpreter, packages, custom groups, app."""
        return [INTERPRETER, PACKAGES, *(g.name for g in self.groups), APP]

    def classify(self, runfiles_path: str | None) -> str:
        """The group of one path relative to the runfiles root (None: the launcher)."""
        if runfiles_path is None:
            return APP
        bare = without_canonical_prefix(runfiles_path) if self.groups else None
        for g in self.groups:
            if g.pattern is None:
                if runfiles_path in g.members:
                    return g.name
            elif g.pattern.match(runfiles_path) or (bare and g.pattern.match(bare)):
                return g.name
        path = runfiles_path
        # Bazel's legacy external runfiles repeat each repository under <ws>/external/.
        if path.startswith(self._legacy):
            path = path[len(self._legacy):]
        elif path.startswith(self.workspace + "/") or path == self.workspace:
            return APP
        if "/" not in path:  # a file at the runfiles root, such as _repo_mapping
            return APP
        if self._interpreter.match(path):
            return INTERPRETER
        if self._pip.match(path) or self._site.match(path):
            return PACKAGES
        return APP
