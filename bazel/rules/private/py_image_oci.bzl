"""`py_image` for rules_oci 2.x: a py_binary as a layered OCI image, built for one platform.

Public through `@pycross_image//bazel/rules:oci.bzl`; see that file.
"""

load("@rules_oci//oci:defs.bzl", "oci_image", "oci_load")
load("//bazel/rules/pycross_layers:contract.bzl", "COMPRESSION_METHODS")
load(":image_layers.bzl", "below_transition", "image_layers")
load(":naming.bzl", "label_name", "repo_tag")
load(":platforms.bzl", "DEFAULT_PLATFORM", "platform_config", "platform_target")
load(":validate.bzl", "check_compress", "common_kwargs")

# oci_image takes every layer compression the core writes.
_COMPRESS = {method: None for method in COMPRESSION_METHODS}

# rules_docker attributes -> what to write instead (docs/images.md, migration table).
_DOCKER_ONLY = {
    "compression": "pass `compress` (gzip, zstd or none) for the py_image layers",
    "creation_time": "use `created`, a label of a file holding the timestamp",
    "data_path": "build a tar (e.g. rules_pkg pkg_tar) and pass it in `tars`",
    "debs": "build a tar of the packages and pass it in `tars`",
    "directory": "build a tar (e.g. rules_pkg pkg_tar) and pass it in `tars`",
    "docker_run_flags": "rules_oci's oci_load only loads; run the image yourself",
    "empty_dirs": "build a tar (e.g. rules_pkg pkg_tar) and pass it in `tars`",
    "empty_files": "build a tar (e.g. rules_pkg pkg_tar) and pass it in `tars`",
    "files": "build a tar (e.g. rules_pkg pkg_tar) and pass it in `tars`",
    "launcher": "rules_oci has no run launcher; drop it",
    "launcher_args": "rules_oci has no run launcher; drop it",
    "layers": "rules_oci takes layer tars: pass them in `tars` (one layer each), or split packages with `layer_groups`",
    "legacy_run_behavior": "rules_oci's oci_load only loads; drop it",
    "mode": "build a tar (e.g. rules_pkg pkg_tar) and pass it in `tars`",
    "mtime": "py_image layers always have mtime 0; drop it",
    "operating_system": "use `os` (only without `base`)",
    "ports": "use `exposed_ports`",
    "repository": "use `repo_tags = [\"repo/name:tag\"]`",
    "stamp": "rules_oci has no stamp attribute; write stamped values to a file and pass its label (e.g. `labels`)",
    "symlinks": "build a tar (e.g. rules_pkg pkg_tar) and pass it in `tars`",
}

