"""``container_push`` (rules_docker ``container/container.bzl``) -> rules_oci ``oci_push``."""

from __future__ import annotations

from migrate import rules
from migrate.fmt import list_code, string
from migrate.kinds.common import COMMON_ATTRS, display_name, labels_in, unreadable
from migrate.kinds.table import Custom, Drop, Keep, Map, Refuse, Rename, apply
from migrate.model import Attr, CallPlan, Context, Left, Move, NewAttr, NewCall, RuleCall

KIND = "container_push"


def _tag(attr: Attr, call: RuleCall, ctx: Context) -> str | Refuse:
    if attr.value.string is not None and "{" in attr.value.string:
        return Refuse(f"{{attr}} {attr.value.code} uses stamp variables: write a tag file instead")
    return list_code([attr.value.code], False)


TABLE = {
    "name": Keep(),
    "image": Keep(),
    "registry": Custom("oci_push.repository (registry/repository)"),
    "repository": Custom("oci_push.repository (registry/repository)"),
    "repository_file": Keep(),
    "tag": Map(_tag, rename="remote_tags"),
    "tag_file": Rename("remote_tags", note="a file with one tag a line"),
    "format": Drop("rules_oci pushes the image as built (OCI)"),
    "skip_unchanged_digest": Drop("oci_push always skips blobs the registry has"),
    "stamp": Refuse("rules_oci has no stamping attribute (use a tag file)"),
    **{a: Keep() for a in COMMON_ATTRS},
}
DEFAULT = Refuse("not a container_push attribute this tool knows")


def plan(call: RuleCall, ctx: Context) -> CallPlan | Left:
    name = display_name(call)
    out = apply(TABLE, DEFAULT, call, ctx, {"": "oci_push"})
    registry, repository = out.custom.get("registry"), out.custom.get("repository")
    for attr in call.attrs:
        if attr.name in ("image", "registry", "repository", "tag", "tag_file"):
            problem = unreadable(attr, call, ctx, params_ok=True)
            if problem is not None:
                out.refusals.append(problem)
    if call.attr("repository_file") is not None and registry is not None:
        out.refusals.append(
            "registry with repository_file: oci_push takes the full name in the file")
    if out.refusals:
        return Left(call.line, call.kind, name, "; ".join(out.refusals))
    attrs = list(out.attrs.get("", []))
    moves, notes = list(out.moves), list(out.notes)
    if registry is not None and repository is not None:
        if registry.value.string is not None and repository.value.string is not None:
            code = string(f"{registry.value.string}/{repository.value.string}")
        else:
            code = f'{registry.value.code} + "/" + {repository.value.code}'
        attrs.append(NewAttr("repository", code, registry.leading + repository.leading,
                             repository.trailing or registry.trailing))
    elif repository is not None or registry is not None:
        only = repository or registry
        assert only is not None
        attrs.append(NewAttr("repository", only.value.code, only.leading, only.trailing,
                             only.value.verbatim))
    for attr in (registry, repository):
        if attr is not None:
            note = "registry/repository" if attr is registry else ""
            moves.append(Move(attr.name, "oci_push.repository", note))
    if call.attr("tag") is None and call.attr("tag_file") is None:
        attrs.append(NewAttr("remote_tags", list_code([string("latest")], False)))
        notes.append('remote_tags = ["latest"] (container_push\'s default tag)')
    image = call.attr("image")
    calls = (NewCall("oci_push", ctx.symbols["oci_push"], tuple(attrs)),)
    return CallPlan(call.line, call.kind, name, calls, tuple(moves), tuple(notes),
                    ((rules.RULES_OCI_DEFS, "oci_push"),), (), (), call.open_comment,
                    call.closing, call, depends=tuple(
                        ("image", label) for label in labels_in(image.value, ctx)
                    ) if image is not None else ())


EXAMPLES = (
    (
        '''\
load("@io_bazel_rules_docker//container:container.bzl", "container_push")

container_push(
    name = "push",
    format = "Docker",
    image = ":image",
    registry = "registry.example.com",
    repository = "team/server",
    tag = "v1",
)
''',
        '''\
load("@rules_oci//oci:defs.bzl", "oci_push")

oci_push(
    name = "push",
    image = ":image",
    remote_tags = ["v1"],
    repository = "registry.example.com/team/server",
)
''',
    ),
)
