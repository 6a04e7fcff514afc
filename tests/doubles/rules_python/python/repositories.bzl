"""Test double of `@rules_python//python:repositories.bzl` (rules_python 1.0.0).

Upstream's `py_repositories()` declares rules_python's internal repositories
(`rules_python_internal`, `bazel_skylib`, ...); the double needs none of them.
"""

def py_repositories():
    """Same signature as upstream; declares nothing."""
    pass
