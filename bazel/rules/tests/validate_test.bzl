"""Unit tests of the loading-time regex check (bazel/rules/private/validate.bzl).

Every pattern here is also given to the core's check (Python's `re` plus the
nested-quantifier refusal, `pycross_layers.classify.regex_error`) by
tests/test_starlark.py, which asserts that Starlark and Python agree.
"""

load("@bazel_skylib//lib:unittest.bzl", "asserts", "unittest")
load("//bazel/rules/private:validate.bzl", "regex_error")

# Patterns Python's re.compile accepts.
VALID = [
    "pip_deps_torch/",
    "rules_python[~+]+pip[~+]+pypi_311_torch/",
    "(?:pip_deps_|pypi_)torch/",
    "(?!(?:[^/]*[~+])?(?:python|pip_|pypi_))[^/]+/",
    "a\\(b",
    "[]]x",
    "[^]a]",
    "x{2,3}",
    "(a|b)*",
    "a|b",
    "(a+)?",
    "(a[+])+",
    "(a\\+)+",
    "a+b*",
]

# Patterns the core rejects, with a part of the message.
INVALID = {
    "(a+)+$": "nested quantifier",
    "(?:pip_deps_[a-z]*/)*": "nested quantifier",
    "(a|b+){2,}": "nested quantifier",
    "pip_deps_(torch/": "never closed",
    "pip_deps_torch)/": "no matching",
    "[abc": "never closed",
    "*torch": "nothing to repeat",
    "(+a)": "nothing to repeat",
    "a|*b": "nothing to repeat",
    "trailing\\": "lone backslash",
}

def _valid_test_impl(ctx):
    env = unittest.begin(ctx)
    for regex in VALID:
        asserts.equals(env, None, regex_error(regex), regex)
    return unittest.end(env)

def _invalid_test_impl(ctx):
    env = unittest.begin(ctx)
    for regex, part in INVALID.items():
        err = regex_error(regex)
        asserts.true(env, err != None, "%r should be rejected" % regex)
        if err:
            asserts.true(env, part in err, "%r: %r does not say %r" % (regex, err, part))
    return unittest.end(env)

valid_test = unittest.make(_valid_test_impl)
invalid_test = unittest.make(_invalid_test_impl)

def validate_test_suite(name):
    unittest.suite(name, valid_test, invalid_test)
