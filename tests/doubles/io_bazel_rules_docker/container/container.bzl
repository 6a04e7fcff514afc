"""Test double of `@io_bazel_rules_docker//container:container.bzl` (rules_docker v0.25.0).

container_image, container_layer, container_push and container_pull with the
upstream attribute names; an unknown attribute fails, and so does an upstream
attribute this double does not implement (when set to a non-default value).
Images are assembled with umoci and saved with skopeo (oci_assemble.py).
"""

load("//container:pull.bzl", _container_pull = "container_pull")
load("//container/private:double.bzl", "check_attrs", "forwarded", "run_assemble")

container_pull = _container_pull

_TOOL = attr.label(default = "//container/private:oci_assemble.py", executable = True, cfg = "exec", allow_single_file = True)

_LayerInfo = provider(doc = "A layer tar.", fields = ["tar"])
_LayoutInfo = provider(doc = "An image as an OCI layout directory.", fields = ["layout"])

# Upstream attributes and their defaults; the ones not in _IMPLEMENTED must stay default.
_IMAGE_ATTRS = {
    "architecture": "amd64",
    "base": None,
    "cmd": None,
    "compression": "gzip",
    "compression_options": None,
    "creation_time": None,
    "data_path": None,
    "debs": None,
    "directory": "/",
    "docker_run_flags": None,
    "empty_dirs": None,
    "empty_files": None,
    "enable_mtime_preservation": False,
    "entrypoint": None,
    "env": None,
    "experimental_tarball_format": None,
    "files": None,
    "labels": None,
    "launcher": None,
    "launcher_args": None,
    "layers": None,
    "legacy_run_behavior": None,
    "mode": "0o555",
    "mtime": None,
    "operating_system": "linux",
    "os_version": None,
    "portable_mtime": False,
    "ports": None,
    "repository": "bazel",
    "stamp": None,
    "symlinks": None,
    "tars": None,
    "user": None,
    "volumes": None,
    "workdir": None,
}
_IMPLEMENTED = [
    "architecture",
    "base",
    "cmd",
    "creation_time",
    "entrypoint",
    "env",
    "labels",
    "layers",
    "operating_system",
    "ports",
    "repository",
    "tars",
    "user",
    "volumes",
    "workdir",
    "compression",
    "legacy_run_behavior",
    "docker_run_flags",
    "stamp",
]

_LAYER_ATTRS = ["tars", "files", "directory", "symlinks", "env", "mode", "mtime", "compression", "data_path", "debs", "empty_files", "empty_dirs"]

def _layer_impl(ctx):
    if len(ctx.files.tars) != 1:
        fail("container_layer test double: exactly one tar is implemented, got %d" % len(ctx.files.tars))
    src = ctx.files.tars[0]
    ext = src.basename[src.basename.index(".tar"):] if ".tar" in src.basename else ".tar"
    out = ctx.actions.declare_file(ctx.label.name + "-layer" + ext)
    ctx.actions.symlink(output = out, target_file = src)
    return [DefaultInfo(files = depset([out])), _LayerInfo(tar = out)]

