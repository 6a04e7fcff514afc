"""`py_image` for rules_docker v0.25: a py_binary as a layered `container_image`.

Public through `@pycross_image//bazel/rules:docker.bzl` (WORKSPACE only:
rules_docker has no module); see that file. `docker_image` is the body
py3_image shares.
"""

load("@io_bazel_rules_docker//container:container.bzl", "container_image", "container_layer")
load(":image_layers.bzl", "image_layers")
load(":naming.bzl", "label_name")
load(":platforms.bzl", "DEFAULT_PLATFORM", "platform_config")
load(":validate.bzl", "check_compress", "common_kwargs")

# rules_docker's container_layer takes .tar, .tar.gz, .tgz and .tar.xz only
# (skylib/filetype.bzl, v0.25.0).
_COMPRESS = {
    "gzip": None,
    "none": None,
    "zstd": ("rules_docker's container_layer accepts only .tar, .tar.gz, .tgz and .tar.xz " +
             "layers; use compress = \"none\" (the default: container_layer repacks and " +
             "compresses every layer) or \"gzip\", or use py_image from oci.bzl for zstd"),
}

# container_image attributes py_image passes through unchanged.
_CONTAINER_IMAGE_ATTRS = [
    "compression",
    "compression_options",
    "creation_time",
    "data_path",
    "debs",
    "directory",
    "docker_run_flags",
    "empty_dirs",
    "empty_files",
    "enable_mtime_preservation",
    "experimental_tarball_format",
    "files",
    "launcher",
    "launcher_args",
    "legacy_run_behavior",
    "mode",
    "mtime",
    "os_version",
    "portable_mtime",
    "repository",
    "stamp",
    "symlinks",
    "tars",
]

# rules_oci attributes -> the rules_docker spelling.
_OCI_ONLY = {
    "annotations": "rules_docker has no manifest annotations; use `labels`",
    "created": "use `creation_time`",
    "exposed_ports": "use `ports`",
    "os": "use `operating_system`",
    "repo_tags": "use `repository` (the tag is `<repository>/<package>:<name>`)",
    "variant": "rules_docker has no architecture variant; drop it",
}

def docker_image(name, binary, base, layer_groups, platform, root, compress, layers, config, kw, binary_target = None, binary_kw = {}):
    """The body of py_image and py3_image: binary, core layers, container_layers, container_image.

    Args:
      name: the image name.
      binary: label of the py_binary.
      base: the base image, or None.
      layer_groups: dict of custom group name -> regex.
      platform: target platform label.
      root: in-image directory of the launcher.
      compress: `none` or `gzip`.
      layers: more container_layer targets, below ours.
      config: dict of container_image attributes (None values are dropped).
      kw: common attributes forwarded to every target.
      binary_target: name of the transitioned binary (see image_layers).
      binary_kw: extra attributes of the transitioned binary only.
    """
    check_compress("py_image %s (rules_docker)" % name, compress, _COMPRESS)
    known = platform_config(platform)
    architecture = config.pop("architecture", None)
    if known and architecture and architecture != known.architecture:
        fail("py_image %s: architecture = %r but platform %s is %s; drop `architecture` or change `platform`" %
             (name, architecture, platform, known.architecture))
    if not known and not architecture:
        fail(("py_image %s: pass `architecture` for platform %s (known platforms: " +
              "@pycross_image//bazel/platforms:linux_x86_64, :linux_arm64)") % (name, platform))
    made = image_layers(
        name = name,
        binary = binary,
        platform = platform,
        root = root,
        layer_groups = layer_groups,
        compress = compress,
        expected_cpu = known.cpu if known else "",
        kw = kw,
        binary_target = binary_target,
        binary_kw = binary_kw,
    )
    layer_targets = []
    for group, group_target in zip(made.groups, made.group_targets):
        container_layer(
            name = "%s.%s_layer" % (name, group),
            tars = [group_target],
            **kw
        )
        layer_targets.append(":%s.%s_layer" % (name, group))

    launcher = "%s/%s" % (root.rstrip("/"), label_name(binary))
    if config.get("entrypoint") == None:
        # container_image takes literal strings, so the entrypoint is the launcher
        # alone; its #! line names the interpreter (see image_binary.bzl).
        config["entrypoint"] = [launcher]
    if config.get("workdir") == None:
        config["workdir"] = launcher + ".runfiles"
    if config.get("cmd") == None:
        # rules_docker keeps the base's Cmd unless cmd = [] (its null_cmd,
        # container/image.bzl v0.25.0): the base's Cmd must not become the
        # app's arguments.
        config["cmd"] = []
    container_image(
        name = name,
        base = base,
        layers = list(layers) + layer_targets,
        architecture = architecture or known.architecture,
        **dict({k: v for k, v in config.items() if v != None}, **kw)
    )
    native.filegroup(
        name = name + ".tarball",
        srcs = [":%s.tar" % name],
        **kw
    )

