"""Test double of rules_python `python/py_runtime_pair.bzl` (tests only): Bazel's own `py_runtime_pair`."""

load("@bazel_tools//tools/python:toolchain.bzl", _py_runtime_pair = "py_runtime_pair")

py_runtime_pair = _py_runtime_pair
