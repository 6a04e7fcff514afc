"""``--workspace``: the WORKSPACE lines rules_oci, pycross_image and the new bases need.

rules_docker set-up is never removed; a ``container_pull`` becomes an
``oci_pull`` (same digest) only once nothing in the repository uses its
``@name//`` any more. Without ``--workspace`` the same lines are only reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from migrate import calls as calls_mod
from migrate import rules
from migrate.fmt import NewAttr, NewCall, list_code, render_call, string
from migrate.plan import DEFAULT_BASE_REPO, CallPlan, Context, Left, Options, plan_call
from migrate.render import call_statements
from migrate.source import SourceError, decode, encode, parse

RULES_OCI_VERSION = "2.3.2"
RULES_OCI_URL = (
    "https://github.com/bazel-contrib/rules_oci/releases/download/"
    f"v{RULES_OCI_VERSION}/rules_oci-v{RULES_OCI_VERSION}.tar.gz"
)
HTTP_BZL = "@bazel_tools//tools/build_defs/repo:http.bzl"


@dataclass
class WorkspaceResult:
    path: str
    output: bytes | None = None
    lines: str = ""  # what is (or would be) added, for the report
    plans: list[CallPlan] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def _declared(module: cst.Module) -> dict[str, str]:
    """name -> rule of every top-level ``rule(name = "...")`` call."""
    out = {}
    for stmt in module.body:
        if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
            continue
        expr = stmt.body[0]
        if not isinstance(expr, cst.Expr) or not isinstance(expr.value, cst.Call):
            continue
        call = expr.value
        if not isinstance(call.func, cst.Name):
            continue
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "name" and isinstance(
                arg.value, cst.SimpleString
            ):
                value = arg.value.evaluated_value
                if isinstance(value, str):
                    out[value] = call.func.value
    return out


def _called(module: cst.Module, func: str) -> bool:
    return any(
        isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1
        and isinstance(s.body[0], cst.Expr) and isinstance(s.body[0].value, cst.Call)
        and isinstance(s.body[0].value.func, cst.Name) and s.body[0].value.func.value == func
        for s in module.body
    )


def plan_workspace(
    root: Path,
    path: Path,
    bases: Iterable[str],
    still_used: Mapping[str, tuple[str, ...]],
    options: Options,
    default_image: str | None,
) -> WorkspaceResult:
    rel = path.relative_to(root).as_posix()
    result = WorkspaceResult(rel)
    try:
        text, encoding = decode(path.read_bytes())
        module = parse(text)
    except (OSError, SourceError) as exc:
        result.error = str(exc)
        return result
    wanted = sorted({b[1:] for b in bases if b.startswith("@") and "//" not in b})
    if not wanted:
        return result
    declared = _declared(module)
    where = calls_mod.layout(module)
    loads = calls_mod.read_loads(module, where.lines)
    bindings = {local: (ld.label, remote) for ld in loads for local, remote in ld.symbols}
    pull_locals = {local: "container_pull" for local, (label, remote) in bindings.items()
                   if rules.docker_kind(label, remote) == "container_pull"}
    pulls = {c.name: c for c in calls_mod.find_calls(module, pull_locals, where) if c.name}
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

    setup = _setup_lines(module, declared, bindings, ctx.symbols["oci_pull"],
                         bool(converted or new_pulls) and oci_pull_local is None)
    if "pycross_image" not in declared and not _is_pycross_workspace(module):
        result.notes.append("declare the pycross_image repository (http_archive or "
                            "local_repository) before these lines")
    block = "\n".join(setup)
    tail = "\n".join(new_pulls)
    shown = [block] if block else []
    shown += [render_call(p.calls[0], "") for p in converted]
    shown += [tail] if tail else []
    result.lines = "\n".join(shown)
    result.plans = converted
    if not options.workspace or not result.lines:
        return result
    body = list(module.body)
    replacements = {id(p.call.statement): p for p in converted if p.call and p.call.statement}
    out: list[cst.BaseStatement] = []
    inserted = False
    for stmt in body:
        plan = replacements.get(id(stmt))
        if plan is not None:
            if not inserted and block:
                out.extend(_parse_block(block))
                inserted = True
            out.extend(call_statements(plan))
        else:
            out.append(stmt)
    if not inserted and block:
        out.extend(_parse_block(block))
    if tail:
        out.extend(_parse_block(tail))
    new_text = module.with_changes(body=out).code
    cst.parse_module(new_text)
    result.output = encode(new_text, encoding)
    result.plans = [p.__class__(**{**p.__dict__, "call": None}) for p in converted]
    return result


def _parse_block(text: str) -> list[cst.BaseStatement]:
    body = list(cst.parse_module(text).body)
    if body:
        first = body[0]
        body[0] = first.with_changes(leading_lines=[cst.EmptyLine(), *first.leading_lines])
    return body


def _is_pycross_workspace(module: cst.Module) -> bool:
    code = module.code
    return 'workspace(name = "pycross_image")' in code


def _setup_lines(
    module: cst.Module,
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
    if not _called(module, "rules_oci_dependencies"):
        lines.append('load("@rules_oci//oci:dependencies.bzl", "rules_oci_dependencies")\n\n'
                     "rules_oci_dependencies()\n")
    if not _called(module, "oci_register_toolchains"):
        lines.append('load("@rules_oci//oci:repositories.bzl", "oci_register_toolchains")\n\n'
                     'oci_register_toolchains(name = "oci")\n')
    if need_pull_load:
        local = oci_pull_local
        symbol = '"oci_pull"' if local == "oci_pull" else f'{local} = "oci_pull"'
        lines.append(f'load("{rules.RULES_OCI_PULL}", {symbol})\n')
    return lines
