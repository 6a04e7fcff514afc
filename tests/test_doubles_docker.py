"""The rules_docker test double is as strict as rules_docker v0.25.0.

Real Bazel builds a tiny workspace (written here) against
tests/doubles/io_bazel_rules_docker; skopeo reads the configs and manifests of
the assembled images. Each test names the upstream file whose behaviour it
checks (bazelbuild/rules_docker at v0.25.0).
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path

import pytest

from tests.images import bazel_env, build, runner

pytestmark = [pytest.mark.bazel]

WORKSPACE = """\
workspace(name = "doubles_docker")

# Declared so WORKSPACE can load from them; the Bazel runner overrides both.
local_repository(name = "io_bazel_rules_docker", path = "{doubles}/io_bazel_rules_docker")

local_repository(name = "rules_python", path = "{doubles}/rules_python")

load("@io_bazel_rules_docker//python3:image.bzl", "repositories")

# Registers //toolchains:container_py_toolchain and the container platform;
# this workspace registers no Python toolchain of its own.
repositories()
"""

BUILD = """\
load("@io_bazel_rules_docker//container:container.bzl", "container_image", "container_layer")
load("@rules_python//python:py_binary.bzl", "py_binary")

container_layer(name = "l1", tars = ["a.tar"])

container_layer(name = "l2", tars = ["b.tar.gz", "c.tgz"], directory = "/opt")

container_image(
    name = "multi",
    layers = [":l1", ":l2"],
    tars = ["a.tar", "b.tar.gz"],
)

container_image(
    name = "base",
    cmd = ["x"],
    entrypoint = ["/e0"],
    env = {"PATH": "/usr/bin"},
)

container_image(
    name = "child_entrypoint",
    base = ":base",
    entrypoint = ["/e1"],
    env = {"PATH": "/opt/bin:$$PATH"},  # make-variable expansion first, as upstream
)

container_image(
    name = "child_null_cmd",
    base = ":base",
    entrypoint = ["/e1"],
    cmd = [],
)

container_image(
    name = "child_string_cmd",
    base = ":base",
    cmd = "echo hi",
    entrypoint = [],
)

filegroup(
    name = "arch",
    srcs = select({
        "@platforms//cpu:arm64": ["arm64/arch.txt"],
        "//conditions:default": ["x86_64/arch.txt"],
    }),
)

container_image(name = "img_arm64", architecture = "arm64", files = [":arch"])

container_image(name = "img_amd64", files = [":arch"])

py_binary(
    name = "in_container",
    srcs = ["tool.py"],
    main = "tool.py",
    exec_compatible_with = ["@io_bazel_rules_docker//platforms:run_in_container"],
)

py_binary(name = "on_host", srcs = ["tool.py"], main = "tool.py")
"""

ZST_BUILD = """\
load("@io_bazel_rules_docker//container:container.bzl", "container_layer")

container_layer(name = "zst", tars = ["d.tar.zst"])
"""


def _tar(path: Path, files: dict[str, bytes], gz: bool = False) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uname = len(data), 1234567, "someone"
            t.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    path.write_bytes(gzip.compress(raw, mtime=0) if gz else raw)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    missing = runner.have_tools()
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    fixtures = build.build_all()
    root = tmp_path_factory.mktemp("doubles_docker")
    src = root / "ws"
    (src / "zst").mkdir(parents=True)
    (src / "WORKSPACE").write_text(WORKSPACE.format(doubles=bazel_env.DOUBLES))
    (src / "BUILD.bazel").write_text(BUILD)
    (src / "zst" / "BUILD.bazel").write_text(ZST_BUILD)
    (src / "zst" / "d.tar.zst").write_bytes(b"\x28\xb5\x2f\xfd")
    _tar(src / "a.tar", {"a/one.txt": b"one"})
    _tar(src / "b.tar.gz", {"b/two.txt": b"two"}, gz=True)
    _tar(src / "c.tgz", {"c/three.txt": b"three"}, gz=True)
    for arch in ("arm64", "x86_64"):
        (src / arch).mkdir()
        (src / arch / "arch.txt").write_text(arch)
    (src / "tool.py").write_text("print('tool')\n")
    bazel = bazel_env.Bazel(src, root / "output_base", fixtures)
    yield bazel
    bazel.shutdown()


def _layout(bazel, name: str) -> Path:
    """The image's OCI layout. container_image transitions, so its outputs are
    not under bazel-bin: read the path Bazel reports for the `layout` group."""
    proc = bazel.run("build", f"//:{name}", "--output_groups=layout", "--show_result=10")
    paths = re.findall(r"^\s+(bazel-out/\S+\.layout)$", proc.stderr, re.M)
    assert paths, proc.stderr
    return bazel.workspace / paths[0]


def _layers(layout: Path) -> list[dict[str, bytes]]:
    """Regular files of each layer, in manifest order."""
    out = []
    for desc in runner.manifest(layout)["layers"]:
        blob = layout / "blobs" / "sha256" / desc["digest"].split(":", 1)[1]
        with tarfile.open(blob) as t:
            out.append({m.name: t.extractfile(m).read() for m in t if m.isreg()})
    return out


def test_zstd_layer_fails_at_analysis(ws):
    """skylib/filetype.bzl: container_layer.tars is .tar, .tar.xz, .tar.gz, .tgz only."""
    proc = ws.run("build", "--nobuild", "//zst:zst", check=False)
    assert proc.returncode != 0
    assert "d.tar.zst" in proc.stderr and "misplaced here" in proc.stderr, proc.stderr[-3000:]


def test_layers_in_order_and_tars_repacked(ws):
    """container/image.bzl: one layer per `layers` entry, then the image's own
    layer (its `tars` merged into it); container/layer.bzl + build_tar.py repack
    every tar (./-prefixed names, no owner names, mtime 0, `directory` applied)."""
    layers = _layers(_layout(ws, "multi"))
    assert layers == [
        {"./a/one.txt": b"one"},
        {"./opt/b/two.txt": b"two", "./opt/c/three.txt": b"three"},
        {"./a/one.txt": b"one", "./b/two.txt": b"two"},
    ]
    lay = _layout(ws, "multi")
    blob = lay / "blobs" / "sha256" / runner.manifest(lay)["layers"][0]["digest"].split(":", 1)[1]
    with tarfile.open(blob) as t:
        member = t.getmember("./a/one.txt")
    assert (member.mtime, member.uname, member.gname) == (0, "", "")


def test_entrypoint_keeps_base_cmd(ws):
    """container/image.bzl + create_image_config: `entrypoint` alone keeps the base's Cmd;
    env values expand $VAR against the base's env."""
    base = runner.config(_layout(ws, "base"))["config"]
    assert base["Cmd"] == ["x"] and base["Entrypoint"] == ["/e0"]
    child = runner.config(_layout(ws, "child_entrypoint"))["config"]
    assert child["Entrypoint"] == ["/e1"]
    assert child["Cmd"] == ["x"]
    assert child["Env"] == ["PATH=/opt/bin:/usr/bin"]