def py_image(
        name,
        binary,
        base = None,
        layer_groups = {},
        platform = DEFAULT_PLATFORM,
        root = "/app",
        compress = "none",
        layers = [],
        entrypoint = None,
        cmd = None,
        env = None,
        workdir = None,
        user = None,
        labels = None,
        ports = None,
        volumes = None,
        architecture = None,
        operating_system = None,
        **kwargs):
    """A py_binary as a layered image, on rules_docker's `container_image`.

    Layers, bottom to top: `base`'s, then `layers`, then interpreter,
    packages, each of `layer_groups`, app (one `container_layer` each), so
    the layers that change most often stay on top. Targets
    as for the oci.bzl `py_image`; `:<name>.tar` is container_image's own
    docker-save tarball (`bazel run :<name>` loads it).

    Args:
      name: name of the `container_image`; also prefixes the other targets.
      binary: label of the py_binary (any executable with runfiles).
      base: a `container_image`, `container_pull` (`"@x//image"`) or
        `container_import` target; default: scratch.
      layer_groups: ordered dict of group name -> a regex, a label or a list
        of labels, giving packages their own layer; first group wins. A label
        group takes what its dependencies bring into the binary's runfiles,
        transitively (through aliases: `{"torch": ["@pypi//torch"]}`); a regex
        is matched (anchored at the start) against runfiles paths
        `<repo>/<path>`, also without a bzlmod canonical prefix
        (`{"torch": "pip_deps_torch/"}`).
      platform: target platform of the binary, default
        `@pycross_image//bazel/platforms:linux_x86_64` (or `:linux_arm64`).
      root: directory in the image holding the launcher and its runfiles.
      compress: compression of the core's layer tars, `none` (default) or
        `gzip`. rules_docker's `container_layer` repacks every tar and
        compresses the result itself, and accepts no `.tar.zst`.
      layers: more `container_layer` targets, placed below ours.
      entrypoint: overrides the computed entrypoint `[<root>/<binary>]`.
      cmd: default arguments of the app. Default `[]`: the base's `Cmd` is
        cleared (rules_docker's `null_cmd`), never passed to the app.
      env: dict of environment variables.
      workdir: working directory, default `<root>/<binary>.runfiles`.
      user: user (and group) the container runs as.
      labels: dict of image labels.
      ports: exposed ports, like `["5000/tcp"]`.
      volumes: volume paths.
      architecture: image architecture; default the platform's (`amd64`, `arm64`).
      operating_system: image OS, default `linux`.
      **kwargs: common attributes (`visibility`, `tags`, ...) given to every
        target, and other `container_image` attributes (`files`, `tars`,
        `symlinks`, `creation_time`, `repository`, `stamp`, ...) given to it.
        rules_oci attributes fail with the rules_docker spelling to use.
    """
    flavour = "py_image %s (rules_docker)" % name
    config = {k: kwargs.pop(k) for k in _CONTAINER_IMAGE_ATTRS if k in kwargs}
    kw = common_kwargs(kwargs, flavour, _OCI_ONLY)
    config.update(
        architecture = architecture,
        cmd = cmd,
        entrypoint = entrypoint,
        env = env,
        labels = labels,
        operating_system = operating_system,
        ports = ports,
        user = user,
        volumes = volumes,
        workdir = workdir,
    )
    docker_image(name, binary, base, layer_groups, platform, root, compress, layers, config, kw)
