"""Test double of `@rules_python//python:py_binary.bzl` (rules_python 1.0.0).

Upstream's `py_binary` macro falls back to `native.py_binary` where its
Starlark implementation is disabled; Bazel 4.2.3 has only the native rule,
so the double is exactly that fallback.
"""

def py_binary(**attrs):
    """Same signature as upstream: every attribute goes to the rule.

    Args:
      **attrs: attributes of py_binary.
    """

    # buildifier: disable=native-py
    native.py_binary(**attrs)