def test_empty_cmd_clears_base_cmd(ws):
    """container/image.bzl macro: `cmd = []` sets null_cmd, which clears the base's Cmd."""
    child = runner.config(_layout(ws, "child_null_cmd"))["config"]
    assert child["Entrypoint"] == ["/e1"]
    assert not child.get("Cmd")


def test_string_cmd_and_empty_entrypoint(ws):
    """container/image.bzl macro: a string cmd is `/bin/sh -c`; `entrypoint = []` clears it."""
    child = runner.config(_layout(ws, "child_string_cmd"))["config"]
    assert child["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert not child.get("Entrypoint")


def test_transition_selects_architecture(ws):
    """container/image.bzl _image_transition + platforms/BUILD image_transition:
    `architecture = "arm64"` makes a dependency's select see @platforms//cpu:arm64."""
    arm = _layout(ws, "img_arm64")
    assert runner.config(arm)["architecture"] == "arm64"
    assert _layers(arm) == [{"./arch.txt": b"arm64"}]
    amd = _layout(ws, "img_amd64")
    assert _layers(amd) == [{"./arch.txt": b"x86_64"}]


def test_implicit_outputs(ws):
    """container/image.bzl _outputs: the default output is <name>-layer.tar; .tar, .digest,
    .json, .json.sha256 and .executable exist; legacy_run_behavior (default True) only loads."""
    proc = ws.run("build", "//:base", "//:base.tar", "//:base.digest", "//:base.json",
                  "//:base.json.sha256", "//:base.executable", "--show_result=10")
    outs = re.findall(r"^\s+(bazel-out/\S+)$", proc.stderr, re.M)
    names = sorted(Path(p).name for p in outs)
    assert names == ["base-layer.tar", "base.digest", "base.executable", "base.json",
                     "base.json.sha256", "base.tar"], proc.stderr
    script = next(ws.workspace / p for p in outs if p.endswith(".executable")).read_text()
    assert "docker load" in script and "docker run" not in script


def test_container_py_toolchain(ws):
    """python3/image.bzl repositories() + toolchains/BUILD: a py_binary that must run in
    the container gets the /usr/bin/python3 runtime; others keep the host toolchain."""
    ws.run("build", "//:in_container", "//:on_host")
    stub = (ws.bin() / "in_container").read_text()
    assert "PYTHON_BINARY = '/usr/bin/python3'" in stub, stub[:2000]
    host = (ws.bin() / "on_host").read_text()
    assert "PYTHON_BINARY = '/usr/bin/python3'" not in host


def test_reserved_and_unknown_attributes(ws):
    """container/image.bzl macro: null_cmd is reserved; an unknown attribute fails."""
    pkg = ws.workspace / "bad"
    pkg.mkdir(exist_ok=True)
    (pkg / "BUILD.bazel").write_text(
        'load("@io_bazel_rules_docker//container:container.bzl", "container_image")\n'
        'container_image(name = "reserved", null_cmd = True)\n')
    proc = ws.run("build", "--nobuild", "//bad:all", check=False)
    assert proc.returncode != 0 and "reserved for internal use" in proc.stderr
    (pkg / "BUILD.bazel").write_text(
        'load("@io_bazel_rules_docker//container:container.bzl", "container_image")\n'
        'container_image(name = "unknown", exposed_ports = ["80"])\n')
    proc = ws.run("build", "--nobuild", "//bad:all", check=False)
    assert proc.returncode != 0 and "exposed_ports" in proc.stderr
    (pkg / "BUILD.bazel").unlink()
