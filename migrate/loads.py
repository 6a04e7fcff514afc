"""Planning ``load()`` changes: which symbols go, which come, under which local name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from migrate import rules
from migrate.model import LoadPlan, LoadStmt

# rule -> (load label, loaded symbol)
OUR_RULES = {
    "py_image": (rules.OCI_LABEL, "py_image"),
    "oci_image": (rules.RULES_OCI_DEFS, "oci_image"),
    "oci_push": (rules.RULES_OCI_DEFS, "oci_push"),
    "oci_load": (rules.RULES_OCI_DEFS, "oci_load"),
    "oci_pull": (rules.RULES_OCI_PULL, "oci_pull"),
}


_RULES_PYTHON = ("@rules_python//", "@io_bazel_rules_python//")
# Where a new py_binary is loaded from when the file loads none (Bazel 9 has no
# native Python rules; rules_python 0.20+ has this file).
PY_BINARY_LABEL = "@rules_python//python:py_binary.bzl"


@dataclass(frozen=True)
class Symbols:
    """How this file calls each rule the tool writes, and why when it is an alias."""

    names: dict[str, str]
    aliases: dict[str, str]  # rule -> sentence for the report


def resolve_symbols(loads: Sequence[LoadStmt], bound: set[str]) -> Symbols:
    names: dict[str, str] = {}
    aliases: dict[str, str] = {}
    loaded = {(load.label, remote): local for load in loads for local, remote in load.symbols}
    origin = {local: load.label for load in loads for local, _ in load.symbols}
    taken = set(bound)
    for rule, (label, symbol) in OUR_RULES.items():
        if (label, symbol) in loaded:
            names[rule] = loaded[(label, symbol)]
            continue
        local = symbol
        if local in taken:
            base = f"oci_{symbol}" if not symbol.startswith("oci_") else f"{symbol}_oci"
            local, n = base, 2
            while local in taken:
                local, n = f"{base}_{n}", n + 1
            where = f"loaded from {origin[symbol]}" if symbol in origin else "defined in this file"
            aliases[rule] = f"{symbol} is already {where}: {label}'s is loaded as {local}"
        taken.add(local)
        names[rule] = local
    # py_binary: whatever the file already uses; else loaded from rules_python
    py_binary = next((local for (label, remote), local in loaded.items() if remote == "py_binary"),
                     None)
    names["py_binary"] = py_binary or "py_binary"
    names["py_binary@label"] = ""
    names["py_binary@loaded"] = "yes" if py_binary else ""
    if py_binary is None and "py_binary" not in bound:
        python_defs = next((load.label for load in loads
                            if load.label.endswith("//python:defs.bzl")
                            and load.label.startswith(_RULES_PYTHON)),
                           None)
        # Bazel 9 has no native py_binary: load it (from defs.bzl when the file
        # already loads that, else from rules_python's py_binary.bzl).
        names["py_binary@label"] = python_defs or PY_BINARY_LABEL
    return Symbols(names, aliases)


def plan_loads(
    loads: Sequence[LoadStmt],
    uses: Mapping[str, int],
    rewritten: Counter[str],
    needs: Iterable[tuple[str, str, str]],
) -> LoadPlan:
    """Drop rules_docker symbols no longer used; add what the new calls need.

    ``uses`` counts every use of each name in the file, ``rewritten`` the uses
    that were rewritten away; ``needs`` holds (label, local, symbol).
    """
    remove = []
    for load in loads:
        if not (rules.is_rules_docker(load.label) or load.label == rules.SHIM_LABEL):
            continue
        for local, _ in load.symbols:
            if rewritten[local] and uses.get(local, 0) <= rewritten[local]:
                remove.append((load.index, local))
    present = {(load.label, local, remote) for load in loads for local, remote in load.symbols}
    add = []
    for need in sorted(set(needs)):
        if need[0] and need not in present:
            add.append(need)
    return LoadPlan(tuple(remove), tuple(add))


def plan_shim_loads(loads: Sequence[LoadStmt], keep: set[str]) -> LoadPlan:
    """``--to docker-shim``: move py3_image from rules_docker's image.bzl to ours."""
    remove, add = [], []
    for load in loads:
        if load.label != rules.PY3_IMAGE_LABEL:
            continue
        for local, remote in load.symbols:
            if remote == "py3_image" and local not in keep:
                remove.append((load.index, local))
                add.append((rules.SHIM_LABEL, local, "py3_image"))
    return LoadPlan(tuple(remove), tuple(add))
