"""Public API for rules_docker v0.25 users: `py_image` and `py3_image`. WORKSPACE only.

```starlark
load("@pycross_image//bazel/rules:docker.bzl", "py3_image", "py_image")

py_image(name = "image", binary = ":app", base = "@py3_image_base//image")

py3_image(name = "hello", srcs = ["hello.py"], deps = ["@pip_deps_flask//:pkg"])
```

rules_docker has no Bazel module, so this file needs a WORKSPACE that
declares `io_bazel_rules_docker`; nothing else in pycross_image loads it.
`py_image` makes the same targets as the oci.bzl one, on `container_image`;
`py3_image` is rules_docker's macro (same signature, defaults, implicit
targets and in-image paths) rebuilt on the same layering core. The
attributes are documented on the macros (`private/py_image_docker.bzl`,
`private/py3_image.bzl`); differences from rules_docker: docs/images.md.
"""

load("//bazel/rules/private:py3_image.bzl", _py3_image = "py3_image")
load("//bazel/rules/private:py_image_docker.bzl", _py_image = "py_image")

py3_image = _py3_image
py_image = _py_image
