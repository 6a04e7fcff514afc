"""Test double of rules_docker v0.25.0 `container/layer.bzl` (tests only).

`container_layer` has upstream's public attributes with upstream's defaults,
so Bazel itself rejects an unknown one. Like upstream, every layer is a fresh
tar written by a build_tar stand-in (`private/build_tar.py`): `files`,
`empty_files`, `empty_dirs`, `symlinks` and each of `tars` (in order) are
repacked into one deterministic `<name>-layer.tar`. `tars` takes only the
extensions of upstream's `skylib/filetype.bzl` (a `.tar.zst` fails at
analysis). Not implemented (fail when set): `debs`, `compression_options`,
a `data_path` other than `.`/`/`, `operating_system = "windows"`, a custom
`build_layer`.
"""

load("//container:providers.bzl", "LayerInfo")
load("//skylib:filetype.bzl", deb_filetype = "deb", tar_filetype = "tar")

_DEFAULT_MTIME = -1

def _not_implemented(ctx, attr_name):
    fail("%s: `%s` is not implemented by the test double of rules_docker" % (ctx.label, attr_name))

def _dest(ctx, f, output_layer):
    """Where a `files` entry lands, as upstream's _magic_path does for the simple cases."""
    if not ctx.attr.data_path:
        return f.basename
    if ctx.attr.data_path not in (".", "/"):
        _not_implemented(ctx, "data_path")
    prefix = output_layer.short_path.rpartition("/")[0] if ctx.attr.data_path == "." else ""
    path = f.short_path
    if prefix and path.startswith(prefix + "/"):
        path = path[len(prefix) + 1:]
    return path

def build_layer(ctx, output_layer, files, tars, empty_files, empty_dirs, directory, symlinks):
    """Writes one layer tar from the given parts (upstream's build_layer, simplified).

    Args:
      ctx: the rule context (container_layer or container_image).
      output_layer: the File to write.
      files: Files to add (at their basename, or relative to `data_path`).
      tars: tar Files whose members are repacked, in order.
      empty_files: paths of empty files.
      empty_dirs: paths of empty directories.
      directory: where files, tars and empty entries go.
      symlinks: {link: target}.
    """
    if ctx.files.debs:
        _not_implemented(ctx, "debs")
    if ctx.attr.compression != "gzip":
        fail('Unrecognized compression method (need "gzip"): %r' % ctx.attr.compression)
    if ctx.attr.compression_options:
        _not_implemented(ctx, "compression_options")
    if ctx.attr.operating_system == "windows":
        _not_implemented(ctx, "operating_system = \"windows\"")
    if ctx.attr.build_layer.label != Label("//container/private:build_tar.py"):
        _not_implemented(ctx, "build_layer")
    mtime = 0
    if ctx.attr.mtime != _DEFAULT_MTIME:
        if ctx.attr.portable_mtime:
            fail("You may not set both mtime and portable_mtime")
        mtime = ctx.attr.mtime
    if ctx.attr.portable_mtime:
        mtime = 946684800
    manifest = ctx.actions.declare_file(ctx.label.name + "-layer.manifest")
    ctx.actions.write(manifest, json.encode({
        "directory": directory,
        "empty_dirs": empty_dirs,
        "empty_files": empty_files,
        "enable_mtime_preservation": ctx.attr.enable_mtime_preservation,
        "files": [{"dst": _dest(ctx, f, output_layer), "src": f.path} for f in files],
        "mode": ctx.attr.mode,
        "mtime": mtime,
        "symlinks": [[k, v] for k, v in symlinks.items()],
        "tars": [f.path for f in tars],
    }))
    ctx.actions.run(
        executable = ctx.executable.build_layer,
        arguments = [manifest.path, output_layer.path],
        inputs = files + tars + [manifest],
        outputs = [output_layer],
        mnemonic = "ImageLayer",
        use_default_shell_env = True,
    )

def _impl(ctx, name = None, output_layer = None):
    output_layer = output_layer or ctx.outputs.layer
    build_layer(
        ctx,
        output_layer = output_layer,
        files = ctx.files.files,
        tars = ctx.files.tars,
        empty_files = ctx.attr.empty_files,
        empty_dirs = ctx.attr.empty_dirs,
        directory = ctx.attr.directory,
        symlinks = ctx.attr.symlinks,
    )
    return [
        LayerInfo(unzipped_layer = output_layer, env = ctx.attr.env),
        DefaultInfo(files = depset([output_layer])),
    ]

_layer_attrs = {
    "build_layer": attr.label(
        default = Label("//container/private:build_tar.py"),
        cfg = "exec",
        executable = True,
        allow_files = True,
    ),
    "compression": attr.string(default = "gzip"),
    "compression_options": attr.string_list(),
    "data_path": attr.string(),
    "debs": attr.label_list(allow_files = deb_filetype),
    "directory": attr.string(default = "/"),
    "empty_dirs": attr.string_list(),
    "empty_files": attr.string_list(),
    "enable_mtime_preservation": attr.bool(default = False),
    "env": attr.string_dict(),
    "files": attr.label_list(allow_files = True),
    "mode": attr.string(default = "0o555"),
    "mtime": attr.int(default = _DEFAULT_MTIME),
    "operating_system": attr.string(default = "linux"),
    "portable_mtime": attr.bool(default = False),
    "symlinks": attr.string_dict(),
    "tars": attr.label_list(allow_files = tar_filetype),
}

_layer_outputs = {"layer": "%{name}-layer.tar"}

layer = struct(
    attrs = _layer_attrs,
    outputs = _layer_outputs,
    implementation = _impl,
)

container_layer_ = rule(
    implementation = _impl,
    attrs = _layer_attrs,
    outputs = _layer_outputs,
)

def container_layer(**kwargs):
    """rules_docker's container_layer macro: passes everything to the rule.

    Args:
      **kwargs: the rule's attributes.
    """
    container_layer_(**kwargs)
