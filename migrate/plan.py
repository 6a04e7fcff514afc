"""Plan stage: pure functions from the records of :mod:`migrate.calls` to what to write.

Nothing here touches a file or a syntax tree: each planner takes a
:class:`~migrate.calls.RuleCall` and a :class:`Context` and returns either a
:class:`CallPlan` (the calls that replace it, where every attribute went) or a
:class:`Left` (why the call stays as it is).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

import libcst as cst

from migrate import rules
from migrate.calls import Attr, RuleCall, Value
from migrate.fmt import NewAttr, NewCall, concat, dict_code, list_code, string
from migrate.labels import buildifier_string_key, parse_label, shorten_label

DEFAULT_BASE_REPO = "distroless_python3"
_BASE = re.compile(r"""(["'])@([A-Za-z0-9_.~+-]+)//image(?::image)?\1""")
_PULL_REPO = re.compile(r"^@([A-Za-z0-9_.~+-]+)$")

# reference suffixes with an exact equivalent in what each kind becomes
_EQUIVALENT = {
    "py3_image": {".tar": "py_image's :NAME.tar (oci_load)", ".digest": "oci_image's :NAME.digest"},
    "container_image": {".digest": "oci_image's :NAME.digest", ".tar": "oci_load :NAME.tar"},
}

COMMON_ATTRS = frozenset(
    {"visibility", "tags", "testonly", "target_compatible_with", "compatible_with",
     "restricted_to", "features", "deprecation", "licenses", "exec_compatible_with",
     "exec_properties", "applicable_licenses", "package_metadata"}
)
_BOTH = ("tags", "visibility", "testonly")
_BINARY_ATTRS = ("srcs", "main", "deps", "layers", "data", "imports", "args",
                 "python_version", "srcs_version")
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


@dataclass(frozen=True)
class Options:
    to: str = "oci"  # "oci" or "docker-shim"
    default_base: str = "@" + DEFAULT_BASE_REPO
    base_suffix: str = ""  # "@x//image" -> "@x" + base_suffix
    workspace: bool = False


@dataclass(frozen=True)
class ImplicitRef:
    """A reference to an implicit target of an image (``:app.tar``, ``//p:app.digest``)."""

    path: str
    line: int
    text: str  # the label as written
    target: str  # //pkg:name of the image
    suffix: str
    equivalent: str | None = None  # what it resolves to after migration, when exact


@dataclass(frozen=True)
class Move:
    attr: str
    to: str  # "py_binary.srcs", "py_image.env", "dropped", ...
    note: str = ""


@dataclass(frozen=True)
class CallPlan:
    """What a call becomes."""

    line: int
    kind: str
    name: str
    calls: tuple[NewCall, ...]
    moves: tuple[Move, ...] = ()
    notes: tuple[str, ...] = ()
    needs: tuple[tuple[str, str], ...] = ()  # (load label, symbol) the new calls use
    bases: tuple[str, ...] = ()  # base repositories ("@x") the new image uses
    references: tuple[ImplicitRef, ...] = ()
    open_comment: str | None = None
    closing: tuple[str, ...] = ()
    call: RuleCall | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Left:
    """A call the tool leaves as it is, and why."""

    line: int
    kind: str
    name: str
    reason: str
    skipped: bool = False  # on purpose ("# migrate: skip"), not a failure
    references: tuple[ImplicitRef, ...] = ()


@dataclass(frozen=True)
class Context:
    """What a planner needs to know beyond the call itself."""

    package: str
    is_build: bool
    symbols: Mapping[str, str]  # rule ("py_image", "oci_image", ...) -> local name to call it by
    options: Options = Options()
    refs: Mapping[str, tuple[ImplicitRef, ...]] = field(default_factory=dict)  # by image name
    still_used: Mapping[str, tuple[str, ...]] | None = None  # repo -> remaining "@x//" uses
    silence_native_py: bool = False  # the file says "buildifier: disable=native-py"


Result = Union[CallPlan, Left]


def display_name(call: RuleCall) -> str:
    return call.name or call.name_code or call.name_text or "?"


def plan_call(call: RuleCall, ctx: Context) -> Result | None:
    """Plan one call; None when it is deferred (a container_pull before uses are known)."""
    name = display_name(call)
    if call.skip:
        return Left(call.line, call.kind, name, "marked '# migrate: skip'", skipped=True)
    if call.kind in rules.UNSUPPORTED:
        return Left(call.line, call.kind, name, rules.UNSUPPORTED[call.kind])
    if call.problem:
        return Left(call.line, call.kind, name, call.problem)
    if call.kind == "container_pull" and ctx.still_used is None:
        return None
    planner = _PLANNERS[call.kind]
    return planner(call, ctx)


# -- helpers ----------------------------------------------------------------


def _named(call: RuleCall, suffix: str, prefix: str = "") -> str:
    if call.name is not None:
        return string(prefix + call.name + suffix)
    head = f"{string(prefix)} + " if prefix else ""
    return f"{head}{call.name_code} + {string(suffix)}" if suffix else f"{head}{call.name_code}"


def _keep(attr: Attr, name: str | None = None, comments: bool = True) -> NewAttr:
    return NewAttr(
        name or attr.name,
        attr.value.code,
        attr.leading if comments else (),
        attr.trailing if comments else None,
        attr.value.verbatim,
    )


def _with_code(attr: Attr, code: str, name: str | None = None) -> NewAttr:
    return NewAttr(name or attr.name, code, attr.leading, attr.trailing)


def map_base(value: Value, suffix: str) -> tuple[str, tuple[str, ...]]:
    """``"@x//image"`` (also inside a select) -> ``"@x"``; returns new code and bases used."""
    found: list[str] = []

    def repl(match: re.Match[str]) -> str:
        repo = match.group(2) + suffix
        found.append("@" + repo)
        return string("@" + repo)

    code = _BASE.sub(repl, value.code)
    if value.kind == "string" and value.string and _PULL_REPO.match(value.string):
        found.append(value.string)
    return code, tuple(dict.fromkeys(found))


def _layer_group(node: cst.BaseExpression, package: str) -> tuple[str, str] | None:
    """(group name, regex) for one entry of py3_image's ``layers``."""
    if isinstance(node, cst.SimpleString):
        text = node.evaluated_value
        label = parse_label(text, package) if isinstance(text, str) else None
        if label is None:
            return None
        if label.repo:
            path = f"{label.repo}/{label.package}" if label.package else label.repo
            regex = "^" + re.escape(path) + "/.*"
            base = label.repo if not label.package else f"{label.repo}_{label.package}"
            if label.name not in (label.repo, label.package.rsplit("/", 1)[-1], "pkg"):
                base = f"{base}_{label.name}"
            return base, regex
        regex = "^[^/]+/" + (re.escape(label.package) + "/" if label.package else "") + ".*"
        return label.name, regex
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value == "requirement"
        and len(node.args) == 1
        and isinstance(node.args[0].value, cst.SimpleString)
    ):
        dist = node.args[0].value.evaluated_value
        if not isinstance(dist, str):
            return None
        normal = re.sub(r"[-_.]+", "_", dist.split("[")[0].strip()).lower()
        return normal, "^[^/]*_" + re.escape(normal) + "/.*"
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


