"""Test double of `@rules_python//python:py_library.bzl` (rules_python 1.0.0).

The native fallback upstream uses where its Starlark rule is disabled.
"""

def py_library(**attrs):
    """Same signature as upstream: every attribute goes to the rule.

    Args:
      **attrs: attributes of py_library.
    """

    # buildifier: disable=native-py
    native.py_library(**attrs)
