"""Helpers every kind planner shares: names of new targets, bases, references."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

from migrate.fmt import string
from migrate.kinds.table import Refuse
from migrate.model import Attr, Context, ImplicitRef, RuleCall, Value

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


def base_code(attr: Attr, ctx: Context) -> tuple[str, tuple[str, ...], str]:
    """(new code, bases used, note) of a ``base``; a constant holding ``@x//image`` is
    written out as ``"@x"``, since the constant itself may serve other targets."""
    value = resolved(attr.value, ctx)
    code, bases = map_base(value, ctx.options.base_suffix)
    if value is not attr.value:
        if code == value.code:
            return attr.value.code, bases, ""
        return code, bases, f"{attr.value.code} (= {value.code}) written as {code}"
    return code, bases, "" if code == attr.value.code else "@x//image -> @x (an oci_pull)"


def references(call: RuleCall, refs: Mapping[str, tuple[ImplicitRef, ...]],
               equivalents: Mapping[str, str], file_equivalent: str | None = None,
               ) -> tuple[tuple[ImplicitRef, ...], list[str]]:
    """Classify the references to this call's implicit targets: (kept, blocking reasons).

    ``:NAME.tar`` read as a file (``data``, ``srcs``, ``$(location)``) was rules_docker's
    tarball: it becomes ``:NAME.tarball`` (``file_equivalent``); used as a target
    (``bazel run``) it stays the ``oci_load`` named ``NAME.tar``.
    """
    if call.name is None:
        return (), []
    kept: list[ImplicitRef] = []
    blocking: list[str] = []
    for ref in refs.get(call.name, ()):
        if ref.suffix == ".tar" and ref.as_file and file_equivalent is not None:
            kept.append(dataclasses.replace(
                ref, equivalent=file_equivalent.replace("NAME", call.name),
                replacement=ref.text[: -len(".tar")] + ".tarball"))
            continue
        equivalent = equivalents.get(ref.suffix)
        if equivalent:
            kept.append(dataclasses.replace(ref, equivalent=equivalent.replace("NAME", call.name)))
        else:
            blocking.append(
                f"{ref.path}:{ref.line} uses {ref.text}, which has no rules_oci equivalent"
            )
    return tuple(kept), blocking


def unreadable(attr: Attr, call: RuleCall, ctx: Context, params_ok: bool = False) -> str | None:
    """Why the value of ``attr`` cannot be read here (None when it can).

    A literal, a ``select()`` of literals and a string constant of the same file
    can be read; a function call or a variable from another file cannot. A
    parameter of the enclosing macro is what its callers pass: fine where the
    value is used as it is (``params_ok``), not where it has to be rewritten.
    """
    value = attr.value
    if value.kind == "string" or value.strings is not None:
        return None
    if value.kind == "name":
        name = value.code
        if name in ctx.constants:
            return None
        if name in call.params:
            if params_ok:
                return None
            return (f"{attr.name} is the macro parameter {name}: the values its callers pass "
                    "are not rewritten")
        return (f"{attr.name} = {name} cannot be read: a variable defined in another file "
                "(load it, or write the value)")
    if value.calls:
        return (f"{attr.name} = {_first_line(value.code)} cannot be read: "
                f"it calls {value.calls[0]}()")
    foreign = [n for n in value.names if n not in ctx.constants
               and not (params_ok and n in call.params)]
    if foreign:
        return (f"{attr.name} = {_first_line(value.code)} cannot be read: it uses the "
                f"variable {foreign[0]}")
    return None


def resolved(value: Value, ctx: Context) -> Value:
    """A string constant of the file, as the literal it holds."""
    if value.kind == "name" and value.code in ctx.constants:
        text = ctx.constants[value.code]
        return Value(string(text), "string", text, literals=(text,))
    return value


def labels_in(value: Value, ctx: Context) -> tuple[str, ...]:
    """The label literals a (readable) value can take: a literal, a constant, select() branches."""
    value = resolved(value, ctx)
    if value.kind == "string":
        return (value.string,) if value.string is not None else ()
    if value.kind == "select":
        found: list[str] = []
        for _, branch in (value.items[0].entries if value.items else ()):
            found.extend(labels_in(branch, ctx))
        return tuple(found)
    return tuple(ctx.constants.get(n, "") for n in value.names if n in ctx.constants)


def _first_line(code: str) -> str:
    line = code.splitlines()[0] if code else code
    return line if len(line) <= 60 else line[:57] + "..."


def map_base_attr(attr: Attr, call: RuleCall, ctx: Context) -> tuple[str, str] | Refuse:
    """The ``Map`` of an image's ``base`` (``container_image``, ``py3_image``):
    its rules_oci code and note, or a refusal when the value cannot be read."""
    problem = unreadable(attr, call, ctx)
    if problem is not None:
        return Refuse("{attr}" + problem[len(attr.name):])
    code, _, note = base_code(attr, ctx)
    return code, note