def py_image(
        name,
        binary,
        base = None,
        layer_groups = {},
        platform = DEFAULT_PLATFORM,
        root = "/app",
        compress = "gzip",
        tars = [],
        entrypoint = None,
        cmd = None,
        env = None,
        workdir = None,
        user = None,
        labels = None,
        annotations = None,
        exposed_ports = None,
        volumes = None,
        created = None,
        os = None,
        architecture = None,
        variant = None,
        repo_tags = None,
        binary_target = None,
        **kwargs):
    """A py_binary as a layered OCI image, on rules_oci's `oci_image`, built for `platform`.

    Layers, bottom to top: `base`'s, then `tars`, then interpreter, packages,
    each of `layer_groups`, app, so the layers that change most often stay
    on top. The entrypoint runs the launcher with the
    interpreter the Python toolchain of `platform` names, so
    `docker run my/image:latest --flag x` runs the app with `--flag x`.

    The whole image follows `platform`: the base (an `oci_pull` with several
    `platforms` selects on the target cpu), the layers, the binary and its
    select()s. Targets, in package `my`:

    - `:<name>`: the image (an OCI layout directory) built for `platform`;
      the `oci_image` itself is `:<name>.oci_image`, below the transition;
    - `:<name>.digest`: a file holding the image's manifest digest;
    - `:<name>.tar`: `oci_load`; `bazel run` loads `my/<name>:latest`;
    - `:<name>.tarball`: the docker-loadable tar file (a build target);
    - `:<name>.<group>_layer`: each layer tar, for `platform`;
    - `:y<binary>`: the binary built for `platform`.

    Args:
      name: name of the image target; also prefixes the other targets.
      binary: label of the py_binary (any executable with runfiles).
      base: an `oci_image` or `oci_pull` target (`"@python_base"`). Without a
        base the image is built from scratch and `os`/`architecture` come
        from `platform`.
      layer_groups: ordered dict of group name -> a regex, a label or a list
        of labels, giving packages their own layer; first group wins. A label
        group takes what its dependencies bring into the binary's runfiles,
        transitively (through aliases: `{"torch": ["@pypi//torch"]}`); a regex
        is matched (anchored at the start) against runfiles paths
        `<repo>/<path>`, also without a bzlmod canonical prefix
        (`{"torch": "pip_deps_torch/"}`).
      platform: target platform of the whole image, default
        `@pycross_image//bazel/platforms:linux_x86_64` (or `:linux_arm64`).
        A base without an image for its cpu fails with rules_oci's
        "could not find an image matching the target platform" error, which
        names the base and its platforms.
      root: directory in the image holding the launcher and its runfiles.
      compress: layer compression, `gzip`, `zstd` or `none`.
      tars: more layer tars, one layer each, placed below ours.
      entrypoint: list (or label of a file) overriding the computed entrypoint
        `[interpreter, <root>/<binary>]`. As in rules_oci, it resets `cmd`.
      cmd: list (or file label): default arguments of the app.
      env: dict (or file label) of environment variables.
      workdir: working directory, default `<root>/<binary>.runfiles`.
      user: user (and group) the container runs as.
      labels: dict (or file label) of image config labels.
      annotations: dict (or file label) of manifest annotations.
      exposed_ports: list (or file label) like `["5000/tcp"]`.
      volumes: list (or file label) of volume paths.
      created: label of a file holding the `created` timestamp.
      os: image OS; only without `base` (rules_oci takes it from the base).
      architecture: image architecture; only without `base`. Default: the
        platform's (`amd64`, `arm64`).
      variant: architecture variant; only without `base`.
      repo_tags: tags `bazel run :<name>.tar` loads, default
        `["<package>/<name>:latest"]`.
      binary_target: name of the binary built for `platform`; default
        `y<binary>` (`<name>.y<binary>` when taken).
      **kwargs: common attributes (`visibility`, `tags`, `testonly`, ...),
        given to every target. rules_docker attributes fail with the
        rules_oci spelling to use.
    """
    flavour = "py_image %s (rules_oci)" % name
    kw = common_kwargs(kwargs, flavour, _DOCKER_ONLY)
    check_compress(flavour, compress, _COMPRESS)
    known = platform_config(platform)
    if base:
        for attr, value in [("os", os), ("architecture", architecture), ("variant", variant)]:
            if value:
                fail(("%s: `%s` cannot be combined with `base` (rules_oci takes os, " +
                      "architecture and variant from the base image); drop `%s`, or drop " +
                      "`base` to build from scratch") % (flavour, attr, attr))
    elif not known and not (os and architecture):
        fail(("%s: without `base`, pass `os` and `architecture` for platform %s " +
              "(known platforms: @pycross_image//bazel/platforms:linux_x86_64, :linux_arm64)") %
             (flavour, platform))

    expected_cpu = ""
    if not base and known and not architecture:
        os, architecture, variant = known.os, known.architecture, variant or known.variant
        expected_cpu = known.cpu
    made = image_layers(
        name = name,
        binary = binary,
        platform = platform,
        root = root,
        layer_groups = layer_groups,
        compress = compress,
        expected_cpu = expected_cpu,
        kw = kw,
        binary_target = binary_target,
    )
    for group in made.groups:
        platform_target(
            name = "%s.%s_layer" % (name, group),
            target = made.layers,
            output_group = group + "_layer",
            platform = platform,
            **kw
        )

    if entrypoint == None:
        native.filegroup(
            name = name + ".entrypoint",
            srcs = [made.binary],
            output_group = "entrypoint",
            **below_transition(kw)
        )
        entrypoint = ":%s.entrypoint" % name
    if workdir == None:
        workdir = "%s/%s.runfiles" % (root.rstrip("/"), label_name(binary))

    image_kw = {}
    for attr, value in [
        ("annotations", annotations),
        ("architecture", architecture),
        ("cmd", cmd),
        ("created", created),
        ("env", env),
        ("exposed_ports", exposed_ports),
        ("labels", labels),
        ("os", os),
        ("user", user),
        ("variant", variant),
        ("volumes", volumes),
    ]:
        if value:
            image_kw[attr] = value

    # The image rule runs below one transition to `platform`, so the base
    # (an oci_pull alias selecting on the target cpu), the layers and the
    # binary all resolve for the image's platform.
    oci_image(
        name = name + ".oci_image",
        base = base,
        tars = list(tars) + made.group_targets,
        entrypoint = entrypoint,
        workdir = workdir,
        **dict(image_kw, **below_transition(kw))
    )
    platform_target(name = name, target = ":%s.oci_image" % name, platform = platform, **kw)
    platform_target(name = name + ".digest", target = ":%s.oci_image.digest" % name, platform = platform, **kw)
    oci_load(
        name = name + ".tar",
        image = ":" + name,
        repo_tags = repo_tags if repo_tags != None else [repo_tag(name)],
        **kw
    )
    native.filegroup(
        name = name + ".tarball",
        srcs = [":%s.tar" % name],
        output_group = "tarball",
        **kw
    )
