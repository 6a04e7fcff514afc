"""Which layer each kind of runfiles path lands in."""

from __future__ import annotations

import pytest

from pycross_layers.classify import Classifier, compile_groups, parse_group_spec
from pycross_layers.errors import LayerError

WS = "my_ws"


def classify(path: str, groups=()) -> str:
    return Classifier(compile_groups(groups), WS).classify(path)


@pytest.mark.parametrize(
    ("path", "layer"),
    [
        # Python toolchains, all three naming schemes, and pycross's short form.
        ("python_3_11_x86_64-unknown-linux-gnu/bin/python3", "interpreter"),
        ("python_3_11_aarch64-unknown-linux-gnu/lib/libpython3.11.so", "interpreter"),
        ("rules_python~~python~python_3_11_x86_64-unknown-linux-gnu/bin/python3", "interpreter"),
        ("rules_python~0.31.0~python~python_3_10_x86_64-unknown-linux-gnu/bin/python3",
         "interpreter"),
        ("rules_python++python+python_3_12_x86_64-unknown-linux-gnu/bin/python3", "interpreter"),
        ("python_x86_64-unknown-linux-gnu/bin/python3", "interpreter"),
        ("python_toolchain_3_8_x86_64-unknown-linux-gnu/lib/python3.8/os.py", "interpreter"),
        # pip's own site-packages inside the interpreter stays with the interpreter.
        ("python_3_11_x86_64-unknown-linux-gnu/lib/python3.11/site-packages/pip/__init__.py",
         "interpreter"),
        ("python_3_11_x86_64-unknown-linux-gnu/lib/python3.11/site-packages/pip-23.2.1.dist-info/"
         "RECORD", "interpreter"),
        # pip / pypi repositories.
        ("pip_deps_flask/site-packages/flask/app.py", "packages"),
        ("pypi_flask/site-packages/flask/app.py", "packages"),
        ("rules_python~~pip~pypi_311_flask/site-packages/flask/app.py", "packages"),
        ("rules_python++pip+pypi_311_flask/site-packages/flask/app.py", "packages"),
        ("pip/flask/__init__.py", "packages"),
        # python-dotenv is a package, never the interpreter.
        ("pip_deps_python_dotenv/site-packages/dotenv/main.py", "packages"),
        ("pypi_python_dotenv/site-packages/python_dotenv-1.0.1.dist-info/METADATA", "packages"),
        # A pip repository with x86_64 in its name is still a package.
        ("pip_deps_nvidia_cublas_cu12_x86_64/site-packages/nvidia/cublas/lib/x.so", "packages"),
        ("pypi_torch_cp311_manylinux_x86_64-linux/site-packages/torch/__init__.py", "packages"),
        # Any external site-packages or dist-info (pycross, custom wheel rules).
        ("pdm_deps_numpy_1_26/site-packages/numpy/__init__.py", "packages"),
        ("wheel_requests/requests-2.31.0.dist-info/METADATA", "packages"),
        ("vendored/lib/python3.11/site-packages/attr/__init__.py", "packages"),
        # First-party code, even when it looks like a package or an interpreter.
        (f"{WS}/python_utils/helpers.py", "app"),
        (f"{WS}/python-dotenv/notes.txt", "app"),
        (f"{WS}/third_party/site-packages/vendored.py", "app"),
        (f"{WS}/tools/python_3_11_x86_64-unknown-linux-gnu/readme.txt", "app"),
        (f"{WS}/app/main.py", "app"),
        ("python_utils/helpers.py", "app"),  # an external repo named python_utils
        ("pipeline_tools/run.py", "app"),
        ("_repo_mapping", "app"),
        (None, "app"),  # the launcher
        # Legacy external runfiles repeat repositories under <ws>/external/.
        (f"{WS}/external/pip_deps_six/site-packages/six.py", "packages"),
        (f"{WS}/external/python_3_11_x86_64-unknown-linux-gnu/__init__.py", "interpreter"),
    ],
)
def test_default_groups(path, layer):
    assert classify(path) == layer


def test_custom_groups_first_match_wins_and_come_before_defaults():
    groups = [("torch", r"pip_deps_torch/"), ("nvidia", r"pip_deps_(torch|nvidia)"),
              ("data", f"{WS}/data/")]
    assert classify("pip_deps_torch/site-packages/torch/x.py", groups) == "torch"
    assert classify("pip_deps_nvidia_cudnn/site-packages/x.so", groups) == "nvidia"
    assert classify(f"{WS}/data/big.bin", groups) == "data"
    assert classify("pip_deps_flask/site-packages/flask/x.py", groups) == "packages"


