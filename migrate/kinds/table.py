"""The attribute table a kind's planner is built from.

Each rules_docker kind (``migrate/kinds/<kind>.py``) lists its attributes in a
table, like buildozer's command table: what happens to each one, in one word.

=========  ===========================================================
``Keep``   goes to the new call (``to``) as it is, maybe renamed
``Map``    goes to the new call with its value rewritten by a function
``Drop``   is dropped; the report says why
``Refuse`` has no rules_oci equivalent: the target is left, with the reason
``Custom`` is handled by the kind's own code (several attributes at once)
=========  ===========================================================

:func:`apply` runs a table over a call; the kind's ``plan`` function adds what
depends on the whole call (defaults, extra calls such as an ``oci_load``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Union

from migrate.model import Attr, Context, Move, NewAttr, RuleCall


@dataclass(frozen=True)
class Keep:
    """Copy the attribute to the new call(s) ``to``, named ``rename`` if given."""

    to: tuple[str, ...] = ("",)  # roles of the new calls ("" is the kind's main one)
    rename: str | None = None
    note: str = ""


def Rename(name: str, note: str = "", to: tuple[str, ...] = ("",)) -> Keep:  # noqa: N802
    """Copy the attribute under another name."""
    return Keep(to, name, note)


@dataclass(frozen=True)
class Map:
    """Rewrite the value: ``fn(attr, call, ctx)`` returns the new code (or a pair of the
    code and a note for the report), or a :class:`Refuse`."""

    fn: Callable[[Attr, RuleCall, Context], str | tuple[str, str] | Refuse]
    to: tuple[str, ...] = ("",)
    rename: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Drop:
    """Drop the attribute; ``why`` goes to the moves and the notes."""

    why: str


@dataclass(frozen=True)
class Refuse:
    """No equivalent: leave the target. ``{attr}`` in ``why`` is the attribute's name;
    without it the reason reads ``attr: why``."""

    why: str

    def reason(self, attr: str) -> str:
        return self.why.replace("{attr}", attr) if "{attr}" in self.why else f"{attr}: {self.why}"


@dataclass(frozen=True)
class Custom:
    """Handled by the kind's ``plan`` function; ``goes_to`` is for the docs and the report."""

    goes_to: str


Action = Union[Keep, Map, Drop, Refuse, Custom]


@dataclass
class Outcome:
    """What a table made of a call."""

    attrs: dict[str, list[NewAttr]] = field(default_factory=dict)  # role -> new attributes
    moves: list[Move] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    custom: dict[str, Attr] = field(default_factory=dict)

    def add(self, role: str, attr: NewAttr) -> None:
        self.attrs.setdefault(role, []).append(attr)

    def move(self, attr: str, to: str, note: str = "") -> None:
        self.moves.append(Move(attr, to, note))


def copy_attr(attr: Attr, name: str | None = None, comments: bool = True,
              code: str | None = None) -> NewAttr:
    """``attr`` as a new attribute: the same value (or ``code``) and comments."""
    return NewAttr(
        name or attr.name,
        attr.value.code if code is None else code,
        attr.leading if comments else (),
        attr.trailing if comments else None,
        attr.value.verbatim if code is None else False,
    )


def apply(table: Mapping[str, Action], default: Action, call: RuleCall, ctx: Context,
          roles: Mapping[str, str]) -> Outcome:
    """Run ``table`` over the attributes of ``call``; ``roles`` names each new call's rule."""
    out = Outcome()
    for attr in call.attrs:
        action = table.get(attr.name, default)
        if isinstance(action, Refuse):
            out.refusals.append(action.reason(attr.name))
        elif isinstance(action, Custom):
            out.custom[attr.name] = attr
        elif isinstance(action, Drop):
            out.move(attr.name, "dropped", action.why)
            out.notes.append(f"{attr.name} = {attr.value.code.splitlines()[0]} dropped: "
                             f"{action.why}")
        else:
            code = None
            note = action.note
            if isinstance(action, Map):
                mapped = action.fn(attr, call, ctx)
                if isinstance(mapped, Refuse):
                    out.refusals.append(mapped.reason(attr.name))
                    continue
                if isinstance(mapped, tuple):
                    mapped, note = mapped
                code = None if mapped == attr.value.code else mapped
            name = action.rename or attr.name
            for i, role in enumerate(action.to):
                out.add(role, copy_attr(attr, name, comments=i == 0, code=code))
            where = " and ".join(f"{roles[role]}.{name}" for role in action.to)
            out.move(attr.name, where, note)
    return out
