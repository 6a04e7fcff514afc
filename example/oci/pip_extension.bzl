"""bzlmod: `pip = use_extension("//:pip.bzl"...)`'s twin for MODULE.bazel.

A file of its own because `module_extension` does not exist before Bazel 5,
and WORKSPACE builds on Bazel 4 load pip.bzl.
"""

load(":pip.bzl", "pip_deps")

def _pip_impl(_module_ctx):
    pip_deps()

pip = module_extension(
    implementation = _pip_impl,
    doc = "Declares `@pip_deps_<name>` for Flask and its dependencies (pip.bzl).",
)
