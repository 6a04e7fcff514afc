"""Helpers every kind planner shares: names of new targets, bases, references."""

from __future__ import annotations

import re

from migrate.fmt import string
from migrate.model import ImplicitRef, RuleCall, Value

_BASE = re.compile(r"""(["'])@([A-Za-z0-9_.~+-]+)//image(?::image)?\1""")
_PULL_REPO = re.compile(r"^@([A-Za-z0-9_.~+-]+)$")

# attributes every rule takes; they go to every new call
COMMON_ATTRS = frozenset(
    {"visibility", "tags", "testonly", "target_compatible_with", "compatible_with",
     "restricted_to", "features", "deprecation", "licenses", "exec_compatible_with",
     "exec_properties", "applicable_licenses", "package_metadata"}
)


def display_name(call: RuleCall) -> str:
    return call.name or call.name_code or call.name_text or "?"


def named(call: RuleCall, suffix: str, prefix: str = "") -> str:
    """The code of ``prefix + name + suffix`` (a literal, or an expression in a macro)."""
    if call.name is not None:
        return string(prefix + call.name + suffix)
    head = f"{string(prefix)} + " if prefix else ""
    return f"{head}{call.name_code} + {string(suffix)}" if suffix else f"{head}{call.name_code}"


def map_base(value: Value, suffix: str) -> tuple[str, tuple[str, ...]]:
    """``"@x//image"`` (also inside a select) -> ``"@x"``; returns new code and bases used."""
    found: list[str] = []

    def repl(match: re.Match[str]) -> str:
        repo = match.group(2) + suffix
        found.append("@" + repo)
        return string("@" + repo)

    code = _BASE.sub(repl, value.code)
    if value.kind == "string" and value.string and _PULL_REPO.match(value.string):
        found.append(value.string)
    return code, tuple(dict.fromkeys(found))


def references(call: RuleCall, refs: dict[str, tuple[ImplicitRef, ...]] | object,
               equivalents: dict[str, str]) -> tuple[tuple[ImplicitRef, ...], list[str]]:
    """Classify the references to this call's implicit targets: (kept, blocking reasons)."""
    if call.name is None:
        return (), []
    kept: list[ImplicitRef] = []
    blocking: list[str] = []
    for ref in refs.get(call.name, ()):  # type: ignore[attr-defined]
        equivalent = equivalents.get(ref.suffix)
        if ref.replacement is not None or equivalent:
            kept.append(ImplicitRef(ref.path, ref.line, ref.text, ref.target, ref.suffix,
                                    ref.equivalent or (equivalent or "").replace("NAME",
                                                                                  call.name),
                                    ref.replacement))
        else:
            blocking.append(
                f"{ref.path}:{ref.line} uses {ref.text}, which has no rules_oci equivalent"
            )
    return tuple(kept), blocking
