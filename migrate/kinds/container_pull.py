"""``container_pull`` (WORKSPACE or a macro) -> rules_oci ``oci_pull``.

Planned last: a pull is converted only when nothing in the workspace still
uses ``@NAME//`` (rules_docker's ``@NAME//image``) once the other targets are
migrated.
"""

from __future__ import annotations

from migrate import rules
from migrate.fmt import list_code, string
from migrate.kinds.common import display_name, unreadable
from migrate.kinds.table import Custom, Keep, Refuse, Rename, apply
from migrate.model import Attr, CallPlan, Context, Left, Move, NewAttr, NewCall, RuleCall

KIND = "container_pull"
DEFERRED = True  # planned once the uses of @NAME// are known

TABLE = {
    "name": Custom("oci_pull.name (used as @name, no //image)"),
    "registry": Custom("oci_pull.image (registry/repository)"),
    "repository": Custom("oci_pull.image (registry/repository)"),
    "digest": Keep(),
    "tag": Keep(),
    "os": Custom("oci_pull.platforms"),
    "architecture": Custom("oci_pull.platforms"),
    "cpu_variant": Custom("oci_pull.platforms"),
    "import_tags": Rename("bazel_tags"),
}
DEFAULT = Refuse("no oci_pull equivalent")


def plan(call: RuleCall, ctx: Context) -> CallPlan | Left:
    name = display_name(call)
    out = apply(TABLE, DEFAULT, call, ctx, {"": "oci_pull"})
    uses = (ctx.still_used or {}).get(call.name or "", ())
    if uses and not ctx.options.base_suffix:
        more = f" and {len(uses) - 3} more" if len(uses) > 3 else ""
        out.refusals.append(
            f"@{call.name}// is still used by rules_docker ({', '.join(uses[:3])}{more}); "
            f"migrate those first, or pass --oci-base-suffix to pull it under another name"
        )
    for attr in call.attrs:
        if attr.name in ("registry", "repository", "digest", "tag"):
            problem = unreadable(attr, call, ctx, params_ok=True)
            if problem is not None:
                out.refusals.append(problem)
    if out.refusals:
        return Left(call.line, call.kind, name, "; ".join(out.refusals))
    notes = list(out.notes)
    custom = out.custom
    attrs = list(out.attrs.get("", []))
    moves = list(out.moves)
    name_attr = custom.get("name")
    if name_attr is not None:
        code = string(call.name + ctx.options.base_suffix) if call.name else name_attr.value.code
        attrs.append(NewAttr("name", code, name_attr.leading, name_attr.trailing))
        moves.append(Move("name", "oci_pull.name", "used as @name (no //image)"))
    registry, repository = custom.get("registry"), custom.get("repository")
    if registry is not None or repository is not None:
        image, note = _image_ref(registry, repository)
        attrs.append(image)
        if note:
            notes.append(note)
        moves.extend(Move(a.name, "oci_pull.image", "registry/repository")
                     for a in (registry, repository) if a is not None)
    platform = [custom.get(k) for k in ("os", "architecture", "cpu_variant")]
    if any(platform):
        attrs.append(_platforms(*platform))
        moves.extend(Move(a.name, "oci_pull.platforms") for a in platform if a is not None)
    if call.attr("digest") is None and call.attr("tag") is None:
        attrs.append(NewAttr("tag", string("latest")))
        notes.append('tag = "latest" written out (container_pull\'s default; oci_pull needs a '
                     "digest or a tag): pin a digest")
    if uses:
        notes.append(f"oci_pull {call.name}{ctx.options.base_suffix} added beside it: the "
                     f"container_pull stays for rules_docker ({', '.join(uses[:3])})")
    calls = (NewCall("oci_pull", ctx.symbols["oci_pull"], tuple(attrs)),)
    return CallPlan(call.line, call.kind, name, calls, tuple(moves), tuple(notes),
                    ((rules.RULES_OCI_PULL, "oci_pull"),), (), (), call.open_comment,
                    call.closing, call, keep_original=bool(uses))


DOCKER_HUB = ("index.docker.io", "docker.io")


def _image_ref(registry: Attr | None, repository: Attr | None) -> tuple[NewAttr, str]:
    """``registry/repository`` as rules_docker's puller resolved it, and a note.

    rules_docker named the image ``registry/repository`` and go-containerregistry
    put a one-part repository of Docker Hub (``index.docker.io``, ``docker.io``)
    under ``library/``; rules_oci's ``oci_pull`` only does that for a bare name
    (``oci/private/util.bzl`` at v2.3.2), so the migration writes it out.
    """
    parts = [a for a in (registry, repository) if a is not None]
    leading = tuple(c for a in parts for c in a.leading)
    trailing = next((a.trailing for a in reversed(parts) if a.trailing), None)
    note = ""
    if all(a.value.string is not None for a in parts):
        reg = registry.value.string if registry is not None else None
        repo = repository.value.string if repository is not None else None
        if reg in DOCKER_HUB and repo is not None:
            full = "index.docker.io/" + (repo if "/" in repo else "library/" + repo)
            if full != f"{reg}/{repo}":
                note = (f"Docker Hub: {reg}/{repo} written as {full}, the image rules_docker "
                        "pulled (oci_pull adds library/ only to a bare name)")
        else:
            full = "/".join(a.value.string or "" for a in parts)
        return NewAttr("image", string(full), leading, trailing), note
    code = ' + "/" + '.join(a.value.code for a in parts)
    if registry is None or registry.value.string is None:
        note = ("registry is computed: if it is Docker Hub and the repository has one part, "
                "add library/ as rules_docker did")
    return NewAttr("image", code, leading, trailing), note


def _platforms(os_attr: Attr | None, arch: Attr | None, variant: Attr | None) -> NewAttr:
    values = [a.value.string if a is not None else d
              for a, d in ((os_attr, "linux"), (arch, "amd64"), (variant, ""))]
    parts = [a for a in (os_attr, arch, variant) if a is not None]
    leading = tuple(c for a in parts for c in a.leading)
    trailing = next((a.trailing for a in parts if a.trailing), None)
    if all(v is not None for v in values):
        os_name, arch_name, var = values
        if arch_name == "arm64" and not var:
            var = "v8"
        platform = "/".join(p for p in (os_name, arch_name, var) if p)
        return NewAttr("platforms", list_code([string(platform)], False), leading, trailing)
    codes = [a.value.code if a is not None else string(d)
             for a, d in ((os_attr, "linux"), (arch, "amd64"))]
    code = " + \"/\" + ".join(codes)
    if variant is not None:
        code += f' + "/" + {variant.value.code}'
    return NewAttr("platforms", list_code([code], False), leading, trailing)


EXAMPLES = (
    (
        '''\
load("@io_bazel_rules_docker//container:container.bzl", "container_pull")

def images():
    container_pull(
        name = "arm_base",
        architecture = "arm64",
        digest = "sha256:0123",
        registry = "mirror.example.com",
        repository = "library/python",
    )
''',
        '''\
load("@rules_oci//oci:pull.bzl", "oci_pull")

def images():
    oci_pull(
        name = "arm_base",
        digest = "sha256:0123",
        image = "mirror.example.com/library/python",
        platforms = ["linux/arm64/v8"],
    )
''',
    ),
)
