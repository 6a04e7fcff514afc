"""Test double of rules_docker v0.25.0 `container/image.bzl` (tests only).

What it keeps from upstream:
- the rule's attributes: container_layer's plus the image ones, with
  upstream's defaults (`legacy_run_behavior = True`, `architecture = "amd64"`,
  `experimental_tarball_format = "legacy"`, ...); Bazel rejects unknown ones;
- the macro: `operating_system` must be linux or windows; `label_files`,
  `label_file_strings`, `null_cmd`, `null_entrypoint` are reserved; a string
  `cmd`/`entrypoint` becomes `["/bin/sh", "-c", s]`; an empty or None
  `cmd`/`entrypoint` sets `null_cmd`/`null_entrypoint`, which clear the
  base's value; setting `entrypoint` leaves the base's `Cmd` alone;
  `@file` label values are read from the file;
- the image's own layer (files, tars, ... repacked into `<name>-layer.tar`)
  is always added after `layers`, even when empty;
- env of every layer expanded against the env so far and merged, as the
  config tool does;
- the incoming transition on `architecture`/`operating_system` through
  `//platforms:image_transition` and the label settings
  `//platforms:image_transition_cpu`/`_os`, off with `//transitions:enable`;
- implicit outputs `<name>-layer.tar` (the default output), `.tar`,
  `.digest`, `.json`, `.json.sha256`, `.executable` (the run script);
  `legacy_run_behavior`/`docker_run_flags` decide what the script does.
The image is assembled as an OCI layout with umoci (`private/oci_assemble.py`);
the layout is the `layout` output group (double only: tests read it).
Not implemented (fail when set): a `.tar` file as `base`, `launcher`,
`experimental_tarball_format = "compressed"`, stamping, and whatever
container_layer does not implement.
"""

load("//container:layer.bzl", _layer = "layer")
load("//container:providers.bzl", "ImageInfo", "LayerInfo", "StampSettingInfo")
load("//container/private:double.bzl", "run_assemble")
load("//skylib:filetype.bzl", container_filetype = "container")

def _not_implemented(ctx, what):
    fail("%s: %s is not implemented by the test double of rules_docker" % (ctx.label, what))

def _base_layout(ctx):
    base = ctx.attr.base
    if not base:
        return None
    if ImageInfo in base:
        return base[ImageInfo].layout
    files = base[DefaultInfo].files.to_list()
    if len(files) == 1 and files[0].is_directory:
        return files[0]  # a container_pull of the double: an OCI layout
    return _not_implemented(ctx, "a base image given as a tarball file")

def _repository_name(ctx):
    package = ctx.label.package
    if ctx.attr.legacy_repository_naming:
        package = package.replace("/", "_")
    return "/".join([p for p in [ctx.attr.repository, package] if p])

def _port(port):
    # upstream's (unanchored) check: "<digits>/tcp|udp" somewhere, else "/tcp" is added
    for proto in ["/tcp", "/udp"]:
        i = port.find(proto)
        if i > 0 and port[i - 1].isdigit():
            return port
    return port + "/tcp"

