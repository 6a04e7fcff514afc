"""Test double of `@rules_python//python:py_runtime.bzl` (rules_python 1.0.0).

Upstream uses `native.py_runtime` before Bazel 6, as the double does.
"""

def py_runtime(**attrs):
    """Same signature as upstream: every attribute goes to the rule.

    Args:
      **attrs: attributes of py_runtime.
    """

    # buildifier: disable=native-py
    native.py_runtime(**attrs)
