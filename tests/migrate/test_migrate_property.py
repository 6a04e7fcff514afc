"""Property test: random BUILD files with random attribute order, comments and layout.

For every generated file: the output parses, a second run changes nothing, no
comment is lost, and every call the tool does not target is byte-identical.
"""

from __future__ import annotations

import re

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate.engine import Job, migrate_file
from migrate.model import Options

LOAD = 'load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")\n'

_words = st.text(alphabet="abcdefghij_", min_size=1, max_size=6)
_labels = st.builds(lambda p, n: f"//{p}:{n}", _words, _words) | st.builds(lambda n: f":{n}",
                                                                          _words)
_comment_text = st.text(alphabet="abcdefgh xyz-", min_size=0, max_size=12)


@st.composite
def comments(draw) -> str:
    return "# " + draw(_comment_text).strip() + " c" + str(draw(st.integers(0, 10**6)))


@st.composite
def string_list(draw, items) -> str:
    values = draw(st.lists(items, min_size=0, max_size=4, unique=True))
    if len(values) > 1 and draw(st.booleans()):
        inner = "".join(f'        "{v}",\n' for v in values)
        return "[\n" + inner + "    ]"
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


@st.composite
def attribute(draw, name: str) -> str:
    if name == "srcs":
        value = draw(string_list(st.builds(lambda w: w + ".py", _words)))
    elif name in ("deps", "data", "layers"):
        value = draw(string_list(_labels))
        if name == "deps" and draw(st.booleans()):
            value += (' + select({\n        ":opt": [":x"],\n'
                      '        "//conditions:default": [],\n    })')
    elif name == "env":
        value = '{"A": "1"}'
    elif name == "base":
        value = draw(st.sampled_from(['"@python_base//image"', '"@other//image:image"', '":b"']))
    elif name in ("tags", "visibility"):
        value = draw(string_list(st.sampled_from(["manual", "//visibility:public", "no-remote"])))
    elif name == "testonly":
        value = draw(st.sampled_from(["True", "False", "1"]))
    else:
        value = '"main.py"'
    line = f"    {name} = {value},"
    if draw(st.booleans()):
        line += "  " + draw(comments())
    above = [f"    {c}" for c in draw(st.lists(comments(), max_size=2))]
    return "\n".join([*above, line])


@st.composite
def image_call(draw, index: int) -> str:
    optional = ["srcs", "deps", "data", "layers", "env", "base", "tags", "visibility",
                "testonly", "main"]
    chosen = draw(st.lists(st.sampled_from(optional), unique=True, max_size=len(optional)))
    names = ["name", *chosen]
    order = draw(st.permutations(names))
    parts = []
    for attr in order:
        if attr == "name":
            parts.append(f'    name = "img{index}",')
        else:
            parts.append(draw(attribute(attr)))
    head = "py3_image("
    if draw(st.booleans()):
        head += "  " + draw(comments())
    tail = ")"
    if draw(st.booleans()):
        tail += "  " + draw(comments())
    inner = "\n".join(parts)
    closing = ""
    if draw(st.booleans()):
        closing = "    " + draw(comments()) + "\n"
    above = "".join(c + "\n" for c in draw(st.lists(comments(), max_size=2)))
    return f"{above}{head}\n{inner}\n{closing}{tail}\n"


OTHER_CALLS = [
    'py_library(\n    name = "lib",\n    srcs = ["lib.py"],  # keep\n)\n',
    'genrule(\n    name = "gen",\n    outs = ["out.txt"],\n    cmd = "echo hi > $@",\n)\n',
    'filegroup(name = "fg", srcs = glob(["**/*.txt"]))\n',
    '# migrate: skip\npy3_image(\n    name = "frozen",\n    srcs = ["frozen.py"],\n)\n',
    'py3_image(\n    name = "spread",\n    **KWARGS\n)\n',
]


@st.composite
def build_file(draw) -> tuple[str, list[str]]:
    n = draw(st.integers(1, 3))
    images = [draw(image_call(i)) for i in range(n)]
    others = draw(st.lists(st.sampled_from(OTHER_CALLS), unique=True, max_size=len(OTHER_CALLS)))
    blocks = draw(st.permutations(images + others))
    header = draw(st.sampled_from(["", "# Copyright 2020 The Authors.\n\n"]))
    extra_load = draw(st.sampled_from(
        ["", 'load("@rules_python//python:defs.bzl", "py_library")\n']))
    loads = "".join(sorted([LOAD, extra_load])) if extra_load else LOAD
    text = header + loads + "".join("\n" + b for b in blocks)
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return text, others


def _comments(text: str) -> list[str]:
    module = cst.parse_module(text)
    found: list[str] = []

    class _C(cst.CSTVisitor):
        def visit_Comment(self, node: cst.Comment) -> None:
            found.append(node.value)

    module.visit(_C())
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(build_file())
def test_random_build_files(case: tuple[str, list[str]]) -> None:
    text, others = case
    data = text.encode()
    first = migrate_file(Job("pkg/BUILD", data, Options()))
    assert first.error is None
    assert first.output is not None  # every generated file has at least one image to migrate
    out = first.output.decode()
    cst.parse_module(out)  # parses
    assert ("\r\n" in text) == ("\r\n" in out)
    # no comment lost
    before = sorted(_comments(text.replace("\r\n", "\n")))
    after = sorted(_comments(out.replace("\r\n", "\n")))
    missing = [c for c in before if c not in after]
    assert not missing
    # calls that are not targeted (or cannot be migrated) are byte-identical
    newline = "\r\n" if "\r\n" in text else "\n"
    for block in others:
        assert block.replace("\n", newline) in out
    # idempotent
    second = migrate_file(Job("pkg/BUILD", first.output, Options()))
    assert second.output is None
    assert not re.search(r"py3_image\(\s*name = \"img", out)


def _buildifier_exe() -> str | None:
    import shutil
    from pathlib import Path

    local = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "buildifier"
    return str(local) if local.exists() else shutil.which("buildifier")


def _buildifier_clean(text: str, buildifier_exe: str) -> bool:
    import subprocess

    proc = subprocess.run([buildifier_exe, "-type=build", "-lint=off"], input=text,
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and proc.stdout == text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(build_file())
def test_buildifier_clean_stays_clean(case: tuple[str, list[str]]) -> None:
    exe = _buildifier_exe()
    if exe is None:
        return
    text = case[0].replace("\r\n", "\n")
    # format the generated file first: the property is about clean input
    import subprocess

    clean = subprocess.run([exe, "-type=build", "-lint=off"], input=text, capture_output=True,
                           text=True, check=False).stdout
    if not clean:
        return
    out = migrate_file(Job("pkg/BUILD", clean.encode(), Options())).output
    assert out is not None
    assert _buildifier_clean(out.decode(), exe), out.decode()
