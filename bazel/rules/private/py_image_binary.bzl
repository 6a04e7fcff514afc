"""`py_image_binary`: a py_binary rebuilt for the image's target platform.

This is the transitioned ("cross") binary behind every py_image, the `:yapp`
of `py_image(name = "image", binary = ":app")`. An incoming transition sets
`--platforms` to the image's platform, so select()-based dependencies, wheels
and the Python toolchain are the target's, whatever the host is.

The launcher keeps the binary's basename (`<name>/<basename>` in the output
tree, `<root>/<basename>` in the image) and its first line names the
interpreter the image runs: the toolchain's `interpreter_path` (base image
python) or the hermetic interpreter's in-image runfiles path. rules_python's
`--bootstrap_impl=script` launcher (a bash script) is replaced by a Python
program that starts its stage-2 bootstrap as the bash script would, so the
image needs no bash (the core's `launcher` command). The rule also writes the
image entrypoint `[interpreter, launcher]` to a file.

Works on Bazel 4.2.3 (which needs the function-transition allowlist attribute)
and on Bazel 6 to 9 (which ignore it); `PyRuntimeInfo.stub_shebang` is
feature-detected.
"""

load(":platforms.bzl", "TRANSITION_ALLOWLIST", "platform_transition")

PyImageBinaryInfo = provider(
    doc = "Where a py_image_binary's launcher and interpreter are in the image.",
    fields = {
        "interpreter": "in-image absolute path of the Python interpreter.",
        "launcher": "in-image absolute path of the launcher.",
        "runfiles_dir": "in-image absolute path of the launcher's runfiles tree.",
        "hermetic": "True if the interpreter ships in the runfiles (a toolchain `interpreter` file).",
        "entrypoint": "list of strings, `[interpreter, launcher]`.",
        "group_members": "list of struct(group, files): for each dependency layer group, " +
                         "in order, the depset of files its dependencies bring into the " +
                         "runfiles (built for the image's platform).",
    },
)

_PY_TOOLCHAIN = "@bazel_tools//tools/python:toolchain_type"
_DEFAULT_SHEBANG = "#!/usr/bin/env python3"
_MAX_SHEBANG = 255  # Linux >= 5.1 BINPRM_BUF_SIZE

def _rlocation(ctx, f):
    # `../repo/path` for external repositories, `path` for the main one.
    if f.short_path.startswith("../"):
        return f.short_path[3:]
    return ctx.workspace_name + "/" + f.short_path

def _check_cpu(ctx):
    want = ctx.attr.expected_cpu
    if not want:
        return
    has = getattr(ctx, "target_platform_has_constraint", None)
    if has == None:
        return  # Bazel < 3.4 cannot tell; the image still records `want`.
    value = {"x86_64": ctx.attr._cpu_x86_64, "arm64": ctx.attr._cpu_arm64}.get(want)
    if value and not has(value[platform_common.ConstraintValueInfo]):
        fail(("platform: %s is not a %s platform, but the image config says %s; " +
              "pass `architecture` (and `os`) matching the platform, or use " +
              "@pycross_image//bazel/platforms:linux_x86_64 / :linux_arm64") %
             (ctx.attr.platform.label, want, want))

def _group_members(ctx):
    # Dependency layer groups: each label's files and runfiles, transitively
    # (through aliases such as a pip hub's `@pip_deps//werkzeug:pkg`, which
    # Bazel resolves to the target they name). Kept as depsets: nothing is
    # flattened at analysis time.
    members = {}
    for dep, group in ctx.attr.group_deps.items():
        info = dep[DefaultInfo]
        members.setdefault(group, []).extend([info.files, info.default_runfiles.files])
    return [
        struct(group = group, files = depset(transitive = members[group]))
        for group in ctx.attr.group_order
        if group in members
    ]

