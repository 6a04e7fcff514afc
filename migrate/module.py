"""``--module``: what the migrated targets need in ``MODULE.bazel`` (bzlmod).

The bzlmod twin of :mod:`migrate.workspace`, a pure planner over records
(:func:`migrate.read.module_facts` reads the file, :mod:`migrate.render` adds
the statements): ``bazel_dep`` for pycross_image, rules_oci and rules_python;
rules_oci's module extension (``oci = use_extension("@rules_oci//oci:extensions.bzl",
"oci")``); one ``oci.pull`` per base the migrated targets use, made from the
WORKSPACE's ``container_pull`` (or ``oci_pull``) of that name, digest kept; and
a ``use_repo`` naming what rules_oci v2.3.2 reports as the root module's direct
dependencies for each pull (``oci/extensions.bzl``): the pull's name and, per
platform, ``<name>_<os>_<arch>[_<variant>]``. Whatever the file already has is
kept and never repeated (an existing ``use_extension`` of rules_oci's extension
is used under its own name), so a second run changes nothing. New statements
are laid out as buildifier lays out MODULE.bazel files. WORKSPACE is not edited
here: rules_docker has no module, so its set-up stays there while it is used.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterable, Mapping

from migrate import read, rules
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
    ModuleFacts,
    Options,
    RuleCall,
)
from migrate.render import RenderError, apply_edits
from migrate.source import SourceError, decode, encode
from migrate.workspace import RULES_OCI_VERSION, WorkspacePlan

MODULE_FILE = "MODULE.bazel"
OCI_EXTENSION = read.OCI_EXTENSION
# Versions: pycross_image as its own MODULE.bazel, rules_oci as --workspace pins
# it (>= 2.1.0, the first with `created`, which oci.bzl's py_image sets),
# rules_python as docs/install.md (tests/migrate/test_migrate_module.py checks).
BAZEL_DEPS = (
    ("pycross_image", "0.1.0"),
    ("rules_oci", RULES_OCI_VERSION),
    ("rules_python", "1.1.0"),
)
MINIMUM = {"rules_oci": (2, 1, 0), "rules_python": (1, 0, 0)}
# the attributes of rules_oci's `oci.pull` tag class (oci/extensions.bzl, v2.3.2)
PULL_ATTRS = frozenset({
    "name", "www_authenticate_challenges", "registry", "repository", "image", "platforms",
    "digest", "tag", "reproducible", "config", "bazel_tags",
})
USE_REPO_LINE = 80  # a use_repo that fits stays on one line (buildifier keeps either)


def repo_names(name: str, platforms: Iterable[str]) -> tuple[str, ...]:
    """The repositories rules_oci's extension reports for one pull (``oci/extensions.bzl``)."""
    return (name, *("_".join([name, *p.split("/")]) for p in platforms))


def _version(text: str | None) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in (text or "").split("-")[0].split("."))
    except ValueError:
        return None


def _workspace_kind(label: str, symbol: str) -> str | None:
    if label == rules.RULES_OCI_PULL and symbol == "oci_pull":
        return "oci_pull"
    kind = rules.docker_kind(label, symbol)
    return kind if kind == "container_pull" else None


def _pull_attrs(call: RuleCall, repo: str, still_used: Mapping[str, tuple[str, ...]],
                options: Options) -> tuple[NewAttr, ...] | Left | None:
    """The attributes of the ``oci.pull`` for ``repo`` made from a WORKSPACE call."""
    if call.kind == "oci_pull":
        return tuple(NewAttr(a.name, a.value.code, a.leading, a.trailing, a.value.verbatim)
                     for a in call.attrs)
    # WORKSPACE keeps its container_pull: it is in the way only under the same name
    ctx = Context(package="", is_build=False, symbols={"oci_pull": "oci_pull"},
                  options=options, still_used=still_used if call.name == repo else {})
    planned = plan_call(call, ctx)
    if isinstance(planned, CallPlan):
        return planned.calls[0].attrs
    return planned


