"""`py_image_layers`: the runfiles of an executable as deterministic image layers.

The rule writes a manifest of every runfile (files, `symlinks`,
`root_symlinks`, `empty_filenames`, `_repo_mapping`, declared symlinks, tree
artifacts) with `ctx.actions.args()` and `map_each`, so no depset is
flattened at analysis time. Then one action per layer group runs the
layering core (`//bazel/rules/pycross_layers:tool`, standard library only)
and writes that group's tar. Each action reports the inputs it did not read
(`unused_inputs_list`), so editing app code re-runs the app layer action only.
The layer actions are not sandboxed (`no-sandbox`; they can still run remotely
and be cached): a sandbox would link every runfile in before each action, which
took most of a warm rebuild with PyTorch (docs/images.md, "Large images").

Works on Bazel 4.2.3 and is written for Bazel 6, 7 and 8: the APIs that
differ (`File.is_symlink`, `FilesToRunProvider.repo_mapping_manifest`) are
feature-detected.
"""

load(
    "//bazel/rules/pycross_layers:contract.bzl",
    "COMPRESSION_EXTENSIONS",
    "COMPRESSION_METHODS",
    "DEFAULT_GROUPS_AFTER",
    "DEFAULT_GROUPS_BEFORE",
    "GROUP_NAME_CHARS",
    "GROUP_NAME_FIRST",
    "GROUP_NAME_MAX",
    "MANIFEST_MAGIC",
    "MANIFEST_VERSION",
)
load(":py_image_binary.bzl", "PyImageBinaryInfo")

PyImageLayersInfo = provider(
    doc = "The layers of a py_image_layers target and where the binary lands in the image.",
    fields = {
        "layers": "list of struct(group, file), in image order: interpreter, packages, " +
                  "custom groups, app.",
        "root": "in-image directory holding the launcher and its runfiles, e.g. `/app`.",
        "launcher": "in-image path of the launcher, e.g. `/app/app`.",
        "runfiles_dir": "in-image path of the runfiles tree, e.g. `/app/app.runfiles`.",
        "workspace_name": "name of the main repository directory in the runfiles tree.",
    },
)

# Compression methods and extensions, default group names, the group name rule
# and the manifest header live once, in contract.bzl: the core reads that file.

def check_layer_groups(layer_groups, attr = "layer_groups"):
    """Fails the analysis on a group name that the core would reject.

    Args:
      layer_groups: dict of group name -> regex.
      attr: attribute name to cite in the message.
    """
    for name, regex in layer_groups.items():
        if len(name) > GROUP_NAME_MAX:
            fail("%s: group name %r is %d characters long; at most %d (it becomes part of file names)" %
                 (attr, name[:20] + "...", len(name), GROUP_NAME_MAX))
        if not name or name[0] not in GROUP_NAME_FIRST or [c for c in name.elems() if c not in GROUP_NAME_CHARS]:
            fail("%s: group name %r is not a simple identifier (letters, digits and _, " % (attr, name) +
                 "not starting with a digit); rename it, e.g. %r" % _suggest(name))
        if name in DEFAULT_GROUPS_BEFORE + DEFAULT_GROUPS_AFTER:
            fail("%s: group name %r is reserved for a default layer (interpreter, " % (attr, name) +
                 "packages, app); pick another name, e.g. %r" % (name + "_extra"))
        if not regex:
            fail("%s: group %r has an empty regex; give a pattern such as %r" % (attr, name, "pip_deps_" + name + "/"))

def _suggest(name):
    out = "".join([c if c in GROUP_NAME_CHARS else "_" for c in name.elems()])
    return "_" + out if (not out or out[0].isdigit()) else out

def layer_order(layer_groups):
    """Group names in image order.

    Args:
      layer_groups: dict of custom group name -> regex, or list of custom group names.

    Returns:
      list of group names: interpreter, packages, custom groups in order, app.
    """
    return DEFAULT_GROUPS_BEFORE + list(layer_groups) + DEFAULT_GROUPS_AFTER

