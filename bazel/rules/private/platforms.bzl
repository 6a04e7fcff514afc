"""The image platform: its config values, and one transition for the whole image.

`py_image(platform = ...)` builds everything of the image for that platform:
the binary and its select()s, the layers, and the base, which rules_oci's
`oci_pull` alias selects on the target cpu (`oci/private/pull.bzl`, v2.3.2).
`platform_target` applies the transition once, on top; the targets below it
are ordinary rules, so the image rules of either ecosystem stay unmodified.
"""

DEFAULT_PLATFORM = Label("//bazel/platforms:linux_x86_64")

# CPU token in a platform's name -> what the image config records (OCI names).
# py_image_binary checks that the platform really has the CPU constraint.
PLATFORMS = [
    ("arm64", struct(os = "linux", architecture = "arm64", variant = "v8", cpu = "arm64")),
    ("aarch64", struct(os = "linux", architecture = "arm64", variant = "v8", cpu = "arm64")),
    ("x86_64", struct(os = "linux", architecture = "amd64", variant = "", cpu = "x86_64")),
    ("amd64", struct(os = "linux", architecture = "amd64", variant = "", cpu = "x86_64")),
]

def platform_config(platform):
    """The image config (os, architecture, variant, cpu) a platform's name implies, or None.

    `linux_x86_64`, `linux_arm64` and any platform whose name contains
    `x86_64`/`amd64` or `arm64`/`aarch64` (e.g. `my_linux_arm64_gpu`).

    Args:
      platform: label (string or Label) of the target platform.

    Returns:
      struct(os, architecture, variant, cpu) or None.
    """
    name = str(platform)
    name = name.rsplit(":", 1)[-1] if ":" in name else name.rsplit("/", 1)[-1]
    for token, config in PLATFORMS:
        if token in name:
            return config
    return None

def _platform_transition_impl(_settings, attr):
    return {"//command_line_option:platforms": str(attr.platform)}

platform_transition = transition(
    implementation = _platform_transition_impl,
    inputs = [],
    outputs = ["//command_line_option:platforms"],
)

# Required by Bazel < 6 for a Starlark transition; ignored by later versions.
TRANSITION_ALLOWLIST = {
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
    ),
}

def _platform_target_impl(ctx):
    target = ctx.attr.target[0]
    if ctx.attr.output_group:
        files = getattr(target[OutputGroupInfo], ctx.attr.output_group)
    else:
        files = target[DefaultInfo].files
    return [DefaultInfo(files = files)]

platform_target = rule(
    implementation = _platform_target_impl,
    doc = """The files of `target` (or of one of its output groups) built for `platform`.

Outputs stay where the transitioned configuration writes them (no copy), so
a large image is never duplicated.
""",
    attrs = dict({
        "output_group": attr.string(
            doc = "Forward this output group of `target` instead of its default outputs.",
        ),
        "platform": attr.label(
            doc = "The target platform, e.g. `@pycross_image//bazel/platforms:linux_arm64`.",
            mandatory = True,
        ),
        "target": attr.label(
            doc = "The target to build for `platform`.",
            mandatory = True,
            cfg = platform_transition,
        ),
    }, **TRANSITION_ALLOWLIST),
)
