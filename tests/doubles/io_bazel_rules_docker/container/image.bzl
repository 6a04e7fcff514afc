"""Test double: `@io_bazel_rules_docker//container:image.bzl`."""

load("//container:container.bzl", _container_image = "container_image")

container_image = _container_image