def _py_image_binary_impl(ctx):
    _check_cpu(ctx)
    info = ctx.attr.binary[DefaultInfo]
    exe = info.files_to_run.executable if info.files_to_run else None
    if not exe:
        fail(("binary: %s is not executable; pass a py_binary (or another executable rule), " +
              "not a py_library or a file") % ctx.attr.binary.label)
    root = ctx.attr.root.rstrip("/")
    if not ctx.attr.root.startswith("/"):
        fail("root: %r must be an absolute directory in the image, like \"/app\"" % ctx.attr.root)
    launcher = "%s/%s" % (root, exe.basename)
    runfiles_dir = launcher + ".runfiles"

    runtime = ctx.toolchains[_PY_TOOLCHAIN].py3_runtime
    if not runtime:
        fail("binary: the Python toolchain for %s has no py3_runtime; register a PY3 toolchain" %
             ctx.attr.platform.label)
    if runtime.interpreter_path:
        interpreter = runtime.interpreter_path
        hermetic = False
    else:
        interpreter = runfiles_dir + "/" + _rlocation(ctx, runtime.interpreter)
        hermetic = True
    entrypoint = [interpreter, launcher]

    out = ctx.actions.declare_file("%s/%s" % (ctx.label.name, exe.basename))

    # The launcher is known by its content only (rules_python 2.x writes a stage-2
    # bootstrap for either --bootstrap_impl), so an action reads it: a Python
    # launcher gets its #! line rewritten (the bytes expand_template gave), a
    # --bootstrap_impl=script bash launcher becomes a Python program doing what
    # it does (docs/images.md, "Script bootstrap").
    if ctx.attr.rewrite_shebang and len(interpreter) + 2 > _MAX_SHEBANG:
        fail("root: the interpreter path %r is too long for a #! line; use a shorter `root`" %
             interpreter)
    args = ctx.actions.args()
    args.add("launcher")
    args.add("--executable", exe)
    args.add("--output", out)
    args.add("--interpreter", interpreter)
    if ctx.attr.rewrite_shebang:
        args.add("--shebang", getattr(runtime, "stub_shebang", None) or _DEFAULT_SHEBANG)
    ctx.actions.run(
        executable = ctx.executable._tool,
        arguments = [args],
        inputs = [exe],
        outputs = [out],
        mnemonic = "PyImageLauncher",
        progress_message = "Writing the image launcher of %s" % ctx.attr.binary.label,
    )

    entrypoint_file = ctx.actions.declare_file(ctx.label.name + ".entrypoint.txt")
    ctx.actions.write(entrypoint_file, "\n".join(entrypoint) + "\n")

    runfiles = ctx.runfiles(files = [out]).merge(info.default_runfiles)
    return [
        DefaultInfo(executable = out, files = depset([out]), runfiles = runfiles),
        OutputGroupInfo(entrypoint = depset([entrypoint_file])),
        PyImageBinaryInfo(
            interpreter = interpreter,
            launcher = launcher,
            runfiles_dir = runfiles_dir,
            hermetic = hermetic,
            entrypoint = entrypoint,
            group_members = _group_members(ctx),
        ),
    ]

py_image_binary = rule(
    implementation = _py_image_binary_impl,
    doc = """The binary of a py_image, built for the image's target platform.

Outputs the launcher `<name>/<basename of binary>` with the binary's runfiles,
and the output group `entrypoint`: a file with the image entrypoint
`[interpreter, launcher]`, one entry per line (the rules_oci file format).
""",
    cfg = platform_transition,
    executable = True,
    toolchains = [_PY_TOOLCHAIN],
    attrs = dict({
        "binary": attr.label(
            doc = "The py_binary to rebuild for `platform`.",
            mandatory = True,
        ),
        "group_deps": attr.label_keyed_string_dict(
            doc = "Dependency -> name of the layer group that takes the files it brings " +
                  "into the binary's runfiles (transitively).",
        ),
        "group_order": attr.string_list(
            doc = "The dependency groups' names in `layer_groups` order (first wins).",
        ),
        "expected_cpu": attr.string(
            doc = "`x86_64` or `arm64`: fail analysis unless `platform` has this CPU " +
                  "(the CPU the image config records). Empty: no check.",
            values = ["", "x86_64", "arm64"],
        ),
        "platform": attr.label(
            doc = "The target platform, e.g. `@pycross_image//bazel/platforms:linux_x86_64`.",
            mandatory = True,
        ),
        "rewrite_shebang": attr.bool(
            doc = "Make the launcher's `#!` line name the in-image interpreter, so the " +
                  "launcher alone is a valid entrypoint (no /usr/bin/env needed in the image). " +
                  "A rules_python `--bootstrap_impl=script` launcher is replaced by a Python " +
                  "launcher either way.",
            default = True,
        ),
        "root": attr.string(
            doc = "Directory in the image holding the launcher and its runfiles.",
            default = "/app",
        ),
        "_cpu_arm64": attr.label(default = "@platforms//cpu:arm64"),
        "_cpu_x86_64": attr.label(default = "@platforms//cpu:x86_64"),
        "_tool": attr.label(
            default = Label("//bazel/rules/pycross_layers:tool"),
            executable = True,
            cfg = "exec",
        ),
    }, **TRANSITION_ALLOWLIST),
)
