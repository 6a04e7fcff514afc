"""Test double of rules_docker v0.25.0 `container/container.bzl` (tests only).

Re-exports the container rules of the double, as upstream's file does:
container_image (image.bzl), container_layer (layer.bzl), container_push
(push.bzl), container_pull (pull.bzl), and the `image`/`layer` structs.
"""

load("//container:image.bzl", _container_image = "container_image", _image = "image")
load("//container:layer.bzl", _container_layer = "container_layer", _layer = "layer")
load("//container:pull.bzl", _container_pull = "container_pull")
load("//container:push.bzl", _container_push = "container_push")

container_image = _container_image
container_layer = _container_layer
container_pull = _container_pull
container_push = _container_push

container = struct(
    image = _image,
    layer = _layer,
)
