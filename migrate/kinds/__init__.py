"""One planner per rules_docker kind, each an attribute table (see :mod:`migrate.kinds.table`).

=====================  ==========================================  =====================
kind                   becomes                                     module
=====================  ==========================================  =====================
``py3_image``          ``py_binary`` + ``py_image`` (oci.bzl)      :mod:`.py3_image`
``container_image``    ``oci_image`` (+ ``oci_load``)              :mod:`.container_image`
``container_push``     ``oci_push``                                :mod:`.container_push`
``container_pull``     ``oci_pull``                                :mod:`.container_pull`
the others             left, with what to use instead              :mod:`.unsupported`
=====================  ==========================================  =====================

Each module has ``TABLE`` (attribute -> action), ``DEFAULT`` (the action for an
attribute not in the table), ``plan(call, ctx)`` and ``EXAMPLES``: pairs of a
file before and after (``None``: left as it is), which one test runs for every
kind. To support a new kind, add a module with those four names and list it
here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

from migrate.kinds import container_image, container_pull, container_push, py3_image, unsupported
from migrate.kinds.table import Action
from migrate.model import CallPlan, Context, Left, RuleCall


@dataclass(frozen=True)
class Kind:
    """A rules_docker kind the tool knows."""

    name: str
    plan: Callable[[RuleCall, Context], CallPlan | Left] | None  # None: always refused
    table: Mapping[str, Action]
    refused: str | None = None  # why a refused kind is left
    deferred: bool = False  # planned once the whole workspace's uses are known
    examples: tuple[tuple[str, str | None], ...] = ()


def _from_module(module: ModuleType) -> Kind:
    return Kind(module.KIND, module.plan, module.TABLE,
                deferred=getattr(module, "DEFERRED", False), examples=module.EXAMPLES)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        *(_from_module(m) for m in (py3_image, container_image, container_push, container_pull)),
        *(Kind(name, None, {}, refused=why,
               examples=unsupported.EXAMPLES if name == "container_layer" else ())
          for name, why in unsupported.REFUSED.items()),
    )
}


def plan_call(call: RuleCall, ctx: Context) -> CallPlan | Left | None:
    """Plan one call; None when it waits (a container_pull before the uses are known)."""
    from migrate.kinds.common import display_name

    name = display_name(call)
    if call.skip:
        return Left(call.line, call.kind, name, "marked '# migrate: skip'", skipped=True)
    kind = KINDS[call.kind]
    if kind.plan is None:
        return Left(call.line, call.kind, name, kind.refused or "not migrated")
    if call.problem:
        return Left(call.line, call.kind, name, call.problem)
    if kind.deferred and ctx.still_used is None:
        return None
    return kind.plan(call, ctx)