def _references(call: RuleCall, ctx: Context) -> tuple[tuple[ImplicitRef, ...], list[str]]:
    """Classify the references to this call's implicit targets: (kept, blocking reasons)."""
    if call.name is None:
        return (), []
    kept: list[ImplicitRef] = []
    blocking: list[str] = []
    equivalents = _EQUIVALENT.get(call.kind, {})
    for ref in ctx.refs.get(call.name, ()):
        equivalent = equivalents.get(ref.suffix)
        if equivalent:
            kept.append(
                ImplicitRef(ref.path, ref.line, ref.text, ref.target, ref.suffix,
                            equivalent.replace("NAME", call.name))
            )
        else:
            blocking.append(
                f"{ref.path}:{ref.line} uses {ref.text}, which has no rules_oci equivalent"
            )
    return tuple(kept), blocking


def _moves(pairs: Sequence[tuple[str, str, str]]) -> tuple[Move, ...]:
    return tuple(Move(a, to, note) for a, to, note in pairs)


# -- py3_image ----------------------------------------------------------------


def plan_py3_image(call: RuleCall, ctx: Context) -> Result:
    name = display_name(call)
    attrs = {a.name: a for a in call.attrs}
    refs, blocking = _references(call, ctx)
    if blocking:
        return Left(call.line, call.kind, name, "; ".join(blocking), references=refs)

    binary_rule = ctx.symbols["py_binary"]
    image_rule = ctx.symbols["py_image"]
    groups: list[tuple[str, str]] = []
    layers = attrs.get("layers")
    if layers is not None:
        node = layers.value.node
        if not isinstance(node, cst.List):
            return Left(call.line, call.kind, name,
                        f"layers is not a list ({layers.value.code.splitlines()[0]}): "
                        "cannot name a layer group for each entry")
        taken: set[str] = set()
        for element in node.elements:
            group = _layer_group(element.value, ctx.package)
            if group is None:
                entry = cst.Module([]).code_for_node(element.value)
                return Left(call.line, call.kind, name,
                            f"layers entry {entry} is not a label or requirement(): "
                            "cannot make a layer group for it")
            groups.append((_group_id(group[0], taken), group[1]))

    binary: list[NewAttr] = [NewAttr("name", _named(call, ".binary"))]
    image: list[NewAttr] = []
    moves: list[tuple[str, str, str]] = []
    notes: list[str] = []
    bases: tuple[str, ...] = ()
    b_name, i_name = f"{binary_rule}", f"{image_rule}"

    for attr in call.attrs:
        if attr.name == "name":
            image.append(_keep(attr))
            moves.append(("name", f"{i_name}.name", f"the binary is {_named(call, '.binary')}"))
        elif attr.name == "base":
            code, bases = map_base(attr.value, ctx.options.base_suffix)
            image.append(_with_code(attr, code))
            note = "" if code == attr.value.code else "@x//image -> @x (an oci_pull)"
            moves.append(("base", f"{i_name}.base", note))
        elif attr.name == "env":
            image.append(_keep(attr))
            moves.append(("env", f"{i_name}.env", ""))
        elif attr.name in ("deps", "layers"):
            continue
        elif attr.name in _BOTH:
            binary.append(_keep(attr))
            image.append(_keep(attr, comments=False))
            moves.append((attr.name, f"{b_name}.{attr.name} and {i_name}.{attr.name}", ""))
        else:
            binary.append(_keep(attr))
            note = "" if attr.name in _BINARY_ATTRS else "py3_image passed it to the py_binary"
            moves.append((attr.name, f"{b_name}.{attr.name}", note))

    deps = _merge_deps(attrs.get("deps"), layers, ctx.is_build)
    if deps is not None:
        binary.append(deps)
        if "deps" in attrs:
            moves.append(("deps", f"{b_name}.deps", ""))
    if "main" not in attrs:
        binary.append(NewAttr("main", _named(call, ".py")))
        notes.append(f"main made explicit: {_named(call, '.py')} (py3_image's default)")
    image.append(NewAttr("binary", _named(call, ".binary", prefix=":")))
    if "base" not in attrs:
        base = ctx.options.default_base
        image.append(NewAttr("base", string(base)))
        bases = (base,)
        notes.append(f"no base: rules_docker's default distroless python3 image is {base}")
    if layers is not None:
        pairs = [(string(g), string(r)) for g, r in groups]
        image.append(NewAttr("layer_groups", dict_code(pairs), layers.leading, layers.trailing))
        moves.append(("layers", f"{b_name}.deps and {i_name}.layer_groups",
                      "each entry keeps a layer of its own"))
    return CallPlan(
        line=call.line,
        kind=call.kind,
        name=name,
        calls=(NewCall("py_binary", binary_rule, tuple(binary), _native_py_comment(ctx)),
               NewCall("py_image", image_rule, tuple(image))),
        moves=_moves(moves),
        notes=tuple(notes),
        needs=(_needs_py_binary(ctx), (rules.OCI_LABEL, "py_image")),
        bases=bases,
        references=refs,
        open_comment=call.open_comment,
        closing=call.closing,
        call=call,
    )