def plan_module(
    facts: ModuleFacts,
    workspace: FileRecord | None,
    ws_path: str | None,
    bases: Iterable[str],
    still_used: Mapping[str, tuple[str, ...]],
    options: Options,
    default_image: str | None,
) -> WorkspacePlan:
    """The MODULE.bazel statements for migrated targets that use ``bases`` ("@x")."""
    result = WorkspacePlan(MODULE_FILE)
    deps = []
    for name, version in BAZEL_DEPS:
        if name not in facts.deps:
            deps.append(f'bazel_dep(name = "{name}", version = "{version}")\n')
            if name == "pycross_image":
                result.notes.append(
                    "pycross_image is not in the Bazel Central Registry: add an "
                    "archive_override or git_override for it (docs/install.md)")
            continue
        current = _version(facts.deps[name][1])
        if name in MINIMUM and current is not None and current < MINIMUM[name]:
            result.notes.append(f"bazel_dep {name} {facts.deps[name][1]} is older than "
                                f"{'.'.join(map(str, MINIMUM[name]))}, which the migrated "
                                "targets need")

    var = facts.extension or ("oci" if "oci" not in facts.bound else "oci_ext")
    calls = {c.name: c for c in (workspace.calls if workspace else ()) if c.name}
    declared = {t.name: t.rule for t in (workspace.targets if workspace else ())}
    pulled = {p.name for p in facts.pulls}
    suffix = options.base_suffix
    pulls: list[str] = []
    imports: list[str] = []
    for repo in sorted({b[1:] for b in bases if b.startswith("@") and "//" not in b}):
        if repo in pulled or repo in facts.imported:
            continue
        source = repo[: -len(suffix)] if suffix and repo.endswith(suffix) else repo
        attrs: tuple[NewAttr, ...] | Left | None = None
        if source in calls:
            attrs = _pull_attrs(calls[source], repo, still_used, options)
            if isinstance(attrs, Left):
                result.left.append(attrs)
                continue
        elif repo == DEFAULT_BASE_REPO and default_image:
            attrs = (
                NewAttr("name", string(repo)),
                NewAttr("image", string(default_image)),
                NewAttr("platforms", list_code([string("linux/amd64"),
                                                string("linux/arm64/v8")])),
                NewAttr("tag", string("latest")),
            )
            result.notes.append(f"@{repo}: pin a digest for {default_image} (tag latest moves)")
        elif repo == DEFAULT_BASE_REPO:
            result.notes.append(
                f"@{repo}: rules_docker pulled the default distroless python3 base itself; "
                "pass --default-base-image REGISTRY/distroless/python3 to write its oci.pull, "
                "or add one yourself")
        elif source in declared:
            result.notes.append(f"@{repo}: declared by {declared[source]}() in {ws_path}; "
                                "add an oci.pull for it")
        else:
            result.notes.append(f"@{repo}: no container_pull of that name in WORKSPACE; "
                                "add an oci.pull")
        if not attrs:
            continue
        if source != repo:
            attrs = tuple(a if a.name != "name" else NewAttr("name", string(repo)) for a in attrs)
        unknown = sorted(a.name for a in attrs if a.name not in PULL_ATTRS)
        if unknown:
            result.notes.append(f"@{repo}: oci.pull has no {', '.join(unknown)}; add it yourself")
            continue
        platforms = next((a.code for a in attrs if a.name == "platforms"), "[]")
        try:
            values = ast.literal_eval(platforms)
        except (ValueError, SyntaxError):
            values = None
        if not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
            result.notes.append(f"@{repo}: its platforms are computed; add the per-platform "
                                f"repositories ({repo}_<os>_<arch>) to use_repo yourself")
            values = []
        pulls.append(render_call(NewCall("oci.pull", f"{var}.pull", attrs), ""))
        imports.extend(repo_names(repo, values))

    block = []
    if (pulls or imports) and facts.extension is None:
        block.append(f'{var} = use_extension("{OCI_EXTENSION}", "oci")\n')
    block.extend(pulls)
    if imports:
        block.append(_use_repo(var, imports))
    result.lines = "\n".join(["".join(deps)] * bool(deps) + ["".join(block)] * bool(block))
    result.edits = FileEdits(inserts=_inserts(facts, "".join(deps), "".join(block), bool(pulls)))
    return result


def _inserts(facts: ModuleFacts, deps: str, block: str, pulls: bool) -> tuple[Insert, ...]:
    """Where the new statements go, with the blank lines buildifier wants around them.

    buildifier keeps consecutive ``bazel_dep`` calls together, and an
    extension's ``use_extension``, tags and ``use_repo`` calls together, but
    puts a blank line between a ``use_repo`` and a tag after it.
    """

    def after(index: int) -> int | None:
        return index + 1 if index + 1 < facts.statements else None

    inserts = []
    last_dep = max((i for i, _ in facts.deps.values()), default=None)
    ext = [i for i in (facts.extension_at, *(p.index for p in facts.pulls), *facts.use_repos)
           if i is not None]
    last_ext = max(ext, default=None)
    if deps and last_dep is not None:
        inserts.append(Insert(deps, after(last_dep), blank=False))
    elif deps and facts.module_call is not None:
        inserts.append(Insert(deps, after(facts.module_call)))
    elif deps:  # at the end, above the extension's statements
        block = deps + ("\n" + block if block else "")
        if last_ext is not None and block != deps:
            inserts.append(Insert(deps, None, blank=facts.statements > 0))
            block = block[len(deps) + 1:]
        else:
            return (*inserts, Insert(block, None, blank=facts.statements > 0))
    if block and last_ext is not None:
        inserts.append(Insert(block, after(last_ext), blank=pulls and last_ext in facts.use_repos))
    elif block:
        inserts.append(Insert(block, None, blank=facts.statements > 0 or bool(deps)))
    return tuple(inserts)


def _use_repo(var: str, names: list[str]) -> str:
    args = [var, *(string(n) for n in dict.fromkeys(names))]
    line = f"use_repo({', '.join(args)})\n"
    if len(line) <= USE_REPO_LINE:
        return line
    return "use_repo(\n" + "".join(f"    {a},\n" for a in args) + ")\n"


def migrate_module(data: bytes | None, ws_data: bytes | None, ws_path: str | None,
                   bases: Iterable[str], still_used: Mapping[str, tuple[str, ...]],
                   options: Options, default_image: str | None, write: bool) -> WorkspacePlan:
    """MODULE.bazel (``data``; None: there is none yet) through read, plan and render."""
    try:
        text, encoding = decode(data) if data is not None else ("", None)
        parsed = read.parse(text)
    except SourceError as exc:
        return WorkspacePlan(MODULE_FILE, error=str(exc))
    workspace = None
    if ws_data is not None:
        with contextlib.suppress(SourceError):  # the WORKSPACE stage reports it when it matters
            workspace = read.read(read.parse(decode(ws_data)[0]), kinds_of=_workspace_kind)
    planned = plan_module(read.module_facts(parsed), workspace, ws_path, bases, still_used,
                          options, default_image)
    if write and planned.edits:
        try:
            new_text = apply_edits(parsed, (), planned.edits)
        except RenderError as exc:  # pragma: no cover - a bug in the renderer
            planned.error = str(exc)
            return planned
        if not new_text.endswith("\n"):
            new_text += "\n"
        planned.output = encode(new_text, encoding) if encoding else new_text.encode("utf-8")
    return planned
