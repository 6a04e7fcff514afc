"""Test double of rules_docker v0.25.0 `python3/image.bzl` (tests only).

`repositories()` does what upstream's does, offline: registers the
container Python toolchain (`//toolchains:container_py_toolchain`, the
image's `/usr/bin/python3`) and the execution platforms
`@local_config_platform//:host` then `//platforms:local_container_platform`,
and declares the default bases `@py3_image_base` / `@py3_debug_image_base`
(served from the offline distroless-style python3 layout). `DEFAULT_BASE`
selects between them as upstream. py3_image itself is pycross_image's
(docker.bzl); the double only points there.
"""

load("//container:pull.bzl", "container_pull")

# buildifier: disable=unnamed-macro
def repositories():
    """Registers the container Python toolchain and platforms; declares the default bases."""
    native.register_toolchains(
        "@io_bazel_rules_docker//toolchains:container_py_toolchain",
    )
    native.register_execution_platforms(
        "@local_config_platform//:host",
        "@io_bazel_rules_docker//platforms:local_container_platform",
    )
    excludes = native.existing_rules().keys()
    for name in ["py3_image_base", "py3_debug_image_base"]:
        if name not in excludes:
            container_pull(
                name = name,
                registry = "localhost:5000",
                repository = "distroless/python3-debian12",
            )

DEFAULT_BASE = select({
    "@io_bazel_rules_docker//:debug": "@py3_debug_image_base//image",
    "@io_bazel_rules_docker//:fastbuild": "@py3_image_base//image",
    "@io_bazel_rules_docker//:optimized": "@py3_image_base//image",
    "//conditions:default": "@py3_image_base//image",
})

def py3_image(name, **_kwargs):
    fail("py3_image %s: the rules_docker test double has no py3_image; load it from @pycross_image//bazel/rules:docker.bzl" % name)
