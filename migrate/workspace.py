"""``--workspace``: the WORKSPACE lines rules_oci, pycross_image and the new bases need.

A pure planner over the WORKSPACE's records (:mod:`migrate.engine` reads and
renders the file like any other). rules_docker set-up is never removed; a
``container_pull`` becomes an ``oci_pull`` (same digest) only once nothing in
the repository uses its ``@name//`` any more. Without ``--workspace`` the same
lines are only reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from migrate import rules
from migrate.fmt import NewAttr, NewCall, list_code, render_call, string
from migrate.kinds import plan_call
from migrate.model import (
    DEFAULT_BASE_REPO,
    CallPlan,
    Context,
    FileEdits,
    FileRecord,
    Insert,
    Left,
    Options,
)

RULES_OCI_VERSION = "2.3.2"
RULES_OCI_URL = (
    "https://github.com/bazel-contrib/rules_oci/releases/download/"
    f"v{RULES_OCI_VERSION}/rules_oci-v{RULES_OCI_VERSION}.tar.gz"
)
HTTP_BZL = "@bazel_tools//tools/build_defs/repo:http.bzl"


@dataclass
class WorkspacePlan:
    path: str
    output: bytes | None = None
    lines: str = ""  # what is (or would be) added, for the report
    plans: list[CallPlan] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    edits: FileEdits = FileEdits()


WorkspaceResult = WorkspacePlan  # the name before the pipeline was shared


def plan_workspace(
    path: str,
    record: FileRecord,
    bases: Iterable[str],
    still_used: Mapping[str, tuple[str, ...]],
    options: Options,
    default_image: str | None,
) -> WorkspacePlan:
    result = WorkspacePlan(path)
    wanted = sorted({b[1:] for b in bases if b.startswith("@") and "//" not in b})
    if not wanted:
        return result
    declared = {t.name: t.rule for t in record.targets}
    bindings = {local: (ld.label, remote) for ld in record.loads for local, remote in ld.symbols}
    pulls = {c.name: c for c in record.calls if c.kind == "container_pull" and c.name}
    oci_pull_local = next((local for local, (label, remote) in bindings.items()
                           if remote == "oci_pull" and label == rules.RULES_OCI_PULL), None)
    ctx = Context(package="", is_build=False,
                  symbols={"oci_pull": oci_pull_local or "oci_pull"}, options=options,
                  still_used=still_used)

    converted: list[CallPlan] = []
    new_pulls: list[str] = []
    suffix = options.base_suffix
    for repo in wanted:
        if declared.get(repo) in {"oci_pull", oci_pull_local or "oci_pull"}:
            continue
        source = repo[: -len(suffix)] if suffix and repo.endswith(suffix) else repo
        if source in pulls:
            planned = plan_call(pulls[source], ctx)
            if isinstance(planned, CallPlan):
                converted.append(planned)
            elif isinstance(planned, Left):
                result.left.append(planned)
        elif repo in declared:
            result.notes.append(f"@{repo} is declared by {declared[repo]}(), not oci_pull: "
                                "check it is an OCI image")
        elif repo == DEFAULT_BASE_REPO and not default_image:
            result.notes.append(
                f"@{repo}: rules_docker pulled the default distroless python3 base itself; "
                "pass --default-base-image REGISTRY/distroless/python3 to write its oci_pull, "
                "or add one yourself")
        elif repo == DEFAULT_BASE_REPO:
            attrs = (
                NewAttr("name", string(repo)),
                NewAttr("image", string(default_image)),
                NewAttr("platforms", list_code([string("linux/amd64"), string("linux/arm64/v8")])),
                NewAttr("tag", string("latest")),
            )
            new_pulls.append(render_call(NewCall("oci_pull", ctx.symbols["oci_pull"], attrs), ""))
            result.notes.append(f"@{repo}: pin a digest for {default_image} (tag latest moves)")
        else:
            result.notes.append(f"@{repo}: no container_pull of that name here; add an oci_pull")

    setup = _setup_lines(record, declared, bindings, ctx.symbols["oci_pull"],
                         bool(converted or new_pulls) and oci_pull_local is None)
    if "pycross_image" not in declared:
        result.notes.append("declare the pycross_image repository (http_archive or "
                            "local_repository) before these lines")
    block = "\n".join(setup)
    tail = "\n".join(new_pulls)
    shown = [block] if block else []
    shown += [render_call(p.calls[0], "") for p in converted]
    shown += [tail] if tail else []
    result.lines = "\n".join(shown)
    result.plans = converted
    inserts = []
    if block:
        first = min((p.call.top_index for p in converted if p.call is not None), default=None)
        inserts.append(Insert(block, first))
    if tail:
        inserts.append(Insert(tail))
    result.edits = FileEdits(tuple(converted), inserts=tuple(inserts))
    return result


def _setup_lines(
    record: FileRecord,
    declared: Mapping[str, str],
    bindings: Mapping[str, tuple[str, str]],
    oci_pull_local: str,
    need_pull_load: bool,
) -> list[str]:
    lines: list[str] = []
    if "rules_oci" not in declared:
        if "http_archive" not in bindings:
            lines.append(f'load("{HTTP_BZL}", "http_archive")\n')
        lines.append(
            "http_archive(\n"
            '    name = "rules_oci",\n'
            "    # TODO(migrate): pin the archive: add its sha256 here.\n"
            f'    strip_prefix = "rules_oci-{RULES_OCI_VERSION}",\n'
            f'    url = "{RULES_OCI_URL}",\n'
            ")\n"
        )
    if "rules_oci_dependencies" not in record.called:
        lines.append('load("@rules_oci//oci:dependencies.bzl", "rules_oci_dependencies")\n\n'
                     "rules_oci_dependencies()\n")
    if "oci_register_toolchains" not in record.called:
        lines.append('load("@rules_oci//oci:repositories.bzl", "oci_register_toolchains")\n\n'
                     'oci_register_toolchains(name = "oci")\n')
    if need_pull_load:
        local = oci_pull_local
        symbol = '"oci_pull"' if local == "oci_pull" else f'{local} = "oci_pull"'
        lines.append(f'load("{rules.RULES_OCI_PULL}", {symbol})\n')
    return lines
