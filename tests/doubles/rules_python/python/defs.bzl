"""Test double of `@rules_python//python:defs.bzl` (rules_python 1.0.0): the same symbols."""

load(":py_binary.bzl", _py_binary = "py_binary")
load(":py_library.bzl", _py_library = "py_library")
load(":py_runtime.bzl", _py_runtime = "py_runtime")
load(":py_runtime_pair.bzl", _py_runtime_pair = "py_runtime_pair")
load(":py_test.bzl", _py_test = "py_test")

PyInfo = PyInfo
PyRuntimeInfo = PyRuntimeInfo
py_binary = _py_binary
py_library = _py_library
py_runtime = _py_runtime
py_runtime_pair = _py_runtime_pair
py_test = _py_test