def _impl(ctx):
    if ctx.attr.launcher_args and not ctx.attr.launcher:
        fail("launcher_args does nothing without launcher")
    if ctx.attr.launcher:
        _not_implemented(ctx, "`launcher`")
    if ctx.attr.experimental_tarball_format != "legacy":
        _not_implemented(ctx, "experimental_tarball_format = %r" % ctx.attr.experimental_tarball_format)
    if ctx.attr.stamp[StampSettingInfo].value:
        _not_implemented(ctx, "stamping")

    # The image's own layer: always built, even when it holds nothing.
    _layer.implementation(ctx, output_layer = ctx.outputs.layer)
    layers = [dep[LayerInfo] for dep in ctx.attr.layers]
    layers.append(LayerInfo(unzipped_layer = ctx.outputs.layer, env = ctx.attr.env))

    base = _base_layout(ctx)
    labels = {}
    label_files = {}
    by_string = dict(zip(ctx.attr.label_file_strings, ctx.files.label_files))
    for key, value in ctx.attr.labels.items():
        if value.startswith("@"):
            label_files[key] = by_string[value[1:]].path
        else:
            labels[key] = value

    layout = ctx.actions.declare_directory(ctx.label.name + ".layout")
    spec = {
        "architecture": ctx.attr.architecture,
        "base": base.path if base else None,
        "cmd": ctx.attr.cmd if ctx.attr.cmd else None,
        "created": ctx.attr.creation_time or None,
        "entrypoint": ctx.attr.entrypoint if ctx.attr.entrypoint else None,
        "env_steps": [{
            ctx.expand_make_variables("env", k, {}): ctx.expand_make_variables("env", v, {})
            for k, v in layer.env.items()
        } for layer in layers],
        "exposed_ports": [_port(p) for p in ctx.attr.ports],
        "label_files": label_files,
        "labels": labels,
        "layers": [layer.unzipped_layer.path for layer in layers],
        "null_cmd": ctx.attr.null_cmd,
        "null_entrypoint": ctx.attr.null_entrypoint,
        "os": ctx.attr.operating_system,
        "os_version": ctx.attr.os_version or None,
        "out": layout.path,
        "user": ctx.attr.user,
        "volumes": ctx.attr.volumes,
        "workdir": ctx.attr.workdir,
    }
    spec_file = ctx.actions.declare_file(ctx.label.name + ".spec.json")
    ctx.actions.write(spec_file, json.encode(spec))
    tool = ctx.executable.create_image_config
    inputs = [spec_file] + [layer.unzipped_layer for layer in layers] + ctx.files.label_files
    if base:
        inputs.append(base)
    run_assemble(ctx, tool, ["image", spec_file.path], inputs, [layout], "ContainerImage")

    tag = "%s:%s" % (_repository_name(ctx), ctx.label.name)
    run_assemble(ctx, tool, ["tarball", layout.path, ctx.outputs.out.path, tag], [layout], [ctx.outputs.out], "ContainerTarball")
    run_assemble(
        ctx,
        tool,
        ["digest", layout.path, ctx.outputs.digest.path, ctx.outputs.config.path, ctx.outputs.config_digest.path],
        [layout],
        [ctx.outputs.digest, ctx.outputs.config, ctx.outputs.config_digest],
        "ImageDigest",
    )

    if ctx.attr.docker_run_flags != "":
        run_flags = ctx.attr.docker_run_flags
    elif ctx.attr.base and ImageInfo in ctx.attr.base:
        run_flags = ctx.attr.base[ImageInfo].docker_run_flags
    else:
        run_flags = "-i --rm --network=host"
    script = ["#!/usr/bin/env bash", "set -eu", 'docker load --input "$(dirname "$0")/%s"' % ctx.outputs.out.basename]
    if not ctx.attr.legacy_run_behavior:
        script.append('exec docker run %s %s "$@"' % (run_flags, tag))
    ctx.actions.write(ctx.outputs.build_script, "\n".join(script) + "\n", is_executable = True)

    return [
        ImageInfo(
            layout = layout,
            legacy_run_behavior = ctx.attr.legacy_run_behavior,
            docker_run_flags = run_flags,
        ),
        DefaultInfo(
            executable = ctx.outputs.build_script,
            files = depset([ctx.outputs.layer]),
            runfiles = ctx.runfiles(files = [ctx.outputs.out]),
        ),
        OutputGroupInfo(layout = depset([layout])),
    ]

_attrs = dict(_layer.attrs)
_attrs.update({
    "architecture": attr.string(default = "amd64"),
    "base": attr.label(allow_files = container_filetype),
    "cmd": attr.string_list(),
    "create_image_config": attr.label(
        default = Label("//container/private:oci_assemble.py"),
        cfg = "exec",
        executable = True,
        allow_files = True,
    ),
    "creation_time": attr.string(),
    "docker_run_flags": attr.string(),
    "entrypoint": attr.string_list(),
    "experimental_tarball_format": attr.string(values = ["legacy", "compressed"], default = "legacy"),
    "label_file_strings": attr.string_list(),
    "label_files": attr.label_list(allow_files = True),
    "labels": attr.string_dict(),
    "launcher": attr.label(allow_single_file = True),
    "launcher_args": attr.string_list(default = []),
    "layers": attr.label_list(providers = [LayerInfo]),
    "legacy_repository_naming": attr.bool(default = False),
    "legacy_run_behavior": attr.bool(default = True),
    "null_cmd": attr.bool(default = False),
    "null_entrypoint": attr.bool(default = False),
    "os_version": attr.string(),
    "ports": attr.string_list(),
    "repository": attr.string(default = "bazel"),
    "stamp": attr.label(default = "//stamp:use_stamp_flag", providers = [StampSettingInfo]),
    "user": attr.string(),
    "volumes": attr.string_list(),
    "workdir": attr.string(),
    "_allowlist_function_transition": attr.label(
        default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
    ),
})