# map_each callbacks: top-level functions, called lazily at execution time.

def _file_line(f):
    kind = "link" if getattr(f, "is_symlink", False) else "file"
    return "%s\t%s\t%s" % (kind, f.short_path, f.path)

def _symlink_line(entry):
    kind = "link" if getattr(entry.target_file, "is_symlink", False) else "file"
    return "%s\t%s\t%s" % (kind, entry.path, entry.target_file.path)

def _root_symlink_line(entry):
    kind = "rootlink" if getattr(entry.target_file, "is_symlink", False) else "rootfile"
    return "%s\t%s\t%s" % (kind, entry.path, entry.target_file.path)

def _empty_line(path):
    return "empty\t" + path

def _short_path(f):
    return f.short_path

def _write_manifest(ctx, files_to_run, runfiles, group_members):
    manifest = ctx.actions.declare_file(ctx.label.name + ".manifest")
    args = ctx.actions.args()
    args.set_param_file_format("multiline")
    args.add("%s\t%s" % (MANIFEST_MAGIC, MANIFEST_VERSION))
    args.add("workspace\t" + ctx.workspace_name)
    exe = files_to_run.executable
    args.add("launcher\t%s\t%s" % (exe.basename, exe.path))
    args.add_all(runfiles.files, map_each = _file_line, expand_directories = False)
    args.add_all(runfiles.symlinks, map_each = _symlink_line)
    args.add_all(runfiles.root_symlinks, map_each = _root_symlink_line)
    args.add_all(runfiles.empty_filenames, map_each = _empty_line)

    # Bazel 7+: the repository mapping manifest is not part of the runfiles object.
    for member in group_members:
        args.add_all(member.files, map_each = _short_path, format_each = "member\t%s\t%%s" % member.group)

    repo_mapping = getattr(files_to_run, "repo_mapping_manifest", None)
    extra = []
    if repo_mapping:
        args.add("rootfile\t_repo_mapping\t" + repo_mapping.path)
        extra.append(repo_mapping)
    ctx.actions.write(manifest, args)
    return manifest, extra

