"""``py3_image`` (rules_docker ``python3/image.bzl``) -> ``py_binary`` + our ``py_image``.

rules_docker's macro made a ``py_binary`` named ``NAME.binary`` from everything
but ``base``, ``layers`` and ``env``, and an image ``NAME``; the migration
writes both out, so ``:NAME`` and ``:NAME.binary`` keep working.
"""

from __future__ import annotations

import re

from migrate import rules
from migrate.fmt import dict_code, list_code, string
from migrate.kinds.common import (
    base_code,
    display_name,
    labels_in,
    map_base_attr,
    named,
    references,
)
from migrate.kinds.table import Custom, Keep, Map, apply, copy_attr
from migrate.labels import buildifier_string_key, parse_label, shorten_label
from migrate.model import (
    Attr,
    CallPlan,
    Context,
    Left,
    Move,
    NewAttr,
    NewCall,
    RuleCall,
    Value,
)

KIND = "py3_image"
BINARY, IMAGE = "binary", "image"
BOTH = (BINARY, IMAGE)

# reference suffixes with an exact equivalent in what the kind becomes
EQUIVALENTS = {".tar": "py_image's :NAME.tar (oci_load)", ".digest": "oci_image's :NAME.digest"}


FILE_EQUIVALENT = "py_image's :NAME.tarball (the docker-archive file)"


TABLE = {
    "name": Custom("py_image.name; the binary is NAME.binary"),
    "base": Map(map_base_attr, to=(IMAGE,)),
    "env": Keep(to=(IMAGE,)),
    "deps": Custom("py_binary.deps"),
    "layers": Custom("py_binary.deps and one py_image.layer_groups entry each"),
    "args": Custom("py_binary.args and py_image.cmd (rules_docker's Cmd)"),
    "tags": Keep(to=BOTH),
    "visibility": Keep(to=BOTH),
    "testonly": Keep(to=BOTH),
    **{a: Keep(to=(BINARY,)) for a in ("srcs", "main", "data", "imports",
                                       "python_version", "srcs_version")},
}
# py3_image passed everything else (**kwargs) to its py_binary
DEFAULT = Keep(to=(BINARY,), note="py3_image passed it to the py_binary")


def plan(call: RuleCall, ctx: Context) -> CallPlan | Left:
    name = display_name(call)
    refs, blocking = references(call, ctx.refs, EQUIVALENTS, FILE_EQUIVALENT)
    if blocking:
        return Left(call.line, call.kind, name, "; ".join(blocking), references=refs)
    binary_rule, image_rule = ctx.symbols["py_binary"], ctx.symbols["py_image"]
    out = apply(TABLE, DEFAULT, call, ctx, {BINARY: binary_rule, IMAGE: image_rule})
    layers = out.custom.get("layers")
    groups = _layer_groups(layers.value, ctx.package) if layers is not None else []
    if isinstance(groups, str):
        out.refusals.append(groups)
    args = out.custom.get("args")
    if args is not None:
        if args.value.strings is None:
            out.refusals.append(
                f"args = {args.value.code.splitlines()[0]} is not a list of strings: "
                "rules_docker also made it the image's Cmd, which py_image's cmd needs written out")
        elif any("$(" in arg for arg in args.value.strings):
            out.refusals.append(
                "args use make variables ($(location ...)): rules_docker expanded them into "
                "the image's Cmd; py_image's cmd has no such expansion")
    if out.refusals:
        return Left(call.line, call.kind, name, "; ".join(out.refusals), references=refs)
    assert not isinstance(groups, str)

    binary: list[NewAttr] = [NewAttr("name", named(call, ".binary")), *out.attrs.get(BINARY, [])]
    image: list[NewAttr] = list(out.attrs.get(IMAGE, []))
    moves = list(out.moves)
    notes = list(out.notes)
    name_attr = out.custom.get("name")
    if name_attr is not None:
        image.append(copy_attr(name_attr))
        moves.insert(0, Move("name", f"{image_rule}.name",
                              f"the binary is {named(call, '.binary')}"))
    if args is not None:
        binary.append(copy_attr(args))
        image.append(copy_attr(args, "cmd", comments=False))
        moves.append(Move("args", f"{binary_rule}.args and {image_rule}.cmd",
                          "rules_docker's image Cmd was the binary's args"))
    deps = _merge_deps(out.custom.get("deps"), layers, ctx.is_build)
    if deps is not None:
        binary.append(deps)
        if "deps" in out.custom:
            moves.append(Move("deps", f"{binary_rule}.deps"))
    if call.attr("main") is None:
        binary.append(NewAttr("main", named(call, ".py")))
        notes.append(f"main made explicit: {named(call, '.py')} (py3_image's default)")
    image.append(NewAttr("binary", named(call, ".binary", prefix=":")))
    base = call.attr("base")
    if base is not None:
        _, bases, _ = base_code(base, ctx)
    else:
        image.append(NewAttr("base", string(ctx.options.default_base)))
        bases = (ctx.options.default_base,)
        notes.append("no base: rules_docker's default distroless python3 image is "
                     f"{ctx.options.default_base}")
    if layers is not None:
        pairs = [(string(g), code) for g, code, _ in groups if g]
        image.append(NewAttr("layer_groups", dict_code(pairs), layers.leading, layers.trailing))
        moves.append(Move("layers", f"{binary_rule}.deps and {image_rule}.layer_groups",
                          "each entry keeps a layer of its own (a dependency group)"))
        notes.extend(note for _, _, note in groups if note)
    return CallPlan(
        line=call.line,
        kind=call.kind,
        name=name,
        calls=(NewCall("py_binary", binary_rule, tuple(binary), _native_py_comment(ctx)),
               NewCall("py_image", image_rule, tuple(image))),
        moves=tuple(moves),
        notes=tuple(notes),
        needs=((ctx.symbols.get("py_binary@label", ""), "py_binary"),
               (rules.OCI_LABEL, "py_image")),
        bases=bases,
        references=refs,
        open_comment=call.open_comment,
        closing=call.closing,
        call=call,
        depends=tuple(("base", label) for label in labels_in(base.value, ctx))
        if base is not None else (),
    )