def _native_py_comment(ctx: Context) -> tuple[str, ...]:
    """Files that silence buildifier's native-py warning get the same comment."""
    if ctx.symbols.get("py_binary@label") or not ctx.silence_native_py:
        return ()
    if ctx.symbols.get("py_binary") != "py_binary" or ctx.symbols.get("py_binary@loaded"):
        return ()
    return ("# buildifier: disable=native-py",)


def _needs_py_binary(ctx: Context) -> tuple[str, str]:
    label = ctx.symbols.get("py_binary@label", "")
    return (label, "py_binary")


def _label_list(values: Sequence[str], is_build: bool, multiline: bool = False) -> str:
    """A deps list as buildifier writes it: short labels, sorted in BUILD files."""
    items = list(dict.fromkeys(shorten_label(v) for v in values))
    if is_build:
        items.sort(key=buildifier_string_key)
    return list_code([string(s) for s in items], multiline or len(items) > 1)


def _merge_deps(deps: Attr | None, layers: Attr | None, is_build: bool) -> NewAttr | None:
    if layers is None:
        return _keep(deps) if deps is not None else None
    lay = layers.value
    layer_code = lay.code
    if lay.strings is not None:
        layer_code = _label_list(lay.strings, is_build)
    if deps is None:
        return NewAttr("deps", layer_code, (), None, lay.verbatim and lay.strings is None)
    d = deps.value
    if d.strings is not None and lay.strings is not None and not d.verbatim:
        return _with_code(deps, _label_list([*d.strings, *lay.strings], is_build, d.multiline))
    code = concat(d.code, layer_code)
    verbatim = d.verbatim or (lay.verbatim and lay.strings is None)
    return NewAttr("deps", code, deps.leading, deps.trailing, verbatim)


