"""Test double of rules_python `python/py_runtime.bzl` (tests only): Bazel's native `py_runtime`."""

py_runtime = native.py_runtime
