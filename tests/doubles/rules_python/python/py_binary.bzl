"""Test double of rules_python `python/py_binary.bzl` (tests only): Bazel's native `py_binary`."""

py_binary = native.py_binary