# -- container_image ------------------------------------------------------------


def plan_container_image(call: RuleCall, ctx: Context) -> Result:
    name = display_name(call)
    attrs = {a.name: a for a in call.attrs}
    refs, blocking = _references(call, ctx)
    reasons = list(blocking)
    for attr in call.attrs:
        if attr.name in _NEEDS_TAR:
            reasons.append(f"{attr.name} needs a tar rule (pkg_tar) passed in tars")
        elif attr.name in _NO_EQUIVALENT:
            reasons.append(f"{attr.name}: {_NO_EQUIVALENT[attr.name]}")
        elif attr.name == "labels" and _has_file_label(attr.value):
            reasons.append("labels with @file values: rules_oci takes label values as text")
        elif attr.name not in _IMAGE_KNOWN:
            reasons.append(f"{attr.name}: not a container_image attribute this tool knows")
    if reasons:
        return Left(call.line, call.kind, name, "; ".join(reasons), references=refs)

    rule = ctx.symbols["oci_image"]
    out: list[NewAttr] = []
    moves: list[tuple[str, str, str]] = []
    notes: list[str] = []
    bases: tuple[str, ...] = ()
    layer_code = attrs["layers"].value.code if "layers" in attrs else None
    for attr in call.attrs:
        n = attr.name
        if n == "base":
            code, bases = map_base(attr.value, ctx.options.base_suffix)
            out.append(_with_code(attr, code))
            moves.append((n, "oci_image.base", ""))
        elif n == "layers":
            if "tars" in attrs:
                continue
            out.append(_keep(attr, "tars"))
            moves.append((n, "oci_image.tars", "each entry must be a tar file"))
            notes.append("layers -> tars: container_layer targets must become tar rules (pkg_tar)")
        elif n == "tars":
            if layer_code is not None:
                layers = attrs["layers"]
                code = concat(layer_code, attr.value.code)
                out.append(NewAttr("tars", code, layers.leading + attr.leading, attr.trailing,
                                   attr.value.verbatim or layers.value.verbatim))
                moves.append(("layers", "oci_image.tars", "layers first, as rules_docker"))
            else:
                out.append(_keep(attr))
            moves.append((n, "oci_image.tars", "one layer per tar, no longer squashed"))
        elif n == "ports":
            out.append(_keep(attr, "exposed_ports"))
            moves.append((n, "oci_image.exposed_ports", ""))
        elif n == "operating_system":
            if "base" in attrs:
                moves.append((n, "dropped", "rules_oci takes it from the base"))
                notes.append("operating_system dropped: rules_oci takes it from the base")
                continue
            out.append(_keep(attr, "os"))
            moves.append((n, "oci_image.os", ""))
        elif n == "architecture":
            if "base" in attrs:
                moves.append((n, "dropped", "rules_oci takes it from the base"))
                notes.append("architecture dropped: rules_oci takes it from the base")
                continue
            out.append(_keep(attr))
            moves.append((n, "oci_image.architecture", ""))
        elif n in ("cmd", "entrypoint"):
            if attr.value.kind == "string":
                code = list_code([string("/bin/sh"), string("-c"), attr.value.code])
                out.append(_with_code(attr, code))
                moves.append((n, f"oci_image.{n}", 'a string means ["/bin/sh", "-c", s]'))
            else:
                out.append(_keep(attr))
                moves.append((n, f"oci_image.{n}", ""))
        elif n == "repository":
            moves.append((n, "oci_load.repo_tags", ""))
        else:
            out.append(_keep(attr))
            moves.append((n, f"oci_image.{n}", ""))
    if "base" not in attrs:
        if "operating_system" not in attrs:
            out.append(NewAttr("os", string("linux")))
        if "architecture" not in attrs:
            out.append(NewAttr("architecture", string("amd64")))
        notes.append("no base: os and architecture written out (rules_docker's defaults)")
    calls = [NewCall("oci_image", rule, tuple(out))]
    needs = [(rules.RULES_OCI_DEFS, "oci_image")]
    wants_tar = any(r.suffix == ".tar" for r in refs)
    if "repository" in attrs or wants_tar:
        repo = attrs["repository"].value.code if "repository" in attrs else string("bazel")
        calls.append(_oci_load(call, ctx, repo))
        needs.append((rules.RULES_OCI_DEFS, "oci_load"))
        notes.append(f"oci_load {_named(call, '.tar')} loads the image with the old tag")
    return CallPlan(call.line, call.kind, name, tuple(calls), _moves(moves), tuple(notes),
                    tuple(needs), bases, refs, call.open_comment, call.closing, call)


