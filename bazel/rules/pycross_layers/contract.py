"""The constants the Starlark rules share with the core, read from ``contract.bzl``.

That file is the one copy; this module only parses its literal assignments
(``ast.literal_eval``, no Starlark evaluated) and checks they are all there.
"""

from __future__ import annotations

import ast
import os

PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "contract.bzl")

_NAMES = (
    "COMPRESSION_METHODS",
    "COMPRESSION_EXTENSIONS",
    "DEFAULT_GROUPS_BEFORE",
    "DEFAULT_GROUPS_AFTER",
    "GROUP_NAME_FIRST",
    "GROUP_NAME_CHARS",
    "GROUP_NAME_MAX",
    "MANIFEST_MAGIC",
    "MANIFEST_VERSION",
    "MANIFEST_FIELDS",
)


def read(path: str = PATH) -> dict:
    """The top-level literal assignments of ``path`` (a .bzl file)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    missing = [n for n in _NAMES if n not in values]
    if missing:  # a packaging mistake, not a user error
        raise RuntimeError(f"{path}: missing {', '.join(missing)}")
    return values


_V = read()
COMPRESSION_METHODS: tuple[str, ...] = tuple(_V["COMPRESSION_METHODS"])
COMPRESSION_EXTENSIONS: dict[str, str] = dict(_V["COMPRESSION_EXTENSIONS"])
DEFAULT_GROUPS_BEFORE: tuple[str, ...] = tuple(_V["DEFAULT_GROUPS_BEFORE"])
DEFAULT_GROUPS_AFTER: tuple[str, ...] = tuple(_V["DEFAULT_GROUPS_AFTER"])
GROUP_NAME_FIRST: str = _V["GROUP_NAME_FIRST"]
GROUP_NAME_CHARS: str = _V["GROUP_NAME_CHARS"]
GROUP_NAME_MAX: int = _V["GROUP_NAME_MAX"]
MANIFEST_MAGIC: str = _V["MANIFEST_MAGIC"]
MANIFEST_VERSION: str = _V["MANIFEST_VERSION"]
MANIFEST_FIELDS: dict[str, int] = dict(_V["MANIFEST_FIELDS"])
del _V
