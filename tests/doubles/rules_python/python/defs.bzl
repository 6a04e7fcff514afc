"""Test double of rules_python `python/defs.bzl` (tests only): Bazel's native Python rules."""

load(":py_binary.bzl", _py_binary = "py_binary")
load(":py_library.bzl", _py_library = "py_library")
load(":py_runtime.bzl", _py_runtime = "py_runtime")
load(":py_runtime_pair.bzl", _py_runtime_pair = "py_runtime_pair")

py_binary = _py_binary
py_library = _py_library
py_runtime = _py_runtime
py_runtime_pair = _py_runtime_pair
