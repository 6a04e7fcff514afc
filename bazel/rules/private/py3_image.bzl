"""`py3_image`: rules_docker's macro, same signature, rebuilt on the layering core.

Public through `@pycross_image//bazel/rules:docker.bzl` (WORKSPACE only).
"""

load("@rules_python//python:py_binary.bzl", "py_binary")
load(":platforms.bzl", "DEFAULT_PLATFORM")
load(":py_image_docker.bzl", "docker_image")
load(":validate.bzl", "COMMON_ATTRS")

# Container attributes rules_docker's py3_image does not take (they would reach py_binary).
_NOT_PY3_IMAGE = ["cmd", "entrypoint", "labels", "ports", "symlinks", "user", "workdir"]

# rules_docker builds py3_image's binary for this execution constraint, which
# its repositories() satisfies with a platform and a `/usr/bin/python3`
# container toolchain (python3/image.bzl, toolchains/BUILD, v0.25.0).
_RUN_IN_CONTAINER = "@io_bazel_rules_docker//platforms:run_in_container"

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
    layer (rules_docker made two) holding the files that dependency brings
    into the binary's runfiles, transitively (through aliases such as a pip
    hub's `requirement("x")`), except what an earlier entry took.

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
    if "exec_compatible_with" in kwargs:
        fail(("py3_image %s: `exec_compatible_with` is set by py3_image itself (rules_docker " +
              "builds the binary for %s); drop it") % (name, _RUN_IN_CONTAINER))
    kw = {k: kwargs[k] for k in COMMON_ATTRS if k in kwargs}
    binary = name + ".binary"
    if "main" not in kwargs:
        kwargs["main"] = name + ".py"
    py_binary(
        name = binary,
        deps = deps + layers,
        python_version = "PY3",
        exec_compatible_with = [_RUN_IN_CONTAINER],
        **kwargs
    )
    if base == None:
        base = select({
            str(Label("//bazel/rules/private:compilation_mode_dbg")): "@py3_debug_image_base//image",
            "//conditions:default": "@py3_image_base//image",
        })

    # rules_docker's semantics: each entry's layer holds what that dependency
    # brings into the binary's runfiles (its closure), first entry first.
    groups = {"layer%d" % i: [dep] for i, dep in enumerate(layers)}
    pkg = native.package_name()
    docker_image(
        name = name,
        binary = ":" + binary,
        base = base,
        layer_groups = groups,
        platform = DEFAULT_PLATFORM,
        root = "/app/" + pkg if pkg else "/app",
        compress = "none",
        layers = [],
        config = {"cmd": kwargs.get("args") or None, "env": env or None},
        kw = kw,
        binary_target = name + ".image_binary",
        # Resolve the Python toolchain as rules_docker does: without a toolchain
        # of the workspace's own, its container toolchain (/usr/bin/python3).
        binary_kw = {"exec_compatible_with": [_RUN_IN_CONTAINER]},
    )
