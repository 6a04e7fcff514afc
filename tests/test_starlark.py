"""Starlark unit tests (skylib unittest) under the real Bazel, and the Python
side of the regex check: Starlark's `regex_error` and the core's (Python's `re`
plus the nested-quantifier refusal) agree."""

from __future__ import annotations

import ast
import re

import pytest

from pycross_layers.classify import regex_error
from tests.support.bazel import REPO, Bazel

CASES = REPO / "bazel" / "rules" / "tests" / "validate_test.bzl"


def _starlark_value(name: str):
    """A literal list or dict assigned at the top level of validate_test.bzl."""
    for node in ast.parse(CASES.read_text()).body:
        if isinstance(node, ast.Assign) and node.targets[0].id == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in {CASES}")


@pytest.mark.parametrize("regex", _starlark_value("VALID"))
def test_python_accepts_what_starlark_accepts(regex):
    re.compile(regex)
    assert regex_error(regex) is None


@pytest.mark.parametrize("regex", sorted(_starlark_value("INVALID")))
def test_python_rejects_what_starlark_rejects(regex):
    err = regex_error(regex)
    assert err, regex
    part = _starlark_value("INVALID")[regex]
    if part == "nested quantifier":  # the core's own refusal: same words on both sides
        assert part in err
    else:
        with pytest.raises(re.error):
            re.compile(regex)


@pytest.mark.bazel
def test_starlark_unit_tests_pass(tmp_path):
    bazel = Bazel(REPO, tmp_path / "output_base")
    try:
        proc = bazel.run("test", "--symlink_prefix=/", "--test_output=errors",
                         "//bazel/rules/tests/...", check=False)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        for suite in ("platforms_test", "validate_test"):
            assert f"//bazel/rules/tests:{suite}" in proc.stdout + proc.stderr
        assert "PASSED" in proc.stdout + proc.stderr
    finally:
        bazel.shutdown()
