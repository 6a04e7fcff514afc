"""rules_python 1.x/2.x runfiles shapes in a real image (tests/image_ws/shapes).

Stand-in rules lay out what rules_python makes (docs/images.md, "Symlinks in
runfiles" and "Script bootstrap"): the venv's `bin/python3 -> /usr/bin/python3`
declared symlink (py_executable.bzl, interpreter_path runtime),
venvs_site_packages root_symlinks into a pip repository (venv_runfiles.bzl),
and the --bootstrap_impl=script binary (stage1_bootstrap_template.sh, a bash
launcher, with `_<name>_stage2_bootstrap.py` and the venv), run on a base
without bash. Bazel 4.2.3 builds them with
--experimental_allow_unresolved_symlinks; bwrap runs the images.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from tests.images import bazel_env, build, runner

pytestmark = [pytest.mark.bazel, pytest.mark.image]

WS = build.REPO / "tests" / "image_ws"
IMAGE = "//shapes:shapes_image"
SCRIPT_IMAGE = "//shapes:script_image"
SCRIPT_IMAGE_SYSTEM = "//shapes:script_image_system"
INTERPRETER = "/app/serve.runfiles/python_3_11_x86_64-unknown-linux-gnu/bin/python3"
RF = "app/show.runfiles/image_ws/shapes/_shapes.venv/"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    missing = runner.have_tools()
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    fixtures = build.build_all()
    root = tmp_path_factory.mktemp("shapes_ws")
    dest = root / "ws"
    shutil.copytree(WS, dest, symlinks=True, ignore=shutil.ignore_patterns("bazel-*"))
    bazel = bazel_env.Bazel(dest, root / "output_base", fixtures)
    bazel.extra_flags.append("--experimental_allow_unresolved_symlinks")
    bazel.run("build", IMAGE, SCRIPT_IMAGE, SCRIPT_IMAGE_SYSTEM)
    yield bazel
    bazel.shutdown()


def layer(bazel, group: str) -> Path:
    return bazel.output(f"{IMAGE}.{group}_layer")


def test_root_symlinks_land_in_packages_and_the_venv_link_is_kept(ws):
    with tarfile.open(layer(ws, "packages")) as tar:
        module = tar.getmember(RF + "lib/python3.11/site-packages/blinker/__init__.py")
        assert module.isfile() and module.size > 0
    with tarfile.open(layer(ws, "app")) as tar:
        names = tar.getnames()
        link = tar.getmember(RF + "bin/python3")
        assert link.issym() and link.linkname == "/usr/bin/python3"
    assert not [n for n in names if "site-packages" in n]


def test_runs_in_bwrap(ws):
    lay = ws.output(IMAGE)
    cfg = runner.config(lay)["config"]
    with tempfile.TemporaryDirectory(prefix="pycross-shapes-") as tmp:
        rootfs = runner.unpack(lay, Path(tmp) / "bundle")
        cmd = ["bwrap", "--bind", str(rootfs), "/", "--proc", "/proc", "--dev", "/dev",
               "--tmpfs", "/tmp", "--unshare-all", "--die-with-parent", "--clearenv",
               "--chdir", cfg.get("WorkingDir") or "/"]
        for e in cfg.get("Env") or []:
            k, v = e.split("=", 1)
            cmd += ["--setenv", k, v]
        proc = subprocess.run(cmd + ["--", *cfg["Entrypoint"]], capture_output=True,
                              text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout.strip().splitlines()[-1])
    assert shown == {
        "python3_link": "/usr/bin/python3",
        "python3_runs": True,
        "blinker": "image_ws/shapes/_shapes.venv/lib/python3.11/site-packages/blinker/"
                   "__init__.py",
        "blinker_is_link": False,
    }


def test_script_bootstrap_launcher_is_python_and_the_base_has_no_bash(ws):
    lay = ws.output(SCRIPT_IMAGE)
    cfg = runner.config(lay)["config"]
    assert cfg["Entrypoint"] == [INTERPRETER, "/app/serve"]
    with tarfile.open(ws.output(f"{SCRIPT_IMAGE}.app_layer")) as tar:
        launcher = tar.extractfile("app/serve").read().decode()
        names = set(tar.getnames())
        link = tar.getmember("app/serve.runfiles/image_ws/shapes/_serve.venv/bin/python3")
    assert link.issym()
    assert link.linkname == "../../../../python_3_11_x86_64-unknown-linux-gnu/bin/python3"
    assert "app/serve.runfiles/image_ws/shapes/_serve_stage2_bootstrap.py" in names
    # the bash stage 1 became Python: it compiles, and names what stage 1 named
    assert launcher.startswith(f"#!{INTERPRETER}\n")
    compile(launcher, "app/serve", "exec")
    assert "'image_ws/shapes/_serve_stage2_bootstrap.py'" in launcher
    assert "'image_ws/shapes/_serve.venv/bin/python3'" in launcher
    with tempfile.TemporaryDirectory(prefix="pycross-shapes-") as tmp:
        rootfs = runner.unpack(lay, Path(tmp) / "bundle")
        shells = [p for p in ("bin/bash", "usr/bin/bash", "bin/sh", "usr/bin/sh")
                  if (rootfs / p).exists() or (rootfs / p).is_symlink()]
    assert shells == []


def test_script_bootstrap_with_base_python_keeps_the_venv_link(ws):
    lay = ws.output(SCRIPT_IMAGE_SYSTEM)
    assert runner.config(lay)["config"]["Entrypoint"] == ["/usr/bin/python3", "/app/serve"]
    with tarfile.open(ws.output(f"{SCRIPT_IMAGE_SYSTEM}.app_layer")) as tar:
        launcher = tar.extractfile("app/serve").read().decode()
        link = tar.getmember("app/serve.runfiles/image_ws/shapes/_serve.venv/bin/python3")
    assert launcher.startswith("#!/usr/bin/python3\n")
    assert (link.issym(), link.linkname) == (True, "/usr/bin/python3")


@pytest.mark.parametrize("image", [SCRIPT_IMAGE, SCRIPT_IMAGE_SYSTEM])
def test_script_bootstrap_image_answers_http(ws, image):
    answer = runner.run_http(ws.output(image), extra_args=["--flag", "x"])
    assert answer.status == 200, answer.log
    assert json.loads(answer.body) == {
        "in_venv": True,  # stage 2 ran under the venv's bin/python3
        "venv": "_serve.venv",
        "safe_path": True,  # PYTHONSAFEPATH=1, as stage 1 sets it
        "utf8_mode": 1,  # interpreter_args = ["-X", "utf8"]
        "runfiles_dir": "/app/serve.runfiles",
        "argv": ["--flag", "x"],
        "blinker": "pip_deps_blinker/site-packages/blinker/__init__.py",
    }
