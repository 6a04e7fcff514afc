"""Public API for rules_oci 2.x users: `py_image`, a py_binary as a layered OCI image,
and `py_image_index`, the same for several platforms behind one image index.

```starlark
load("@pycross_image//bazel/rules:oci.bzl", "py_image", "py_image_index")

py_image(
    name = "image",
    binary = ":app",
    base = "@python_base",
    layer_groups = {"torch": "pip_deps_torch/"},
)

# :image_index (oci_image_index), :image_index.amd64, :image_index.arm64
py_image_index(
    name = "image_index",
    binary = ":app",
    base = "@python_base",  # oci_pull(platforms = ["linux/amd64", "linux/arm64/v8"])
    platforms = [
        "@pycross_image//bazel/platforms:linux_x86_64",
        "@pycross_image//bazel/platforms:linux_arm64",
    ],
)
```

A multi-platform image is a macro of its own, as in rules_oci (`oci_image`
for one platform, `oci_image_index` for several): `py_image_index` makes one
whole `py_image` per platform (binary, select()s, wheels, interpreter and
base resolved for it) and lists them in an `oci_image_index`.

Works with WORKSPACE and with bzlmod (docs/install.md). The attributes and
targets are documented on the macros (`private/py_image_oci.bzl`,
`private/py_image_index.bzl`); see also docs/images.md.
"""

load("//bazel/rules/private:py_image_index.bzl", _py_image_index = "py_image_index")
load("//bazel/rules/private:py_image_oci.bzl", _py_image = "py_image")

py_image = _py_image
py_image_index = _py_image_index