def _native_py_comment(ctx: Context) -> tuple[str, ...]:
    """Files that silence buildifier's native-py warning get the same comment."""
    if ctx.symbols.get("py_binary@label") or not ctx.silence_native_py:
        return ()
    if ctx.symbols.get("py_binary") != "py_binary" or ctx.symbols.get("py_binary@loaded"):
        return ()
    return ("# buildifier: disable=native-py",)


def _layer_groups(value: Value, package: str) -> list[tuple[str, str, str]] | str:
    """(group name, label code, note) for each entry of ``layers``, or why there cannot be one.

    rules_docker gave each entry a layer holding its transitive runfiles; a
    dependency group of ``py_image`` (a label value in ``layer_groups``) is that.
    An entry named twice gets one group: two groups with one selector would
    leave the second empty.
    """
    if value.kind != "list":
        return (f"layers is not a list ({value.code.splitlines()[0]}): "
                "cannot name a layer group for each entry")
    groups: list[tuple[str, str, str]] = []
    taken: set[str] = set()
    seen: dict[str, str] = {}
    for item in value.items:
        group = _layer_group(item, package)
        if group is None:
            return (f"layers entry {item.code} is not a label or requirement(): "
                    "cannot make a layer group for it")
        name, key, code = group
        if key in seen:
            groups.append(("", "", f"layers entry {item.code} is the same as {seen[key]}: "
                           "one layer group for both"))
            continue
        seen[key] = item.code
        groups.append((_group_id(name, taken), code, ""))
    return [g for g in groups if g[0]] + [g for g in groups if not g[0]]


def _layer_group(item: Value, package: str) -> tuple[str, str, str] | None:
    """(group name, identity, label code) for one entry of py3_image's ``layers``."""
    if item.kind == "string":
        label = parse_label(item.string, package) if item.string is not None else None
        if label is None:
            return None
        if label.repo:
            base = label.repo if not label.package else f"{label.repo}_{label.package}"
            if label.name not in (label.repo, label.package.rsplit("/", 1)[-1], "pkg"):
                base = f"{base}_{label.name}"
        else:
            base = label.name
        return base, str(label), string(shorten_label(item.string or ""))
    if (item.kind == "call" and item.func == "requirement" and len(item.items) == 1
            and item.items[0].string is not None):
        dist = item.items[0].string
        normal = re.sub(r"[-_.]+", "_", dist.split("[")[0].strip()).lower()
        return normal, f"requirement:{normal}", item.code
    return None


def _group_id(text: str, taken: set[str]) -> str:
    ident = re.sub(r"[^0-9a-zA-Z_]+", "_", text).strip("_").lower() or "group"
    if ident[0].isdigit():
        ident = "g_" + ident
    if ident in ("interpreter", "packages", "app"):
        ident += "_deps"
    candidate, n = ident, 2
    while candidate in taken:
        candidate, n = f"{ident}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _label_list(values: list[str], is_build: bool, multiline: bool = False) -> str:
    """A deps list as buildifier writes it: short labels, sorted in BUILD files."""
    items = list(dict.fromkeys(shorten_label(v) for v in values))
    if is_build:
        items.sort(key=buildifier_string_key)
    return list_code([string(s) for s in items], multiline or len(items) > 1)


def _merge_deps(deps: Attr | None, layers: Attr | None, is_build: bool) -> NewAttr | None:
    if layers is None:
        return copy_attr(deps) if deps is not None else None
    lay = layers.value
    layer_code = lay.code
    if lay.strings is not None:
        layer_code = _label_list(list(lay.strings), is_build)
    if deps is None:
        return NewAttr("deps", layer_code, (), None, lay.verbatim and lay.strings is None)
    d = deps.value
    if d.strings is not None and lay.strings is not None and not d.verbatim:
        return copy_attr(deps, code=_label_list([*d.strings, *lay.strings], is_build,
                                                d.multiline))
    code = f"{d.code} + {layer_code}"
    verbatim = d.verbatim or (lay.verbatim and lay.strings is None)
    return NewAttr("deps", code, deps.leading, deps.trailing, verbatim)


EXAMPLES = (
    (
        '''\
load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")

py3_image(
    name = "server",
    srcs = ["server.py"],
    base = "@python_base//image",
    env = {"PORT": "8080"},
    layers = ["@pip_deps//torch"],
    deps = [":lib"],
)
''',
        '''\
load("@pycross_image//bazel/rules:oci.bzl", "py_image")
load("@rules_python//python:py_binary.bzl", "py_binary")

py_binary(
    name = "server.binary",
    srcs = ["server.py"],
    main = "server.py",
    deps = [
        ":lib",
        "@pip_deps//torch",
    ],
)

py_image(
    name = "server",
    base = "@python_base",
    binary = ":server.binary",
    env = {"PORT": "8080"},
    layer_groups = {"pip_deps_torch": "@pip_deps//torch"},
)
''',
    ),
)
