"""Helpers shared by the rules_oci and rules_docker test doubles (tests only).

Mirrors how upstream macros treat Bazel's common attributes: every rule takes
them (https://bazel.build/reference/be/common-definitions#common-attributes),
and macros hand a subset to their helper targets the way aspect_bazel_lib's
`lib/utils.bzl` propagate_common_rule_attributes does for rules_oci v2.3.2
`oci/defs.bzl` (rules_docker v0.25.0 macros pass the same kind of subset).
"""

# Attributes every Bazel rule takes. Bazel itself rejects those it does not
# know (package_metadata and aspect_hints are newer than Bazel 4.2.3).
COMMON_ATTRS = [
    "applicable_licenses",
    "aspect_hints",
    "compatible_with",
    "deprecation",
    "distribs",
    "exec_compatible_with",
    "exec_properties",
    "features",
    "package_metadata",
    "restricted_to",
    "tags",
    "target_compatible_with",
    "testonly",
    "toolchains",
    "visibility",
]

# What macros forward to the targets they create besides the main rule.
PROPAGATED_ATTRS = [
    "compatible_with",
    "deprecation",
    "distribs",
    "exec_compatible_with",
    "exec_properties",
    "features",
    "restricted_to",
    "tags",
    "target_compatible_with",
    "testonly",
    "toolchains",
    "visibility",
]

def check_attrs(kind, name, kwargs, allowed):
    """Fails like Bazel does on an attribute the upstream rule does not have."""
    for key in kwargs:
        if key not in allowed and key not in COMMON_ATTRS:
            fail("%s rule '%s': no such attribute '%s' (test double of the upstream rule)" % (kind, name, key))

def forwarded(kwargs):
    return {k: v for k, v in kwargs.items() if k in PROPAGATED_ATTRS}

def run_assemble(ctx, tool, args, inputs, outputs, mnemonic):
    ctx.actions.run(
        executable = tool,
        arguments = args,
        inputs = inputs,
        outputs = outputs,
        mnemonic = mnemonic,
        use_default_shell_env = True,
        execution_requirements = {"no-remote": "1"},
    )

def _layout_dir_impl(ctx):
    out = ctx.actions.declare_directory(ctx.label.name + ".layout")
    src = ctx.files.srcs[0].path
    root = src[:src.index("/" + ctx.attr.root + "/") + len(ctx.attr.root) + 1]
    run_assemble(ctx, ctx.executable._tool, ["import", root, out.path], ctx.files.srcs, [out], "OciImport")
    return [DefaultInfo(files = depset([out]))]

def layout_dir_rule(tool):
    return rule(
        implementation = _layout_dir_impl,
        attrs = {
            "root": attr.string(mandatory = True),
            "srcs": attr.label_list(allow_files = True),
            "_tool": attr.label(default = tool, executable = True, cfg = "exec", allow_single_file = True),
        },
    )

ARCHES = {"amd64": "x86_64", "arm64": "arm64"}

def pull_impl(rctx, image_name, arches, build_dir, load_stmt):
    """Serves a pulled image from $PYCROSS_TEST_IMAGES/<basename>-<arch> (built by tests/images).

    Args:
      rctx: the repository_ctx.
      image_name: the image reference; its last path component names the layout.
      arches: OCI architectures to serve.
      build_dir: package of the targets in the repository ("" for the root).
      load_stmt: the load() line of oci_layout_dir.
    Returns:
      the lines of the BUILD file.
    """
    root = rctx.os.environ.get("PYCROSS_TEST_IMAGES")
    if not root:
        fail("test double of %s: set --repo_env=PYCROSS_TEST_IMAGES=<dir of OCI layouts> (tests/images builds them)" % rctx.attr.name)
    base = image_name.split("@")[0].rsplit("/", 1)[-1]
    if ":" in base:
        base = base.split(":")[0]
    base = {"python": "python3-debian12"}.get(base, base)
    prefix = build_dir + "/" if build_dir else ""
    lines = [load_stmt, 'package(default_visibility = ["//visibility:public"])']
    for arch in arches:
        src = "%s/%s-%s" % (root, base, arch)
        if not rctx.path(src + "/index.json").exists:
            fail("test double of %s: no OCI layout %s (run tests/images/build.py)" % (rctx.attr.name, src))
        rctx.execute(["cp", "-r", src, prefix + arch])
        lines.append('oci_layout_dir(name = "%s", srcs = glob(["%s/**"]), root = "%s")' % (arch, arch, arch))
    return lines
