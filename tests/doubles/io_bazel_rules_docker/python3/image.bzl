"""Test double of `@io_bazel_rules_docker//python3:image.bzl`.

`repositories()` declares the default py3_image bases (`@py3_image_base`,
`@py3_debug_image_base`), served from the offline distroless-style python3
layout. py3_image itself is pycross_image's (docker.bzl); the double only
points there.
"""

load("//container:pull.bzl", "container_pull")

def repositories():
    for name in ["py3_image_base", "py3_debug_image_base"]:
        if not native.existing_rule(name):
            container_pull(
                name = name,
                registry = "localhost:5000",
                repository = "distroless/python3-debian12",
            )

def py3_image(name, **_kwargs):
    fail("py3_image %s: the rules_docker test double has no py3_image; load it from @pycross_image//bazel/rules:docker.bzl" % name)
