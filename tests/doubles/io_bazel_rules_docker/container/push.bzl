"""Test double of rules_docker v0.25.0 `container/push.bzl` (tests only).

`container_push(name, format, image, registry, repository, **kwargs)`: the
macro and rule attributes of upstream (`extension`, `format` mandatory and
"OCI"/"Docker", `image` a single `.tar`, `registry`, `repository`,
`repository_file`, `skip_unchanged_digest`, `stamp`, `tag` = "latest",
`tag_file`, and the macro-set `tag_tpl`/`windows_paths`), and the implicit
output `<name>.digest`. Running it only prints where it would push.
"""

load("//container:providers.bzl", "StampSettingInfo")

def _push_impl(ctx):
    script = ctx.actions.declare_file(ctx.label.name + ".sh" + ctx.attr.extension)
    ctx.actions.write(script, "#!/usr/bin/env bash\necho 'container_push test double: would push %s as %s to %s/%s:%s' >&2\n" % (
        ctx.file.image.short_path,
        ctx.attr.format,
        ctx.attr.registry,
        ctx.attr.repository,
        ctx.attr.tag,
    ), is_executable = True)
    ctx.actions.write(ctx.outputs.digest, "")
    return [DefaultInfo(executable = script, runfiles = ctx.runfiles(files = [ctx.file.image]))]

container_push_ = rule(
    implementation = _push_impl,
    executable = True,
    outputs = {"digest": "%{name}.digest"},
    attrs = {
        "extension": attr.string(),
        "format": attr.string(mandatory = True, values = ["OCI", "Docker"]),
        "image": attr.label(allow_single_file = [".tar"], mandatory = True),
        "registry": attr.string(mandatory = True),
        "repository": attr.string(mandatory = True),
        "repository_file": attr.label(allow_single_file = True),
        "skip_unchanged_digest": attr.bool(default = False),
        "stamp": attr.label(default = "//stamp:use_stamp_flag", providers = [StampSettingInfo]),
        "tag": attr.string(default = "latest"),
        "tag_file": attr.label(allow_single_file = True),
        "tag_tpl": attr.label(mandatory = True, allow_single_file = True),
        "windows_paths": attr.bool(mandatory = True),
    },
)

def container_push(name, format, image, registry, repository, **kwargs):
    """rules_docker's container_push macro.

    Args:
      name: target name.
      format: "OCI" or "Docker".
      image: the image's `.tar`.
      registry: registry host.
      repository: repository in the registry.
      **kwargs: other rule attributes.
    """
    container_push_(
        name = name,
        format = format,
        image = image,
        registry = registry,
        repository = repository,
        extension = kwargs.pop("extension", select({
            "@bazel_tools//src/conditions:host_windows": ".bat",
            "//conditions:default": "",
        })),
        tag_tpl = select({
            "@bazel_tools//src/conditions:host_windows": Label("//container:push-tag.bat.tpl"),
            "//conditions:default": Label("//container:push-tag.sh.tpl"),
        }),
        windows_paths = select({
            "@bazel_tools//src/conditions:host_windows": True,
            "//conditions:default": False,
        }),
        **kwargs
    )
