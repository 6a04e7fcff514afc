"""``container_image`` (rules_docker ``container/container.bzl``) -> rules_oci ``oci_image``.

With ``repository`` set, or when ``:NAME.tar`` is referenced, an ``oci_load``
named ``NAME.tar`` loads the image with rules_docker's tag.
"""

from __future__ import annotations

from migrate import rules
from migrate.fmt import list_code, string
from migrate.kinds.common import (
    COMMON_ATTRS,
    base_code,
    display_name,
    labels_in,
    map_base_attr,
    named,
    references,
    resolved,
    unreadable,
)
from migrate.kinds.table import Custom, Keep, Map, Refuse, Rename, apply, copy_attr
from migrate.model import Attr, CallPlan, Context, Left, Move, NewAttr, NewCall, RuleCall

KIND = "container_image"
EQUIVALENTS = {".digest": "oci_image's :NAME.digest", ".tar": "oci_load :NAME.tar"}
FILE_EQUIVALENT = "filegroup :NAME.tarball (oci_load :NAME.tar's tarball output group)"

_NEEDS_TAR = ("files", "directory", "symlinks", "mode", "mtime", "empty_files", "empty_dirs",
              "data_path", "debs", "portable_mtime", "enable_mtime_preservation", "tars_to_add")
_NO_EQUIVALENT = {
    "stamp": "stamping has no attribute in rules_oci (use expand_template on a file)",
    "launcher": "rules_oci images have no launcher",
    "launcher_args": "rules_oci images have no launcher",
    "legacy_run_behavior": "oci_load has its own run behaviour",
    "docker_run_flags": "oci_load does not run the image",
    "experimental_tarball_format": "no rules_oci equivalent",
    "compression": "rules_oci takes compressed tars as they are",
    "compression_options": "rules_oci takes compressed tars as they are",
    "os_version": "no rules_oci equivalent",
    "creation_time": "rules_oci's created takes a file holding the time: write one and pass it",
    "null_cmd": "no rules_oci equivalent",
    "null_entrypoint": "no rules_oci equivalent",
    "label_files": "no rules_oci equivalent",
    "label_file_strings": "no rules_oci equivalent",
    "env_file": "no rules_oci equivalent",
}


def _shell_form(attr: Attr, call: RuleCall, ctx: Context) -> tuple[str, str]:
    """A string ``cmd``/``entrypoint`` meant ``/bin/sh -c STRING`` in rules_docker."""
    if attr.value.kind != "string":
        return attr.value.code, ""
    code = list_code([string("/bin/sh"), string("-c"), attr.value.code])
    return code, 'a string means ["/bin/sh", "-c", s]'


def _labels(attr: Attr, call: RuleCall, ctx: Context) -> str | Refuse:
    for _, value in attr.value.entries:
        if value.string is not None and value.string.startswith("@"):
            return Refuse("{attr} with @file values: rules_oci takes label values as text")
    return attr.value.code


TABLE = {
    "name": Keep(),
    "base": Map(map_base_attr),
    "tars": Custom("oci_image.tars (after layers): one layer per tar, no longer squashed"),
    "layers": Custom("oci_image.tars: each entry must be a tar file"),
    "env": Keep(),
    "cmd": Map(_shell_form),
    "entrypoint": Map(_shell_form),
    "workdir": Keep(),
    "user": Keep(),
    "ports": Rename("exposed_ports"),
    "volumes": Keep(),
    "labels": Map(_labels),
    "architecture": Custom("oci_image.architecture without base, else dropped"),
    "operating_system": Custom("oci_image.os without base, else dropped"),
    "repository": Custom("oci_load.repo_tags"),
    **{a: Refuse("{attr} needs a tar rule (pkg_tar) passed in tars") for a in _NEEDS_TAR},
    **{a: Refuse(why) for a, why in _NO_EQUIVALENT.items()},
    **{a: Keep() for a in COMMON_ATTRS},
}
DEFAULT = Refuse("not a container_image attribute this tool knows")


