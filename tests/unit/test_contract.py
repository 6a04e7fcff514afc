"""Issue 9 item 5: the core stands alone, and what Starlark and Python both know
lives once (bazel/rules/pycross_layers/contract.bzl)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

from pycross_layers import classify, compress, contract, manifest

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "bazel" / "rules" / "pycross_layers"
LAYERS_BZL = REPO / "bazel" / "rules" / "private" / "py_image_layers.bzl"


def test_the_core_imports_only_the_standard_library_and_itself():
    stdlib = set(sys.stdlib_module_names)
    # Optional zstd modules, imported inside a try (a missing one names the fix).
    optional = {"zstandard", "compression"}
    bad = []
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: the core itself
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top != "pycross_layers" and top not in optional:
                    bad.append(f"{path.name}:{node.lineno}: {name}")
    assert not bad, "the core must import only the standard library and itself: " + str(bad)


def test_python_uses_the_contract():
    assert compress.METHODS == contract.COMPRESSION_METHODS
    assert compress.EXTENSIONS == contract.COMPRESSION_EXTENSIONS
    assert set(compress.MEDIA_TYPES) == set(contract.COMPRESSION_METHODS)
    assert classify.RESERVED == contract.DEFAULT_GROUPS_BEFORE + contract.DEFAULT_GROUPS_AFTER
    assert classify.NAME_MAX == contract.GROUP_NAME_MAX
    assert {k: v for k, v in manifest._FIELDS.items() if k != manifest.MAGIC} == \
        contract.MANIFEST_FIELDS
    assert classify._NAME.match("a" * contract.GROUP_NAME_MAX)
    assert not classify._NAME.match("1a") and not classify._NAME.match("a-b")


def _starlark_strings(path: Path) -> list[str]:
    return [ast.literal_eval(m) for m in re.findall(r'"(?:[^"\\\n]|\\.)*"', path.read_text())]


def test_starlark_keeps_no_copy_of_the_contract():
    """py_image_layers.bzl loads every shared constant and writes only contract kinds."""
    text = LAYERS_BZL.read_text()
    assert '"//bazel/rules/pycross_layers:contract.bzl"' in text
    for name in ("COMPRESSION_EXTENSIONS", "COMPRESSION_METHODS", "DEFAULT_GROUPS_AFTER",
                 "DEFAULT_GROUPS_BEFORE", "GROUP_NAME_CHARS", "GROUP_NAME_MAX",
                 "MANIFEST_MAGIC", "MANIFEST_VERSION"):
        assert f'"{name}"' in text, f"py_image_layers.bzl does not load {name}"
        assert not re.search(rf"^{name}\s*=", text, re.M), f"py_image_layers.bzl redefines {name}"
    strings = _starlark_strings(LAYERS_BZL)
    for copy in [*contract.COMPRESSION_EXTENSIONS.values(), contract.MANIFEST_MAGIC,
                 contract.GROUP_NAME_CHARS]:
        assert copy not in strings, f"py_image_layers.bzl keeps its own {copy!r}"
    # Manifest lines: every kind the rule writes is one the core reads, and back.
    written = set(re.findall(r'"(\w+)\\t', text))  # "empty\t" + path, "workspace\t" + ...
    written |= {s for s in strings if s in contract.MANIFEST_FIELDS}  # kind = "link" ...
    assert written - {"workspace", "launcher"} <= set(contract.MANIFEST_FIELDS)
    assert set(contract.MANIFEST_FIELDS) <= written, set(contract.MANIFEST_FIELDS) - written


def test_contract_is_packaged_beside_the_core():
    build = (CORE / "BUILD.bazel").read_text()
    assert 'data = ["contract.bzl"]' in build
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'pycross_layers = ["contract.bzl"]' in pyproject


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "bazel" / "rules"),
                                                       str(REPO)]))
    return subprocess.run([sys.executable, "-m", "pycross_image_cli", *args], env=env,
                          text=True, capture_output=True)


def test_pycross_image_dispatches_to_the_core_and_the_migrator(tmp_path):
    top = _cli("--help")
    assert top.returncode == 0 and "migrate" in top.stdout and "layers" in top.stdout
    core = _cli("layers", "--runfiles", str(tmp_path / "none"), "--out", str(tmp_path / "o"))
    assert core.returncode == 2
    assert core.stderr.startswith("pycross-image: error: --runfiles"), core.stderr
    mig = _cli("migrate", "--help")
    assert mig.returncode == 0 and "pycross-image migrate" in mig.stdout
    bad = _cli("frobnicate")
    assert bad.returncode == 2 and "unknown command 'frobnicate'" in bad.stderr


def test_the_core_module_runs_without_the_cli_package(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO / "bazel" / "rules"))
    proc = subprocess.run([sys.executable, "-m", "pycross_layers", "--help"], env=env,
                          text=True, capture_output=True)
    assert proc.returncode == 0 and "migrate" not in proc.stdout
