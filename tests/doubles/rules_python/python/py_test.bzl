"""Test double of `@rules_python//python:py_test.bzl` (rules_python 1.0.0).

The native fallback upstream uses where its Starlark rule is disabled.
"""

def py_test(**attrs):
    """Same signature as upstream: every attribute goes to the rule.

    Args:
      **attrs: attributes of py_test.
    """

    # buildifier: disable=native-py
    native.py_test(**attrs)
