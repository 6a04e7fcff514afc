"""A rules_py-style layer pipeline, built for the loop benchmark only (never shipped).

It is put together from the pieces aspect-build/rules_py v1.x `py_image_layer`
uses (py/private/py_image_layer.bzl there), written for this benchmark:

1. an mtree spec of the binary and its runfiles, written at analysis time
   (what tar.bzl's `mtree_spec` does);
2. one host `awk` action splitting that spec into one spec per layer group by
   regexes on the path (custom groups first, then `interpreter`, `packages`,
   everything else in `default`; `.whl` files dropped);
3. one action per layer running bsdtar with gzip on that layer's spec (what
   tar.bzl's `tar` rule does with `compress = "gzip"`), with an unused-inputs
   list so a layer action reruns only when its own files change
   (`compute_unused_inputs`).

Nothing is pruned: every runfile lands in some layer.
"""

# rules_py's default groups (interpreter repository names; site-packages).
_DEFAULT_GROUPS = [
    ("interpreter", "\\.runfiles/[^/]*python_?[0-9]+_[0-9]+(_[0-9]+)?_[a-z0-9_]+[_-](unknown|apple|pc)[_-][^/]*/"),
    ("packages", "\\.runfiles/.*/site-packages"),
]

_MTREE_ATTRS = "uid=0 gid=0 time=1672560000 mode=0755 type=file"

def _runfiles_path(f, workspace_name):
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return workspace_name + "/" + f.short_path

def _layers_impl(ctx):
    info = ctx.attr.binary[DefaultInfo]
    launcher = info.files_to_run.executable
    runfiles = info.default_runfiles.files
    root = ctx.attr.root.strip("/")
    prefix = "%s/%s" % (root, launcher.basename)
    ws = ctx.workspace_name

    # 1. mtree spec, at analysis time.
    spec = ctx.actions.declare_file(ctx.label.name + ".manifest")
    files = runfiles.to_list()
    lines = ["%s %s content=%s" % (prefix, _MTREE_ATTRS, launcher.path)]
    lines += ["%s.runfiles/%s %s content=%s" % (prefix, _runfiles_path(f, ws), _MTREE_ATTRS, f.path) for f in files]
    ctx.actions.write(spec, "\n".join(lines) + "\n")

    # Every input path, for the unused-inputs lists.
    all_inputs = ctx.actions.declare_file(ctx.label.name + ".inputs")
    ctx.actions.write(all_inputs, "\n".join([f.path for f in files]) + "\n")

    # 2. split by regex (host awk, as rules_py).
    groups = list(ctx.attr.layer_groups.items()) + _DEFAULT_GROUPS + [("default", "")]
    specs = [ctx.actions.declare_file("%s.%s.spec" % (ctx.label.name, g)) for g, _ in groups]
    program = ["BEGIN {"] + ["  printf \"#mtree\\n\" > \"%s\";" % s.path for s in specs] + ["}", "$1 ~ /\\.whl$/ { next }"]
    for (_, regex), s in zip(groups[:-1], specs[:-1]):
        program.append("$1 ~ \"%s\" { print >> \"%s\"; next }" % (regex.replace("\\", "\\\\"), s.path))
    program.append("{ print >> \"%s\" }" % specs[-1].path)
    ctx.actions.run_shell(
        command = "awk \"$1\" \"$2\"",
        arguments = ["\n".join(program), spec.path],
        inputs = [spec],
        outputs = specs,
        mnemonic = "RulesPyStyleSplit",
        use_default_shell_env = True,
    )

    # 3. one bsdtar + gzip action per layer.
    script = ctx.actions.declare_file(ctx.label.name + ".tar_layer.sh")
    ctx.actions.write(script, "\n".join([
        "#!/bin/sh",
        "set -eu",
        "bsdtar --create --gzip --options 'gzip:!timestamp' --file \"$1\" \"@$2\"",
        # every input that no content= of this layer names
        "awk -F ' content=' 'NR == FNR { used[$2] = 1; next } !($0 in used)' \"$2\" \"$3\" > \"$4\"",
        "",
    ]), is_executable = True)
    layers = []
    for (group, _), group_spec in zip(groups, specs):
        out = ctx.actions.declare_file("%s_%s.tar.gz" % (ctx.label.name, group))
        unused = ctx.actions.declare_file("%s_%s.unused" % (ctx.label.name, group))
        ctx.actions.run(
            executable = script,
            arguments = [out.path, group_spec.path, all_inputs.path, unused.path],
            inputs = depset([group_spec, all_inputs, launcher], transitive = [runfiles]),
            outputs = [out, unused],
            unused_inputs_list = unused,
            mnemonic = "RulesPyStyleTar",
            progress_message = "bsdtar + gzip: %s layer of %s" % (group, ctx.label),
            use_default_shell_env = True,
        )
        layers.append(out)
    return [DefaultInfo(files = depset(layers))]

rules_py_style_layers = rule(
    implementation = _layers_impl,
    doc = "Layer tars of a py_binary, rules_py v1.x style (see the file docstring).",
    attrs = {
        "binary": attr.label(mandatory = True, executable = True, cfg = "target"),
        "layer_groups": attr.string_dict(doc = "Ordered group name -> awk regex on the image path."),
        "root": attr.string(default = "/app"),
    },
)