_IMAGE_KNOWN = frozenset(
    {"name", "base", "tars", "layers", "env", "cmd", "entrypoint", "workdir", "user", "ports",
     "volumes", "labels", "architecture", "operating_system", "repository"} | COMMON_ATTRS
)


def _has_file_label(value: Value) -> bool:
    node = value.node
    if not isinstance(node, cst.Dict):
        return False
    for element in node.elements:
        if isinstance(element, cst.DictElement) and isinstance(element.value, cst.SimpleString):
            text = element.value.evaluated_value
            if isinstance(text, str) and text.startswith("@"):
                return True
    return False


def _oci_load(call: RuleCall, ctx: Context, repository_code: str) -> NewCall:
    if call.name is not None and repository_code.startswith('"'):
        repo = cst.parse_expression(repository_code).evaluated_value  # type: ignore[union-attr]
        path = f"{repo}/{ctx.package}" if ctx.package else repo
        tag = string(f"{path}:{call.name}")
    else:
        package = string(ctx.package) if ctx.is_build else "native.package_name()"
        tag = f'{repository_code} + "/" + {package} + ":" + {_named(call, "")}'
    attrs = (
        NewAttr("name", _named(call, ".tar")),
        NewAttr("image", _named(call, "", prefix=":")),
        NewAttr("repo_tags", list_code([tag], False)),
    )
    return NewCall("oci_load", ctx.symbols["oci_load"], attrs)


# -- container_push ---------------------------------------------------------------

_PUSH_KNOWN = frozenset(
    {"name", "image", "registry", "repository", "repository_file", "tag", "tag_file", "format",
     "skip_unchanged_digest", "stamp"} | COMMON_ATTRS
)


def plan_container_push(call: RuleCall, ctx: Context) -> Result:
    name = display_name(call)
    attrs = {a.name: a for a in call.attrs}
    reasons = []
    for attr in call.attrs:
        if attr.name == "stamp":
            reasons.append("stamp: rules_oci has no stamping attribute (use a tag file)")
        elif attr.name not in _PUSH_KNOWN:
            reasons.append(f"{attr.name}: not a container_push attribute this tool knows")
    tag = attrs.get("tag")
    if tag is not None and tag.value.string is not None and "{" in tag.value.string:
        reasons.append(f"tag {tag.value.code} uses stamp variables: write a tag file instead")
    if "repository_file" in attrs and "registry" in attrs:
        reasons.append("registry with repository_file: oci_push takes the full name in the file")
    if reasons:
        return Left(call.line, call.kind, name, "; ".join(reasons))
    out: list[NewAttr] = []
    moves: list[tuple[str, str, str]] = []
    notes: list[str] = []
    registry = attrs.get("registry")
    for attr in call.attrs:
        n = attr.name
        if n == "registry":
            moves.append((n, "oci_push.repository", "registry/repository"))
        elif n == "repository":
            if registry is not None:
                if registry.value.string is not None and attr.value.string is not None:
                    code = string(f"{registry.value.string}/{attr.value.string}")
                else:
                    code = f'{registry.value.code} + "/" + {attr.value.code}'
                leading = registry.leading + attr.leading
                trailing = attr.trailing or registry.trailing
                out.append(NewAttr("repository", code, leading, trailing))
            else:
                out.append(_keep(attr))
            moves.append((n, "oci_push.repository", ""))
        elif n == "tag":
            out.append(_with_code(attr, list_code([attr.value.code], False), "remote_tags"))
            moves.append((n, "oci_push.remote_tags", ""))
        elif n == "tag_file":
            out.append(_keep(attr, "remote_tags"))
            moves.append((n, "oci_push.remote_tags", "a file with one tag a line"))
        elif n in ("format", "skip_unchanged_digest"):
            why = ("rules_oci pushes the image as built (OCI)" if n == "format"
                   else "oci_push always skips blobs the registry has")
            moves.append((n, "dropped", why))
            notes.append(f"{n} = {attr.value.code} dropped: {why}")
        else:
            out.append(_keep(attr))
            moves.append((n, f"oci_push.{n}", ""))
    if registry is not None and "repository" not in attrs:
        out.append(_keep(registry, "repository"))
    if "tag" not in attrs and "tag_file" not in attrs:
        out.append(NewAttr("remote_tags", list_code([string("latest")], False)))
        notes.append('remote_tags = ["latest"] (container_push\'s default tag)')
    calls = (NewCall("oci_push", ctx.symbols["oci_push"], tuple(out)),)
    return CallPlan(call.line, call.kind, name, calls, _moves(moves), tuple(notes),
                    ((rules.RULES_OCI_DEFS, "oci_push"),), (), (), call.open_comment,
                    call.closing, call)


