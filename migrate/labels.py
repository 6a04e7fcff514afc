"""Bazel labels: parsing and the buildifier order of label strings."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPLIT = re.compile(r"[.:]")


@dataclass(frozen=True)
class Label:
    """A resolved label: ``@repo//package:name`` (``repo`` is empty for the main repository)."""

    repo: str
    package: str
    name: str

    def __str__(self) -> str:
        prefix = f"@{self.repo}" if self.repo else ""
        return f"{prefix}//{self.package}:{self.name}"


def parse_label(text: str, current_package: str) -> Label | None:
    """Parse ``text`` as a label seen in ``current_package``; None when it is not one."""
    if not text or any(c in text for c in " \t\n\"'$(){}"):
        return None
    repo = ""
    rest = text
    if rest.startswith("@"):
        repo, sep, rest = rest[1:].partition("//")
        repo = repo.lstrip("@")
        if not sep:
            # "@repo" means "@repo//:repo"
            return Label(repo, "", repo) if repo else None
        rest = "//" + rest
    if rest.startswith("//"):
        package, sep, name = rest[2:].partition(":")
        if not sep:
            name = package.rsplit("/", 1)[-1]
        return Label(repo, package, name) if name else None
    if rest.startswith(":"):
        return Label(repo, current_package, rest[1:]) if rest[1:] else None
    if ":" in rest:
        return None
    # a bare name such as "app.tar" is a target of the current package
    return Label(repo, current_package, rest)


_LONG_LABEL = re.compile(r"(@[A-Za-z0-9_.~+-]*)?//([^:]*):(.+)")


def shorten_label(text: str) -> str:
    """Buildifier's short form: ``//a/b:b`` -> ``//a/b``, ``@r//:r`` -> ``@r``."""
    match = _LONG_LABEL.fullmatch(text)
    if match is None:
        return text
    repo, package, name = match.group(1) or "", match.group(2), match.group(3)
    if not package and repo and name == repo[1:]:
        return repo
    if package and package.rsplit("/", 1)[-1] == name:
        return f"{repo}//{package}"
    return text


def buildifier_string_key(value: str) -> tuple[int, list[str], str]:
    """The key buildifier uses to sort string lists (``deps``, ``srcs``, ...)."""
    if value.startswith(":"):
        phase = 1
    elif value.startswith("//"):
        phase = 2
    elif value.startswith("@"):
        phase = 3
    else:
        phase = 0
    return (phase, _SPLIT.split(value), value)


def load_label_key(label: str) -> tuple[int, int, str, str]:
    """The key buildifier uses to order ``load`` statements."""
    explicit_repo = 0 if label.startswith("@") else 1
    package, sep, filename = label.partition(":")
    if not sep:
        package, filename = "", package
    # Within a group, loads from the same file's package (":x.bzl") come last.
    empty_package = 1 if not package else 0
    return (explicit_repo, empty_package, package, filename)
