"""`py_image` and `py3_image` for rules_docker: a py_binary as a layered image.

```starlark
load("@pycross_image//bazel/rules:docker.bzl", "py3_image", "py_image")

py_image(name = "image", binary = ":app", base = "@py3_image_base//image")

py3_image(name = "hello", srcs = ["hello.py"], deps = ["@pip_deps_flask//:pkg"])
```

`py_image` makes the same targets as the oci.bzl one, on `container_image`
with one `container_layer` per layer. `py3_image` is rules_docker's macro
(same signature, defaults, implicit targets and in-image paths) rebuilt on
the same layering core. Differences from rules_docker: docs/images.md.
"""

load("@io_bazel_rules_docker//container:container.bzl", "container_image", "container_layer")
load(
    "//bazel/rules/private:image_macros.bzl",
    "COMMON_ATTRS",
    "DEFAULT_PLATFORM",
    "common_kwargs",
    "image_layers",
    "label_name",
    "platform_config",
)

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

# Container attributes rules_docker's py3_image does not take (they would reach py_binary).
_NOT_PY3_IMAGE = ["cmd", "entrypoint", "labels", "ports", "symlinks", "user", "workdir"]

def _image(name, binary, base, layer_groups, platform, root, compress, layers, config, kw, binary_target = None):
    """The shared body: transitioned binary, core layers, container_layers, container_image."""
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
    )
    layer_targets = []
    for group in made.groups:
        native.filegroup(
            name = "%s.layers.%s" % (name, group),
            srcs = [made.layers],
            output_group = group + "_layer",
            **kw
        )
        container_layer(
            name = "%s.%s_layer" % (name, group),
            tars = [":%s.layers.%s" % (name, group)],
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
        compress = "gzip",
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
      layer_groups: ordered dict of group name -> regex giving packages their
        own layer, e.g. `{"torch": "pip_deps_torch/"}`.
      platform: target platform of the binary, default
        `@pycross_image//bazel/platforms:linux_x86_64` (or `:linux_arm64`).
      root: directory in the image holding the launcher and its runfiles.
      compress: layer compression, `gzip`, `zstd` or `none`.
      layers: more `container_layer` targets, placed below ours.
      entrypoint: overrides the computed entrypoint `[<root>/<binary>]`.
      cmd: default arguments of the app.
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
    _image(name, binary, base, layer_groups, platform, root, compress, layers, config, kw)

def _label_regex(label):
    """A layer-group regex for the runfiles of one `layers` entry of py3_image."""
    label = str(label)
    if label.startswith("@"):
        # A whole external repository (pip_deps_flask, pypi_flask, ...).
        return _re_escape(label.lstrip("@").split("//")[0]) + "/"
    if label.startswith("//"):
        pkg = label[2:].split(":")[0]
    else:
        pkg = native.package_name()

    # The main repository's directory name is not known when macros run, so
    # match any repository but the interpreter and pip ones.
    prefix = "(?!(?:[^/]*[~+])?(?:python|pip_|pypi_))[^/]+/"
    return prefix + (_re_escape(pkg) + "/" if pkg else "")

def _re_escape(s):
    return "".join(["\\" + c if c in ".^$*+?{}[]\\|()" else c for c in s.elems()])

def py3_image(name, base = None, deps = [], layers = [], env = {}, **kwargs):
    """rules_docker's `py3_image`, rebuilt on the pycross_image layering core.

    Same signature and defaults: a `py_binary` `<name>.binary` (`main`
    defaults to `<name>.py`, `deps = deps + layers`, `python_version =
    "PY3"`, every other keyword goes to it), the image `<name>` with its
    implicit targets (`<name>.tar`, `<name>.digest`, `<name>.json`,
    `<name>.json.sha256`, ...), the launcher at `/app/<package>/<name>.binary`.
    Differences from rules_docker (docs/images.md): the entrypoint is the
    launcher alone (its `#!` line names the toolchain's interpreter, so a
    hermetic interpreter works and `/usr/bin/python` is not required), the
    working directory is the runfiles root, and each entry of `layers` is one
    layer (rules_docker made two).

    Args:
      name: name of the image; the binary is `<name>.binary`.
      base: base image; default rules_docker's distroless python3
        (`@py3_image_base//image`, `@py3_debug_image_base//image` with `-c dbg`).
      deps: dependencies of the binary.
      layers: dependencies that also get an image layer each, in order.
      env: dict of environment variables of the image.
      **kwargs: attributes of the `py_binary` (`srcs`, `main`, `data`,
        `args`, ...); `args` also become the image `cmd`. `visibility`,
        `tags` and `testonly` also apply to the image targets.
    """
    for attr in _NOT_PY3_IMAGE:
        if attr in kwargs:
            fail(("py3_image %s: `%s` is not a py3_image attribute (rules_docker passes it to " +
                  "py_binary, which rejects it); use py_image from docker.bzl or oci.bzl for " +
                  "container attributes") % (name, attr))
    kw = {k: kwargs[k] for k in COMMON_ATTRS if k in kwargs}
    binary = name + ".binary"
    if "main" not in kwargs:
        kwargs["main"] = name + ".py"

    # buildifier: disable=native-py
    native.py_binary(
        name = binary,
        deps = deps + layers,
        python_version = "PY3",
        **kwargs
    )
    if base == None:
        base = select({
            str(Label("//bazel/rules/private:compilation_mode_dbg")): "@py3_debug_image_base//image",
            "//conditions:default": "@py3_image_base//image",
        })
    groups = {}
    for i, dep in enumerate(layers):
        groups["layer%d" % i] = _label_regex(dep)
    pkg = native.package_name()
    _image(
        name = name,
        binary = ":" + binary,
        base = base,
        layer_groups = groups,
        platform = DEFAULT_PLATFORM,
        root = "/app/" + pkg if pkg else "/app",
        compress = "gzip",
        layers = [],
        config = {"cmd": kwargs.get("args") or None, "env": env or None},
        kw = kw,
        binary_target = name + ".image_binary",
    )