# -- container_pull -----------------------------------------------------------------

_PULL_KNOWN = frozenset(
    {"name", "registry", "repository", "digest", "tag", "os", "architecture", "cpu_variant",
     "import_tags"}
)


def plan_container_pull(call: RuleCall, ctx: Context) -> Result:
    name = display_name(call)
    attrs = {a.name: a for a in call.attrs}
    reasons = [f"{a.name}: no oci_pull equivalent" for a in call.attrs if a.name not in _PULL_KNOWN]
    uses = (ctx.still_used or {}).get(call.name or "", ())
    if uses:
        more = f" and {len(uses) - 3} more" if len(uses) > 3 else ""
        reasons.append(
            f"@{call.name}// is still used by rules_docker ({', '.join(uses[:3])}{more}); "
            f"migrate those first, or pass --oci-base-suffix to pull it under another name"
        )
    if reasons:
        return Left(call.line, call.kind, name, "; ".join(reasons))
    out: list[NewAttr] = []
    moves: list[tuple[str, str, str]] = []
    registry, repository = attrs.get("registry"), attrs.get("repository")
    platform = [attrs.get(k) for k in ("os", "architecture", "cpu_variant")]
    for attr in call.attrs:
        n = attr.name
        if n in ("registry", "repository"):
            if n == "repository" or repository is None:
                out.append(_image_ref(registry, repository))
            moves.append((n, "oci_pull.image", "registry/repository"))
        elif n in ("os", "architecture", "cpu_variant"):
            if attr is next(a for a in platform if a is not None):
                out.append(_platforms(*platform))
            moves.append((n, "oci_pull.platforms", ""))
        elif n == "import_tags":
            out.append(_keep(attr, "bazel_tags"))
            moves.append((n, "oci_pull.bazel_tags", ""))
        elif n == "name":
            code = string(call.name + ctx.options.base_suffix) if call.name else attr.value.code
            out.append(_with_code(attr, code))
            moves.append((n, "oci_pull.name", "used as @name (no //image)"))
        else:
            out.append(_keep(attr))
            moves.append((n, f"oci_pull.{n}", ""))
    calls = (NewCall("oci_pull", ctx.symbols["oci_pull"], tuple(out)),)
    return CallPlan(call.line, call.kind, name, calls, _moves(moves), (),
                    ((rules.RULES_OCI_PULL, "oci_pull"),), (), (), call.open_comment,
                    call.closing, call)


def _image_ref(registry: Attr | None, repository: Attr | None) -> NewAttr:
    parts = [a for a in (registry, repository) if a is not None]
    if all(a.value.string is not None for a in parts):
        code = string("/".join(a.value.string or "" for a in parts))
    else:
        code = ' + "/" + '.join(a.value.code for a in parts)
    leading = tuple(c for a in parts for c in a.leading)
    trailing = next((a.trailing for a in reversed(parts) if a.trailing), None)
    return NewAttr("image", code, leading, trailing)


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


_PLANNERS = {
    "py3_image": plan_py3_image,
    "container_image": plan_container_image,
    "container_push": plan_container_push,
    "container_pull": plan_container_pull,
}