def test_custom_patterns_are_anchored_at_the_start_of_the_path():
    groups = [("torch", "torch")]
    assert classify("torch_repo/x.py", groups) == "torch"
    assert classify("pip_deps_torch/site-packages/torch/x.py", groups) == "packages"


def test_order():
    c = Classifier(compile_groups([("b", "x"), ("a", "y")]), WS)
    assert c.order == ["interpreter", "packages", "b", "a", "app"]


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("torch-libs", "x")], "'torch-libs' is not a simple identifier"),
        ([("1torch", "x")], "'1torch' is not a simple identifier"),
        ([("", "x")], "'' is not a simple identifier"),
        ([("packages", "x")], "'packages' is reserved"),
        ([("app", "x")], "'app' is reserved"),
        ([("t", "x"), ("t", "y")], "'t' is given twice"),
        ([("torch", "pip_deps_torch(")], "layer group 'torch': invalid regex 'pip_deps_torch('"),
    ],
)
def test_bad_groups(pairs, message):
    with pytest.raises(LayerError, match=message.replace("(", r"\(")):
        compile_groups(pairs)


def test_group_spec():
    assert parse_group_spec("torch=pip_deps_torch/.*=x") == ("torch", "pip_deps_torch/.*=x")
    with pytest.raises(LayerError, match="expected NAME=REGEX"):
        parse_group_spec("torch")


# Dependency groups (``NAME:deps``) and the canonical-prefix retry of regex groups.

def test_dependency_group_takes_its_members_first_group_wins():
    groups = compile_groups([parse_group_spec("web:deps"), parse_group_spec("torch:deps"),
                             parse_group_spec("rest=pip_deps_")])
    members = {"web": {"pip_deps_werkzeug/site-packages/werkzeug/__init__.py",
                       "pip_deps_markupsafe/site-packages/markupsafe/__init__.py"},
               "torch": {"pip_deps_markupsafe/site-packages/markupsafe/__init__.py",
                         "rules_python++pip+pypi_311_torch/site-packages/torch/x.py"}}
    c = Classifier(groups, WS, members)
    assert c.order == ["interpreter", "packages", "web", "torch", "rest", "app"]
    assert c.classify("pip_deps_werkzeug/site-packages/werkzeug/__init__.py") == "web"
    assert c.classify("pip_deps_markupsafe/site-packages/markupsafe/__init__.py") == "web"
    assert c.classify("rules_python++pip+pypi_311_torch/site-packages/torch/x.py") == "torch"
    assert c.classify("pip_deps_flask/site-packages/flask/app.py") == "rest"
    assert c.classify("my_ws/app/main.py") == "app"


def test_dependency_group_without_members_is_an_empty_layer():
    c = Classifier(compile_groups([parse_group_spec("torch:deps")]), WS)
    assert c.classify("pip_deps_torch/site-packages/torch/x.py") == "packages"


def test_members_of_an_undeclared_group_are_refused():
    with pytest.raises(LayerError, match="torch, which --group does not declare as NAME:deps"):
        Classifier(compile_groups([parse_group_spec("torch=pip_deps_torch/")]), WS,
                   {"torch": {"x/y"}})


@pytest.mark.parametrize("spec", ["torch", ":deps", "torch:dep"])
def test_bad_group_spec(spec):
    with pytest.raises(LayerError, match="expected NAME=REGEX or NAME:deps"):
        parse_group_spec(spec)


@pytest.mark.parametrize(("path", "layer"), [
    ("pypi_311_torch/site-packages/torch/x.py", "torch"),
    ("rules_python~~pip~pypi_311_torch/site-packages/torch/x.py", "torch"),
    ("rules_python++pip+pypi_311_torch/site-packages/torch/x.py", "torch"),
    ("rules_python++pip+pypi_311_torchvision/site-packages/tv/x.py", "packages"),
    ("my_ws/pypi_311_torch/x.py", "app"),
])
def test_regex_groups_also_match_without_the_canonical_prefix(path, layer):
    assert classify(path, [("torch", "pypi_311_torch/")]) == layer
