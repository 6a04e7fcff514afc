"""Test double: `@io_bazel_rules_docker//container:layer.bzl`."""

load("//container:container.bzl", _container_layer = "container_layer")

container_layer = _container_layer
