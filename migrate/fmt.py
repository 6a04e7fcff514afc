"""Text of new code, formatted the way buildifier prints it.

Attribute values are kept as *relative* text: their continuation lines are
indented relative to the attribute's own column, so a value can move from one
call to another at any nesting depth.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from migrate.model import NewAttr, NewCall
from migrate.rules import attr_sort_key

__all__ = ["NewAttr", "NewCall", "concat", "dict_code", "list_code", "render_call",
           "render_load", "string"]

INDENT = "    "


def string(value: str) -> str:
    """A Starlark string literal, double-quoted as buildifier prefers."""
    return json.dumps(value, ensure_ascii=False)


def list_code(items: Sequence[str], multiline: bool | None = None) -> str:
    """A list of already-formatted items (one per line when more than one)."""
    if multiline is None:
        multiline = len(items) > 1
    if not items:
        return "[]"
    if not multiline:
        return "[" + ", ".join(items) + "]"
    body = "".join(f"{INDENT}{_indent(item, INDENT)},\n" for item in items)
    return "[\n" + body + "]"


def dict_code(pairs: Sequence[tuple[str, str]]) -> str:
    if not pairs:
        return "{}"
    if len(pairs) == 1:
        key, value = pairs[0]
        return "{" + f"{key}: {value}" + "}"
    body = "".join(f"{INDENT}{key}: {_indent(value, INDENT)},\n" for key, value in pairs)
    return "{\n" + body + "}"


def _indent(code: str, prefix: str) -> str:
    """Indent the continuation lines of relative ``code`` by ``prefix``."""
    lines = code.split("\n")
    return "\n".join([lines[0], *((prefix + line) if line.strip() else line for line in lines[1:])])


def concat(left: str, right: str) -> str:
    return f"{left} + {right}"


def render_call(
    call: NewCall,
    indent: str,
    open_comment: str | None = None,
    closing: Sequence[str] = (),
    after: str | None = None,
) -> str:
    """One call statement; its first line is not indented (the block does that)."""
    inner = indent + INDENT
    head = f"{call.rule}("
    if open_comment:
        head += f"  {open_comment}"
    lines = [head]
    for attr in sorted(call.attrs, key=lambda a: attr_sort_key(a.name)):
        lines.extend(f"{inner}{comment}" for comment in attr.leading)
        value = attr.code if attr.verbatim else _indent(attr.code, inner)
        line = f"{inner}{attr.name} = {value},"
        if attr.trailing:
            line += f"  {attr.trailing}"
        lines.append(line)
    lines.extend(f"{inner}{comment}" for comment in closing)
    tail = f"{indent})"
    if after:
        tail += f"  {after}"
    lines.append(tail)
    return "\n".join(lines) + "\n"


def render_load(label: str, symbols: Sequence[tuple[str, str]], multiline: bool = False) -> str:
    """A load statement with its symbols in buildifier's order."""
    args = [string(label), *load_args(symbols)]
    if multiline:
        return "load(\n" + "".join(f"{INDENT}{a},\n" for a in args) + ")\n"
    return "load(" + ", ".join(args) + ")\n"


def load_args(symbols: Sequence[tuple[str, str]]) -> list[str]:
    plain = sorted({remote for local, remote in symbols if local == remote})
    aliased = sorted({(local, remote) for local, remote in symbols if local != remote})
    return [string(s) for s in plain] + [f"{local} = {string(remote)}" for local, remote in aliased]
