"""Test double of `@rules_python//python:py_runtime_pair.bzl` (rules_python 1.0.0).

Upstream uses `@bazel_tools//tools/python:toolchain.bzl`'s rule before
Bazel 6, as the double does.
"""

load("@bazel_tools//tools/python:toolchain.bzl", _py_runtime_pair = "py_runtime_pair")

def py_runtime_pair(name, py2_runtime = None, py3_runtime = None, **attrs):
    """Same signature as upstream.

    Args:
      name: target name.
      py2_runtime: a py_runtime with python_version PY2.
      py3_runtime: a py_runtime with python_version PY3.
      **attrs: common attributes.
    """
    _py_runtime_pair(name = name, py2_runtime = py2_runtime, py3_runtime = py3_runtime, **attrs)