_outputs = dict(_layer.outputs)
_outputs.update({
    "build_script": "%{name}.executable",
    "config": "%{name}.json",
    "config_digest": "%{name}.json.sha256",
    "digest": "%{name}.digest",
    "out": "%{name}.tar",
})

# Upstream's cpu names for the architectures that differ from @platforms//cpu.
_CPU_ALIASES = {"386": "x86_32", "amd64": "x86_64", "ppc64le": "ppc"}

def _image_transition_impl(settings, attr):
    if not settings["@io_bazel_rules_docker//transitions:enable"]:
        # Same values as upstream, including its "plaftorms" spelling.
        return {
            "//command_line_option:platforms": settings["//command_line_option:platforms"],
            "@io_bazel_rules_docker//platforms:image_transition_cpu": "//plaftorms:image_transition_cpu_unset",
            "@io_bazel_rules_docker//platforms:image_transition_os": "//plaftorms:image_transition_os_unset",
        }
    return {
        "//command_line_option:platforms": "@io_bazel_rules_docker//platforms:image_transition",
        "@io_bazel_rules_docker//platforms:image_transition_cpu": "@platforms//cpu:" + _CPU_ALIASES.get(attr.architecture, attr.architecture),
        "@io_bazel_rules_docker//platforms:image_transition_os": "@platforms//os:" + attr.operating_system,
    }

_image_transition = transition(
    implementation = _image_transition_impl,
    inputs = [
        "@io_bazel_rules_docker//transitions:enable",
        "//command_line_option:platforms",
    ],
    outputs = [
        "//command_line_option:platforms",
        "@io_bazel_rules_docker//platforms:image_transition_cpu",
        "@io_bazel_rules_docker//platforms:image_transition_os",
    ],
)

image = struct(
    attrs = _attrs,
    outputs = _outputs,
    implementation = _impl,
    cfg = _image_transition,
)

container_image_ = rule(
    implementation = _impl,
    attrs = _attrs,
    outputs = _outputs,
    executable = True,
    cfg = _image_transition,
)

def _command(name, value, operating_system):
    if type(value) == type(""):
        if operating_system == "windows":
            return ["%WinDir%\\system32\\cmd.exe", "/c", value]
        return ["/bin/sh", "-c", value]
    if type(value) == type([]):
        return value
    if value:
        fail("The %s attribute must be a string or list, if specified." % name)
    return None

def container_image(**kwargs):
    """rules_docker's container_image macro (same argument handling as upstream).

    Args:
      **kwargs: the rule's attributes.
    """
    operating_system = kwargs.get("operating_system", None)
    if "operating_system" in kwargs and operating_system not in ("linux", "windows"):
        fail("invalid operating_system(%s) specified. Must be 'linux' or 'windows'" % operating_system)
    for reserved in ["label_files", "label_file_strings", "null_cmd", "null_entrypoint"]:
        if reserved in kwargs:
            fail("reserved for internal use by container_image macro: %s" % reserved)
    if "labels" in kwargs:
        files = sorted({v[1:]: None for v in kwargs["labels"].values() if v[0] == "@"}.keys())
        kwargs["label_files"] = files
        kwargs["label_file_strings"] = files
    for key in ["cmd", "entrypoint"]:
        if key not in kwargs:
            continue
        if not kwargs[key]:
            kwargs["null_" + key] = True
            if kwargs[key] == "":
                kwargs[key] = []
        else:
            kwargs[key] = _command(key, kwargs[key], operating_system)
    container_image_(**kwargs)
