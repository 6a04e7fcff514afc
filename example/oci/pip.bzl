"""`pip_package`: one PyPI distribution as a pip-style Bazel repository.

A stand-in for rules_python's `pip_parse` that needs nothing but the host
python3 and pip (with whatever index pip is configured to use): the
repository holds `site-packages/` and a `py_library` named `pkg`, like the
`@pip_deps_<name>//:pkg` targets of rules_python's WORKSPACE API.
"""

def _pip_package_impl(rctx):
    result = rctx.execute(
        ["python3", "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile", "--target", "site-packages", rctx.attr.requirement],
        timeout = 600,
    )
    if result.return_code:
        fail("pip install %s failed:\n%s" % (rctx.attr.requirement, result.stderr))
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.attr.name)
    rctx.file("BUILD.bazel", """load("@rules_python//python:py_library.bzl", "py_library")

package(default_visibility = ["//visibility:public"])

py_library(
    name = "pkg",
    srcs = glob(["site-packages/**/*.py"], allow_empty = True),
    data = glob(["site-packages/**"], exclude = ["**/*.py", "**/*.pyc", "**/__pycache__/**", "**/RECORD"]),
    imports = ["site-packages"],
    deps = %s,
)
""" % repr([str(d) for d in rctx.attr.deps]))

pip_package = repository_rule(
    implementation = _pip_package_impl,
    doc = "Installs one pinned requirement with pip into a repository.",
    attrs = {
        "deps": attr.string_list(doc = "Labels of the pip_package repositories it depends on."),
        "requirement": attr.string(mandatory = True, doc = "A pinned requirement, e.g. `flask==3.1.3`."),
    },
)

FLASK_REQUIREMENTS = {
    "blinker": ("blinker==1.9.0", []),
    "click": ("click==8.5.1", []),
    "flask": ("flask==3.1.3", ["blinker", "click", "itsdangerous", "jinja2", "markupsafe", "werkzeug"]),
    "itsdangerous": ("itsdangerous==2.2.0", []),
    "jinja2": ("jinja2==3.1.6", ["markupsafe"]),
    "markupsafe": ("markupsafe==3.0.4", []),
    "werkzeug": ("werkzeug==3.1.9", ["markupsafe"]),
}

def pip_deps():
    """Declares `@pip_deps_<name>` for Flask and its dependencies."""
    for name, (requirement, deps) in FLASK_REQUIREMENTS.items():
        pip_package(
            name = "pip_deps_" + name,
            requirement = requirement,
            deps = ["@pip_deps_%s//:pkg" % d for d in deps],
        )
