"""Meaning across targets: is what a migrated target depends on usable under rules_oci?

A target is migrated only when its ``base`` (``image`` for a push) will be an
OCI image after the run: an ``oci_image``/``py_image``, a rules_docker image
this run migrates, ``@x`` of an ``oci_pull``, or ``@x//image`` of a
``container_pull`` the run converts. A rules_docker image or pull that stays
(left, outside the selection, or still used by rules_docker targets) keeps the
target as it is, and the report names the blocking target with its file and
line. Pure functions over the records of the run (:class:`World`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from migrate import rules
from migrate.find import is_build_file, package_of
from migrate.labels import parse_label
from migrate.model import CallPlan, FileRecord, Left

_IMAGE_REPO = re.compile(r"^@([A-Za-z0-9_.~+-]+)//image(?::image)?$")
_BARE_REPO = re.compile(r"^@([A-Za-z0-9_.~+-]+)$")
# rules whose targets rules_oci takes as a base (py_image: this project's oci.bzl)
OCI_IMAGE_RULES = frozenset({"oci_image", "py_image", "oci_image_index"})
MIGRATES_TO_IMAGE = frozenset({"py3_image", "container_image"})
LAYER_ATTRS = frozenset({"tars", "layers"})


@dataclass(frozen=True)
class Known:
    """A target (or a pulled repository) somewhere in the workspace."""

    path: str
    line: int
    rule: str  # as called
    docker: str | None = None  # the rules_docker kind, when it is one

    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class World:
    """Every target and pull the run knows of."""

    targets: dict[str, Known] = field(default_factory=dict)  # "//pkg:name" -> target
    pulls: dict[str, Known] = field(default_factory=dict)  # repo -> its container_pull
    oci_pulls: set[str] = field(default_factory=set)


def build_world(records: Mapping[str, FileRecord],
                scans: Iterable[tuple[str, tuple[tuple[str, str, int], ...]]]) -> World:
    """From the parsed files' records and the (name, rule, line) found in every other file."""
    world = World()
    for path, record in records.items():
        origin = {local: (load.label, remote) for load in record.loads
                  for local, remote in load.symbols}
        build = is_build_file(path.rsplit("/", 1)[-1])
        for target in record.targets:
            label, remote = origin.get(target.rule, ("", target.rule))
            docker = None
            if rules.is_rules_docker(label) or label == rules.SHIM_LABEL:
                docker = record.kinds.get(target.rule) or remote
            known = Known(path, target.line, remote, docker)
            _add(world, path, build, target.name, known)
        for call in record.calls:  # pulls in macros
            if call.kind == "container_pull" and call.name and call.name not in world.pulls:
                world.pulls[call.name] = Known(path, call.line, call.symbol, call.kind)
    for path, targets in scans:
        if path in records:
            continue
        build = is_build_file(path.rsplit("/", 1)[-1])
        for name, rule, line in targets:
            docker = rule if rule in rules.DOCKER_KINDS else None
            _add(world, path, build, name, Known(path, line, rule, docker))
    return world


def _add(world: World, path: str, build: bool, name: str, known: Known) -> None:
    if known.docker == "container_pull" or known.rule == "container_pull":
        world.pulls.setdefault(name, known)
    elif known.rule == "oci_pull":
        world.oci_pulls.add(name)
    elif build:
        world.targets.setdefault(f"//{package_of(path)}:{name}", known)


@dataclass
class Verdict:
    blocked: dict[str, dict[str, Left]] = field(default_factory=dict)  # path -> name -> why
    notes: list[tuple[str, str]] = field(default_factory=list)


def check(world: World, migrated: list[tuple[str, CallPlan]],
          still_used: Mapping[str, tuple[str, ...]], selected: set[str], base_suffix: str,
          workspace_path: str | None) -> Verdict:
    """Which migrated targets depend on something that stays rules_docker."""
    verdict = Verdict()
    images = {f"//{package_of(path)}:{plan.name}" for path, plan in migrated
              if plan.kind in MIGRATES_TO_IMAGE and is_build_file(path.rsplit("/", 1)[-1])}
    for path, plan in migrated:
        build = is_build_file(path.rsplit("/", 1)[-1])
        for attr, label in plan.depends:
            why = _dependency(world, attr, label, package_of(path) if build else None, images,
                              still_used, selected, base_suffix, workspace_path)
            if why is None:
                continue
            reason, blocked_by = why
            if blocked_by is None:
                verdict.notes.append((path, f"{plan.name}: {reason}"))
                continue
            verdict.blocked.setdefault(path, {})[plan.name] = Left(
                plan.line, plan.kind, plan.name, reason, blocked_by=blocked_by)
            break
    return verdict


def _dependency(world: World, attr: str, label: str, package: str | None, images: set[str],
                still_used: Mapping[str, tuple[str, ...]], selected: set[str], suffix: str,
                workspace_path: str | None) -> tuple[str, str | None] | None:
    """None when ``label`` works under rules_oci; else (reason, blocking target or None
    for a note only)."""
    match = _IMAGE_REPO.match(label)
    if match:
        repo = match.group(1)
        pull = world.pulls.get(repo)
        if suffix or repo in world.oci_pulls or pull is None:
            return None
        where = f"container_pull {repo} ({pull.where()})"
        uses = still_used.get(repo, ())
        if uses:
            more = f" and {len(uses) - 3} more" if len(uses) > 3 else ""
            return (f"{attr} {label}: {where} stays, still used by rules_docker "
                    f"({', '.join(uses[:3])}{more}); migrate those too, or pass "
                    "--oci-base-suffix", where)
        if pull.path != workspace_path and pull.path not in selected:
            return (f"{attr} {label}: {where} is outside the selection and stays "
                    "rules_docker", where)
        return None
    if _BARE_REPO.match(label):
        return None
    if label.startswith("@") and not label.startswith("@//"):
        return (f"{attr} {label} is a target of another repository: cannot tell it is an "
                "OCI image", label)
    if package is None:
        return None  # a label in a macro: relative to the caller's package
    parsed = parse_label(label, package)
    if parsed is None:
        return (f"{attr} {label} is not a label", label)
    key = f"//{parsed.package}:{parsed.name}"
    if key in images:
        return None
    known = world.targets.get(key)
    if attr in LAYER_ATTRS:  # tar files or tar rules; only a rules_docker layer blocks
        if known is None or known.docker is None:
            return None
        return (f"{attr} {label} is a {known.docker} that stays rules_docker "
                f"({known.where()}): make it a tar rule (pkg_tar)", f"{key} ({known.where()})")
    if known is None:
        return (f"{attr} {label}: no target of that name found in the workspace's BUILD "
                "files; check it is an OCI image", None)
    if known.docker is not None:
        return (f"{attr} {label} is a {known.docker} that stays rules_docker "
                f"({known.where()})", f"{key} ({known.where()})")
    if known.rule in OCI_IMAGE_RULES:
        return None
    return (f"{attr} {label} is a {known.rule} ({known.where()}), not an image rules_oci "
            "can use", f"{key} ({known.where()})")