def plan(call: RuleCall, ctx: Context) -> CallPlan | Left:
    name = display_name(call)
    refs, blocking = references(call, ctx.refs, EQUIVALENTS, FILE_EQUIVALENT)
    rule = ctx.symbols["oci_image"]
    out = apply(TABLE, DEFAULT, call, ctx, {"": rule})
    reasons = blocking + out.refusals
    repository = out.custom.get("repository")
    problem = unreadable(repository, call, ctx, params_ok=True) if repository else None
    if problem is not None:
        reasons.append(problem)
    if reasons:
        return Left(call.line, call.kind, name, "; ".join(reasons), references=refs)
    attrs = list(out.attrs.get("", []))
    moves, notes = list(out.moves), list(out.notes)
    custom = out.custom
    layers, tars = custom.get("layers"), custom.get("tars")
    if layers is not None and tars is not None:
        attrs.append(NewAttr("tars", f"{layers.value.code} + {tars.value.code}",
                             layers.leading + tars.leading, tars.trailing,
                             tars.value.verbatim or layers.value.verbatim))
        moves.append(Move("layers", "oci_image.tars", "layers first, as rules_docker"))
    elif layers is not None:
        attrs.append(copy_attr(layers, "tars"))
        notes.append("layers -> tars: container_layer targets must become tar rules (pkg_tar)")
        moves.append(Move("layers", "oci_image.tars", "each entry must be a tar file"))
    elif tars is not None:
        attrs.append(copy_attr(tars))
    if tars is not None:
        moves.append(Move("tars", "oci_image.tars", "one layer per tar, no longer squashed"))
    has_base = call.attr("base") is not None
    for attr_name, new_name in (("operating_system", "os"), ("architecture", "architecture")):
        attr = custom.get(attr_name)
        if attr is None:
            if not has_base:
                default = "linux" if new_name == "os" else "amd64"
                attrs.append(NewAttr(new_name, string(default)))
        elif has_base:
            moves.append(Move(attr_name, "dropped", "rules_oci takes it from the base"))
            notes.append(f"{attr_name} dropped: rules_oci takes it from the base")
        else:
            attrs.append(copy_attr(attr, new_name))
            moves.append(Move(attr_name, f"oci_image.{new_name}"))
    if not has_base:
        notes.append("no base: os and architecture written out (rules_docker's defaults)")
    base = call.attr("base")
    bases = base_code(base, ctx)[1] if base is not None else ()
    calls = [NewCall("oci_image", rule, tuple(attrs))]
    needs = [(rules.RULES_OCI_DEFS, "oci_image")]
    if repository is not None:
        moves.append(Move("repository", "oci_load.repo_tags"))
    if repository is not None or any(r.suffix == ".tar" for r in refs):
        calls.append(_oci_load(call, ctx, resolved_attr(repository, ctx)))
        needs.append((rules.RULES_OCI_DEFS, "oci_load"))
        notes.append(f"oci_load {named(call, '.tar')} loads the image with the old tag")
    if any(r.replacement for r in refs):
        calls.append(NewCall("filegroup", "filegroup", (
            NewAttr("name", named(call, ".tarball")),
            NewAttr("srcs", list_code([named(call, ".tar", prefix=":")], False)),
            NewAttr("output_group", string("tarball")),
        )))
        notes.append(f"filegroup {named(call, '.tarball')}: the tarball file, which "
                     f"rules_docker's {named(call, '.tar')} was")
    depends = tuple(("base", label) for label in labels_in(base.value, ctx)) if base else ()
    for attr in (layers, tars):  # a container_layer there stays rules_docker
        if attr is not None:
            depends += tuple((attr.name, label) for label in attr.value.literals)
    return CallPlan(call.line, call.kind, name, tuple(calls), tuple(moves), tuple(notes),
                    tuple(needs), bases, refs, call.open_comment, call.closing, call,
                    depends=depends)


def resolved_attr(attr: Attr | None, ctx: Context) -> Attr | None:
    if attr is None:
        return None
    value = resolved(attr.value, ctx)
    return attr if value is attr.value else Attr(attr.name, value, attr.leading, attr.trailing,
                                                 attr.line)


def _oci_load(call: RuleCall, ctx: Context, repository: Attr | None) -> NewCall:
    repo = repository.value.string if repository is not None else "bazel"
    if call.name is not None and repo is not None:
        path = f"{repo}/{ctx.package}" if ctx.package else repo
        tag = string(f"{path}:{call.name}")
    else:
        code = repository.value.code if repository is not None else string("bazel")
        package = string(ctx.package) if ctx.is_build else "native.package_name()"
        tag = f'{code} + "/" + {package} + ":" + {named(call, "")}'
    attrs = (
        NewAttr("name", named(call, ".tar")),
        NewAttr("image", named(call, "", prefix=":")),
        NewAttr("repo_tags", list_code([tag], False)),
    )
    return NewCall("oci_load", ctx.symbols["oci_load"], attrs)


EXAMPLES = (
    (
        '''\
load("@io_bazel_rules_docker//container:container.bzl", "container_image")

container_image(
    name = "web",
    base = "@debian_base//image",
    cmd = "nginx -g 'daemon off;'",
    ports = ["80/tcp"],
    repository = "shop",
    tars = [":site.tar"],
)
''',
        '''\
load("@rules_oci//oci:defs.bzl", "oci_image", "oci_load")

oci_image(
    name = "web",
    base = "@debian_base",
    cmd = [
        "/bin/sh",
        "-c",
        "nginx -g 'daemon off;'",
    ],
    exposed_ports = ["80/tcp"],
    tars = [":site.tar"],
)

oci_load(
    name = "web.tar",
    image = ":web",
    repo_tags = ["shop/pkg:web"],
)
''',
    ),
    (
        '''\
load("@io_bazel_rules_docker//container:container.bzl", "container_image")

container_image(
    name = "with_files",
    files = ["config.yaml"],
)
''',
        None,
    ),
)
