"""What users load works on Bazel 7-9 with bzlmod: checks over the Starlark files.

* No native Python rule: Bazel 9 dropped the autoloads (bazelbuild/bazel#26906),
  so every py_* rule in bazel/ and example/ is loaded from @rules_python.
* MODULE.bazel declares, as regular bazel_deps, every repository that a file
  of the module loads or names, except rules_docker (docker.bzl is
  WORKSPACE-only) and Bazel's own.
* example/oci/MODULE.bazel's use_repo lists exactly the repositories its
  extensions make (rules_oci's naming, oci/pull.bzl v2.3.2; pip.bzl).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PY_RULES = ("py_binary", "py_library", "py_runtime", "py_runtime_pair", "py_test")
STARLARK = ("BUILD", "BUILD.bazel", "WORKSPACE", "MODULE.bazel")
LOAD = re.compile(r'load\(\s*"([^"]+)"((?:\s*,\s*(?:\w+\s*=\s*)?"[^"]*")*)\s*,?\s*\)')
# A rule call starts a statement (buildifier's formatting), also inside the
# BUILD text a repository rule writes; prose in docstrings does not.
CALL = re.compile(r"^[ \t]*({})\(".format("|".join(PY_RULES)), re.M)
NATIVE = re.compile(r"native\.py_\w+")
REPO_REF = re.compile(r'(?<!\\)"@(\w[\w.~+-]*)//')
DOCSTRING = re.compile(r'"""(?:.|\n)*?"""')
# Bazel's own repositories, and the one users of docker.bzl declare in WORKSPACE.
NOT_DEPS = {"bazel_tools", "local_config_platform", "pycross_image", "io_bazel_rules_docker"}
DOCKER_FILES = {"bazel/rules/docker.bzl", "bazel/rules/private/py_image_docker.bzl",
                "bazel/rules/private/py3_image.bzl"}


def starlark_files(*roots: str) -> list[Path]:
    out = []
    for root in roots:
        for p in sorted((REPO / root).rglob("*")):
            if any(part.startswith("bazel-") for part in p.parts):
                continue
            if p.is_file() and (p.suffix == ".bzl" or p.name in STARLARK):
                out.append(p)
    return out


def loaded(text: str, repo: str) -> set[str]:
    """Symbols loaded from ``@repo//`` files."""
    out = set()
    for label, symbols in LOAD.findall(text):
        if label.startswith(f"@{repo}//"):
            out.update(re.findall(r'"([^"]+)"', symbols))
    return out


def rel(p: Path) -> str:
    return str(p.relative_to(REPO))


@pytest.mark.parametrize("path", starlark_files("bazel", "example"), ids=rel)
def test_python_rules_are_loaded_from_rules_python(path):
    text = path.read_text()
    assert not NATIVE.search(text), f"{rel(path)}: native.py_* (gone in Bazel 9)"
    assert "@bazel_tools//tools/python:toolchain.bzl" not in text, rel(path)
    used = set(CALL.findall(text))
    missing = used - loaded(text, "rules_python")
    assert not missing, f"{rel(path)}: {sorted(missing)} not loaded from @rules_python"


def test_the_check_finds_an_unloaded_rule():
    text = 'load("@rules_python//python:py_binary.bzl", "py_binary")\npy_binary(name = "a")\n'
    assert CALL.findall(text) == ["py_binary"]
    assert not CALL.findall('"""binary: the py_binary (any executable)."""')
    assert set(CALL.findall(text)) <= loaded(text, "rules_python")
    bad = text + 'py_library(name = "b")\n'
    assert set(CALL.findall(bad)) - loaded(bad, "rules_python") == {"py_library"}
    assert NATIVE.search("    native.py_binary(name = n)")


def module_calls(path: Path, func: str) -> list[ast.Call]:
    tree = ast.parse(path.read_text())
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and isinstance(n.func, (ast.Name, ast.Attribute))
            and (getattr(n.func, "id", None) or f"{n.func.value.id}.{n.func.attr}") == func]


def kwargs(call: ast.Call) -> dict:
    return {k.arg: ast.literal_eval(k.value) for k in call.keywords}


def bazel_deps(path: Path) -> dict[str, dict]:
    return {kwargs(c)["name"]: kwargs(c) for c in module_calls(path, "bazel_dep")}


def version(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def test_module_declares_every_repository_its_files_use():
    deps = bazel_deps(REPO / "MODULE.bazel")
    assert not [n for n, d in deps.items() if d.get("dev_dependency")
                and n in {"platforms", "rules_python", "rules_oci", "bazel_skylib"}]
    used: dict[str, list[str]] = {}
    for path in starlark_files("bazel"):
        if rel(path) in DOCKER_FILES:
            continue  # WORKSPACE-only; its repositories come from rules_docker's macros
        code = DOCSTRING.sub('""', path.read_text())  # examples in docs are not uses
        for name in REPO_REF.findall(code):
            used.setdefault(name, []).append(rel(path))
    missing = {n: files for n, files in used.items() if n not in NOT_DEPS and n not in deps}
    assert not missing, f"not a bazel_dep of MODULE.bazel: {missing}"
    assert version(deps["rules_oci"]["version"]) >= (2, 1, 0)  # `created` is 2.1.0+
    assert version(deps["rules_python"]["version"]) >= (1, 0, 0)


def test_only_docker_files_name_rules_docker():
    """Nothing a bzlmod user loads reaches rules_docker (it has no module)."""
    for path in starlark_files("bazel"):
        if "io_bazel_rules_docker" in REPO_REF.findall(path.read_text()):
            assert rel(path) in DOCKER_FILES, rel(path)
    oci = "".join((REPO / "bazel/rules" / f).read_text() for f in (
        "oci.bzl", "private/py_image_oci.bzl", "private/py_image_index.bzl"))
    assert "docker" not in "".join(label for label, _ in LOAD.findall(oci))


def test_example_module_uses_every_repository_its_extensions_make():
    module = REPO / "example" / "oci" / "MODULE.bazel"
    repos: dict[str, set[str]] = {}
    for call in module_calls(module, "use_repo"):
        ext = call.args[0].id
        repos[ext] = {ast.literal_eval(a) for a in call.args[1:]}
    want_oci = set()
    for pull in module_calls(module, "oci.pull"):
        kw = kwargs(pull)
        want_oci.add(kw["name"])
        # rules_oci v2.3.2 oci/pull.bzl: "_".join([name] + platform.split("/")).
        want_oci.update("_".join([kw["name"], *p.split("/")]) for p in kw.get("platforms", []))
    assert repos["oci"] == want_oci
    pip_bzl = (REPO / "example" / "oci" / "pip.bzl").read_text()
    block = pip_bzl[pip_bzl.index("FLASK_REQUIREMENTS = {"):]
    names = re.findall(r'^    "(\w+)": \(', block[:block.index("\n}")], re.M)
    assert repos["pip"] == {f"pip_deps_{n}" for n in names}
    deps = bazel_deps(module)
    assert {"pycross_image", "rules_oci", "rules_python", "platforms"} <= set(deps)


def test_starlark_is_buildifier_clean():
    """buildifier's lint includes bzl-visibility: a `private/` file loaded from
    outside its parent package is a warning, which fails this test."""
    buildifier = REPO / ".venv" / "bin" / "buildifier"
    assert buildifier.exists(), "run `bash .ci/setup` (installs buildifier)"
    files = [str(p) for p in starlark_files("bazel", "example", "tests/doubles")]
    files += [str(REPO / "MODULE.bazel"), str(REPO / "WORKSPACE")]
    proc = subprocess.run([str(buildifier), "-mode=check", "-lint=warn", *files],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