def _py_image_layers_impl(ctx):
    check_layer_groups(ctx.attr.layer_groups)
    root = ctx.attr.root
    if not root.startswith("/"):
        fail("root: %r must be an absolute path in the image, like \"/app\"" % root)
    info = ctx.attr.binary[DefaultInfo]
    files_to_run = info.files_to_run
    if not files_to_run or not files_to_run.executable:
        fail("binary: %s is not executable; give a py_binary (or another executable rule)" % ctx.attr.binary.label)
    runfiles = info.default_runfiles
    order = ctx.attr.group_order or list(ctx.attr.layer_groups.keys())
    binary_info = ctx.attr.binary[PyImageBinaryInfo] if PyImageBinaryInfo in ctx.attr.binary else None
    group_members = binary_info.group_members if binary_info else []
    dep_groups = [m.group for m in group_members]
    for name in order:
        if name not in ctx.attr.layer_groups and name not in dep_groups:
            fail(("group_order: %r is neither in layer_groups nor a dependency group of %s " +
                  "(dependency groups come from py_image's layer_groups)") % (name, ctx.attr.binary.label))
    manifest, extra_inputs = _write_manifest(ctx, files_to_run, runfiles, group_members)

    # runfiles.files (the bulk) stays a depset. The targets of `symlinks` and
    # `root_symlinks` can only become inputs through a list: there are few of
    # them (venv links, _repo_mapping), so that small list is built here.
    link_targets = [e.target_file for e in runfiles.symlinks.to_list()]
    link_targets += [e.target_file for e in runfiles.root_symlinks.to_list()]
    inputs = depset(
        direct = [manifest, files_to_run.executable] + extra_inputs + link_targets,
        transitive = [runfiles.files],
    )
    common = ctx.actions.args()
    common.add("layer")
    common.add("--manifest", manifest)
    common.add("--compress", ctx.attr.compress)
    common.add("--root", root)
    common.add("--mtime", str(ctx.attr.mtime))
    for name in order:
        if name in ctx.attr.layer_groups:
            common.add("--group", "%s=%s" % (name, ctx.attr.layer_groups[name]))
        else:
            common.add("--group", name + ":deps")

    layers = []
    outputs = {}
    for group in layer_order(order):
        out = ctx.actions.declare_file("%s.%s_layer%s" % (ctx.label.name, group, COMPRESSION_EXTENSIONS[ctx.attr.compress]))
        unused = ctx.actions.declare_file("%s.%s_layer.unused" % (ctx.label.name, group))
        args = ctx.actions.args()
        args.add("--only", group)
        args.add("--output", out)
        args.add("--unused-inputs-list", unused)
        ctx.actions.run(
            executable = ctx.executable._tool,
            arguments = [common, args],
            inputs = inputs,
            outputs = [out, unused],
            unused_inputs_list = unused,
            # Reads only what the manifest names (all declared inputs); a sandbox
            # would stage every runfile first. Undone per build with
            # --modify_execution_info=PyImageLayer=-no-sandbox.
            execution_requirements = {"no-sandbox": "1"},
            mnemonic = "PyImageLayer",
            progress_message = "Writing %s layer of %s" % (group, ctx.label),
        )
        layers.append(struct(group = group, file = out))
        outputs[group + "_layer"] = depset([out])

    launcher = files_to_run.executable.basename
    root_dir = root.rstrip("/")
    return [
        DefaultInfo(files = depset([layer.file for layer in layers])),
        OutputGroupInfo(manifest = depset([manifest]), **outputs),
        PyImageLayersInfo(
            layers = layers,
            root = root,
            launcher = "%s/%s" % (root_dir, launcher),
            runfiles_dir = "%s/%s.runfiles" % (root_dir, launcher),
            workspace_name = ctx.workspace_name,
        ),
    ]

py_image_layers = rule(
    implementation = _py_image_layers_impl,
    doc = """Splits the runfiles of an executable into deterministic image layer tars.

Outputs `<name>.<group>_layer.tar.gz` (`.tar`, `.tar.zst`) for the groups
interpreter, packages, each custom group, app, in that order; each is also an
output group named `<group>_layer`. Every file lands in exactly one layer,
with its parent directories; mtime, owner and modes are fixed.
""",
    attrs = {
        "binary": attr.label(
            doc = "The py_binary (or any executable with runfiles) to lay out.",
            mandatory = True,
            executable = True,
            cfg = "target",
        ),
        "compress": attr.string(
            doc = "Layer compression: `gzip` (level 6), `zstd` (needs a zstd module in the " +
                  "exec Python) or `none`.",
            default = COMPRESSION_METHODS[0],
            values = COMPRESSION_METHODS,
        ),
        "group_order": attr.string_list(
            doc = "Every custom group's name in image order (first match wins), when " +
                  "dependency groups (from a py_image_binary `binary`) are mixed with " +
                  "`layer_groups`; default: the order of `layer_groups`.",
        ),
        "layer_groups": attr.string_dict(
            doc = "Ordered dict of custom group name -> regex, checked before the defaults; " +
                  "the regex is matched at the start of each runfiles-relative path " +
                  "(`<repo>/<path>`), e.g. `{\"torch\": \"pip_deps_torch/\"}`.",
        ),
        "mtime": attr.int(
            doc = "Modification time of every entry, in seconds since the epoch.",
            default = 0,
        ),
        "root": attr.string(
            doc = "Directory in the image that holds the launcher and `<launcher>.runfiles`.",
            default = "/app",
        ),
        "_tool": attr.label(
            default = Label("//bazel/rules/pycross_layers:tool"),
            executable = True,
            cfg = "exec",
        ),
    },
)