_container_layer = rule(
    implementation = _layer_impl,
    attrs = {"tars": attr.label_list(allow_files = [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2"])},
)

def container_layer(name, **kwargs):
    """Same attributes as rules_docker's container_layer (only `tars` implemented).

    Args:
      name: target name.
      **kwargs: upstream attributes.
    """
    check_attrs("container_layer", name, kwargs, _LAYER_ATTRS)
    for key in _LAYER_ATTRS:
        if key != "tars" and kwargs.get(key):
            fail("container_layer %s: `%s` is not implemented by the test double" % (name, key))
    _container_layer(name = name, tars = kwargs.get("tars", []), **forwarded(kwargs))

def _image_impl(ctx):
    layout = ctx.actions.declare_directory(ctx.label.name + ".layout")
    inputs = []
    base = None
    if ctx.attr.base:
        if _LayoutInfo in ctx.attr.base:
            base = ctx.attr.base[_LayoutInfo].layout
        else:
            base = ctx.attr.base[DefaultInfo].files.to_list()[0]
        inputs.append(base)
    layers = [layer[_LayerInfo].tar for layer in ctx.attr.layers]
    if len(ctx.files.tars) > 1:
        fail("container_image test double: more than one tar in `tars` is not implemented")
    layers += ctx.files.tars
    inputs += layers
    spec = {
        "out": layout.path,
        "base": base.path if base else None,
        "layers": [f.path for f in layers],
        "os": ctx.attr.operating_system,
        "architecture": ctx.attr.architecture,
        "workdir": ctx.attr.workdir,
        "user": ctx.attr.user,
        "entrypoint": ctx.attr.entrypoint if ctx.attr.entrypoint else None,
        "cmd": ctx.attr.cmd if ctx.attr.cmd else None,
        "env": ctx.attr.env,
        "labels": ctx.attr.labels,
        "exposed_ports": ctx.attr.ports,
        "volumes": ctx.attr.volumes,
        "created": ctx.attr.creation_time or None,
    }
    spec_file = ctx.actions.declare_file(ctx.label.name + ".spec.json")
    ctx.actions.write(spec_file, json.encode(spec))
    run_assemble(ctx, ctx.executable._tool, ["image", spec_file.path], inputs + [spec_file], [layout], "ContainerImage")
    repo = "/".join([p for p in [ctx.attr.repository, ctx.label.package] if p])
    tag = "%s:%s" % (repo, ctx.label.name)
    run_assemble(ctx, ctx.executable._tool, ["tarball", layout.path, ctx.outputs.out.path, tag], [layout], [ctx.outputs.out], "ContainerTarball")
    run_assemble(
        ctx,
        ctx.executable._tool,
        ["digest", layout.path, ctx.outputs.digest.path, ctx.outputs.config.path, ctx.outputs.config_digest.path],
        [layout],
        [ctx.outputs.digest, ctx.outputs.config, ctx.outputs.config_digest],
        "ContainerDigest",
    )
    run_assemble(ctx, ctx.executable._tool, ["emptytar", ctx.outputs.layer.path], [], [ctx.outputs.layer], "ContainerLayer")
    ctx.actions.write(ctx.outputs.executable, """#!/usr/bin/env bash
exec docker load --input "$(dirname "$0")/%s"
""" % ctx.outputs.out.basename, is_executable = True)
    return [
        DefaultInfo(
            executable = ctx.outputs.executable,
            files = depset([ctx.outputs.out]),
            runfiles = ctx.runfiles(files = [ctx.outputs.out]),
        ),
        OutputGroupInfo(layout = depset([layout])),
        _LayoutInfo(layout = layout),
    ]

_container_image = rule(
    implementation = _image_impl,
    executable = True,
    outputs = {
        "config": "%{name}.json",
        "config_digest": "%{name}.json.sha256",
        "digest": "%{name}.digest",
        "layer": "%{name}-layer.tar",
        "out": "%{name}.tar",
    },
    attrs = {
        "architecture": attr.string(default = "amd64"),
        "base": attr.label(allow_files = True),
        "cmd": attr.string_list(),
        "creation_time": attr.string(),
        "entrypoint": attr.string_list(),
        "env": attr.string_dict(),
        "labels": attr.string_dict(),
        "layers": attr.label_list(providers = [_LayerInfo]),
        "operating_system": attr.string(default = "linux"),
        "ports": attr.string_list(),
        "repository": attr.string(default = "bazel"),
        "tars": attr.label_list(allow_files = True),
        "user": attr.string(),
        "volumes": attr.string_list(),
        "workdir": attr.string(),
        "_tool": _TOOL,
    },
)

def container_image(name, **kwargs):
    """Same attributes as rules_docker's container_image macro.

    Args:
      name: target name.
      **kwargs: upstream attributes.
    """
    check_attrs("container_image", name, kwargs, _IMAGE_ATTRS.keys())
    for key, default in _IMAGE_ATTRS.items():
        if key not in _IMPLEMENTED and key in kwargs and kwargs[key] not in (default, None, [], {}, ""):
            fail("container_image %s: `%s` is not implemented by the test double" % (name, key))
    kw = forwarded(kwargs)
    for key in ["cmd", "entrypoint"]:
        if type(kwargs.get(key)) == type(""):
            kwargs[key] = ["/bin/sh", "-c", kwargs[key]]
    _container_image(name = name, **dict({k: v for k, v in kwargs.items() if k in _IMPLEMENTED and k not in ["compression", "legacy_run_behavior", "docker_run_flags", "stamp"]}, **kw))

def _push_impl(ctx):
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(script, "#!/usr/bin/env bash\necho 'container_push test double: would push to %s/%s:%s' >&2\n" % (
        ctx.attr.registry,
        ctx.attr.repository,
        ctx.attr.tag,
    ), is_executable = True)
    return [DefaultInfo(executable = script)]

container_push = rule(
    implementation = _push_impl,
    executable = True,
    attrs = {
        "format": attr.string(mandatory = True, values = ["OCI", "Docker"]),
        "image": attr.label(mandatory = True, allow_files = True),
        "registry": attr.string(mandatory = True),
        "repository": attr.string(mandatory = True),
        "repository_file": attr.label(allow_single_file = True),
        "skip_unchanged_digest": attr.bool(),
        "stamp": attr.string(),
        "tag": attr.string(default = "latest"),
        "tag_file": attr.label(allow_single_file = True),
    },
)
