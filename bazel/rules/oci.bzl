"""Public API for rules_oci 2.x users: `py_image`, a py_binary as a layered OCI image.

```starlark
load("@pycross_image//bazel/rules:oci.bzl", "py_image")

py_image(
    name = "image",
    binary = ":app",
    base = "@python_base",
    layer_groups = {"torch": "pip_deps_torch/"},
)
```

Works with WORKSPACE and with bzlmod (docs/install.md). The attributes and
targets are documented on the macro (`private/py_image_oci.bzl`); see also
docs/images.md.
"""

load("//bazel/rules/private:py_image_oci.bzl", _py_image = "py_image")

py_image = _py_image
