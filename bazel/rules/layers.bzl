"""Public: `py_image_layers`, the layer tars of a py_binary without an image rule.

Use it to feed any image rule (`oci_image(tars = ...)`, `container_image`,
`pkg_tar`); `oci.bzl` and `docker.bzl` build their `py_image` on it.
"""

load(
    "//bazel/rules/private:py_image_layers.bzl",
    _PyImageLayersInfo = "PyImageLayersInfo",
    _py_image_layers = "py_image_layers",
)

PyImageLayersInfo = _PyImageLayersInfo
py_image_layers = _py_image_layers
