"""Test double of rules_python `python/py_library.bzl` (tests only): Bazel's native `py_library`."""

py_library = native.py_library
