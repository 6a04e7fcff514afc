"""End-to-end tests of oci.bzl py_image, docker.bzl py_image and py3_image.

Real Bazel builds tests/image_ws (a session copy) against the rules_oci and
rules_docker test doubles; real skopeo inspects, umoci unpacks, bwrap runs the
Flask app and we GET / on a loopback port.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from tests.images import bazel_env, build, runner

pytestmark = [pytest.mark.bazel, pytest.mark.image]

WS = build.REPO / "tests" / "image_ws"
GROUPS = ["interpreter", "packages", "werkzeug", "app"]

# name -> (output group holding the OCI layout, or "" for the default output;
#          group names, expected entrypoint)
IMAGES = {
    "oci_system": ("", GROUPS, ["/usr/bin/python3", "/app/hello"]),
    "oci_hermetic": (
        "",
        GROUPS,
        ["/app/hello.runfiles/python_3_11_x86_64-unknown-linux-gnu/bin/python3", "/app/hello"],
    ),
    "docker_hermetic": ("layout", GROUPS, ["/app/hello"]),
    "hello_py3": (
        "layout",
        ["interpreter", "packages", "layer0", "app"],
        ["/app/images/hello_py3.binary"],
    ),
}
WORKDIRS = {
    "oci_system": "/app/hello.runfiles",
    "oci_hermetic": "/app/hello.runfiles",
    "docker_hermetic": "/app/hello.runfiles",
    "hello_py3": "/app/images/hello_py3.binary.runfiles",
}


@pytest.fixture(scope="session")
def fixtures():
    missing = runner.have_tools()
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    return build.build_all()


@pytest.fixture(scope="session")
def ws(fixtures, tmp_path_factory):
    root = tmp_path_factory.mktemp("image_ws")
    dest = root / "ws"
    shutil.copytree(WS, dest, symlinks=True, ignore=shutil.ignore_patterns("bazel-*"))
    bazel = bazel_env.Bazel(dest, root / "output_base", fixtures)
    bazel.run("build", "//images/...")
    yield bazel
    bazel.shutdown()


def layout(bazel, name: str) -> Path:
    """The image's OCI layout directory, built for the image's platform."""
    group = IMAGES[name][0] if name in IMAGES else ("" if name.startswith("oci") else "layout")
    return bazel.output(f"//images:{name}", group=group)


def layer_files(bazel, name: str, groups: list[str] | None = None) -> list[Path]:
    """The layer tars the image rule received (`:<name>.<group>_layer`), in image order.

    A rules_docker container_layer is also configured below container_image's
    own transition (cquery lists both); take the copy the image used."""
    out = []
    for g in groups or IMAGES[name][1]:
        files = bazel.outputs(f"//images:{name}.{g}_layer")
        transitioned = [f for f in files if "-ST-" in str(f)]
        out.append((transitioned or files)[0])
    return out


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_config_and_layers(ws, name):
    lay = layout(ws, name)
    cfg = runner.config(lay)
    assert cfg["architecture"] == "amd64"
    assert cfg["os"] == "linux"
    assert cfg["config"]["Entrypoint"] == IMAGES[name][2]
    assert not cfg["config"].get("Cmd")
    assert cfg["config"]["WorkingDir"] == WORKDIRS[name]
    assert any(e.startswith("PATH=") for e in cfg["config"]["Env"])  # from the base
    # Base layer, then ours in order: interpreter, packages, custom groups, app;
    # rules_docker's container_image adds its own layer on top, empty here
    # (container/image.bzl v0.25.0 always does).
    ours = [runner.diff_id(f) for f in layer_files(ws, name)]
    own = own_layers(name)
    diff_ids = cfg["rootfs"]["diff_ids"]
    assert diff_ids[1:1 + len(ours)] == ours
    assert len(diff_ids) == 1 + len(ours) + own
    assert len(runner.manifest(lay)["layers"]) == len(diff_ids)


def own_layers(name: str) -> int:
    """Layers the image rule adds above ours: container_image's own (rules_docker)."""
    return 0 if name.startswith("oci") else 1


def member_names(path: Path) -> list[str]:
    """Entry names of a layer tar, without the `./` rules_docker's repacking adds."""
    with tarfile.open(path) as tar:
        return [n[2:] if n.startswith("./") else n for n in tar.getnames()]


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_no_host_path_in_our_layers(ws, name):
    """No checkout, cache or output-base path reaches an image (names, links, contents)."""
    needles = [str(build.REPO).encode(), str(ws.workspace).encode(),
               str(ws.output_base).encode(), b"/execroot/", b"bazel-out/"]
    for path in layer_files(ws, name):
        with tarfile.open(path) as t:
            for m in t:
                data = t.extractfile(m).read() if m.isfile() else b""
                for needle in needles:
                    found = [where for where, hay in (("name", m.name.encode()),
                                                      ("link", m.linkname.encode()),
                                                      ("content", data)) if needle in hay]
                    assert not found, (path.name, m.name, needle, found)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_runs_in_bwrap(ws, name):
    answer = runner.run_http(layout(ws, name))
    assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log


def test_extra_args_reach_the_app(ws):
    answer = runner.run_http(layout(ws, "oci_hermetic"), extra_args=["--print-args", "--flag", "x"])
    assert answer.status == 200, answer.log
    assert "args: ['--print-args', '--flag', 'x']" in answer.log


def test_interpreter_layer_is_real_in_hermetic_mode(ws):
    rootfs_names = {p.name for p in layer_files(ws, "oci_hermetic")}
    assert "oci_hermetic.layers.interpreter_layer.tar.gz" in rootfs_names
    with tarfile.open(layer_files(ws, "oci_hermetic")[0]) as tar:
        names = tar.getnames()
    assert "app/hello.runfiles/python_3_11_x86_64-unknown-linux-gnu/bin/python3" in names
    with tarfile.open(layer_files(ws, "oci_system")[0]) as tar:
        assert not [n for n in tar.getnames() if n.endswith("/bin/python3")]


def test_oci_tarball_is_docker_loadable(ws):
    ws.run("build", "//images:oci_hermetic.tarball")
    tar = ws.output("//images:oci_hermetic.tarball")
    info = runner.skopeo_json("inspect", f"docker-archive:{tar}")
    assert info["Architecture"] == "amd64"
    assert runner.archive_tags(tar) == ["images/oci_hermetic:latest"]


def test_py3_image_implicit_targets(ws):
    ws.run("build", "//images:hello_py3.binary", "//images:hello_py3.tar",
           "//images:hello_py3.digest",
           "//images:hello_py3.json", "//images:hello_py3.json.sha256")
    digest = ws.output("//images:hello_py3.digest").read_text()
    assert digest == runner.manifest_digest(layout(ws, "hello_py3"))
    assert runner.archive_tags(ws.output("//images:hello_py3.tar")) == ["bazel/images:hello_py3"]


@pytest.mark.parametrize("name", ["oci_arm64", "docker_arm64"])
def test_arm64_build_records_arm64_and_selects_arm64_dep(ws, name):
    assert runner.config(layout(ws, name))["architecture"] == "arm64"
    (app_layer,) = layer_files(ws, name, ["app"])
    names = member_names(app_layer)
    assert "app/hello.runfiles/image_ws/arch/arm64.txt" in names
    assert "app/hello.runfiles/image_ws/arch/x86_64.txt" not in names
    (app_layer,) = layer_files(ws, "oci_hermetic", ["app"])
    with tarfile.open(app_layer) as tar:
        assert "app/hello.runfiles/image_ws/arch/x86_64.txt" in tar.getnames()


@pytest.mark.parametrize(("name", "arch", "cpu_file"), [
    ("oci_static_arm64", "arm64", "arm64.txt"),
    ("oci_static_x86_64", "amd64", "x86_64.txt"),
])
def test_two_platform_base_follows_the_image_platform(ws, name, arch, cpu_file):
    """@static_base is pulled for linux/amd64 and linux/arm64/v8; rules_oci's alias
    selects on the target cpu, so the whole image (not only the binary) must be
    built for `platform` to get the right variant. oci_image takes the config's
    architecture from the base alone, so it names the variant that was used."""
    cfg = runner.config(layout(ws, name))
    assert cfg["architecture"] == arch
    assert cfg["os"] == "linux"
    (app_layer,) = layer_files(ws, name, ["app"])
    with tarfile.open(app_layer) as tar:
        assert f"app/hello.runfiles/image_ws/arch/{cpu_file}" in tar.getnames()


# py_image_index "oci_index": OCI architecture -> (rules_python cpu, ELF e_machine,
# the //arch file its select() picks, platform the index must record).
INDEX = {
    "amd64": ("x86_64", 0x3E, "x86_64.txt", {"os": "linux", "architecture": "amd64"}),
    "arm64": ("aarch64", 0xB7, "arm64.txt",
              {"os": "linux", "architecture": "arm64", "variant": "v8"}),
}


def elf_machine(data: bytes) -> int:
    """e_machine of an ELF file (little endian): 0x3E x86-64, 0xB7 AArch64."""
    assert data[:4] == b"\x7fELF", data[:4]
    return int.from_bytes(data[18:20], "little")


def test_image_index_lists_one_image_per_platform(ws):
    """py_image_index: one oci_image_index, its manifests in `platforms` order, each
    the manifest of `:oci_index.<arch>` with that platform; `.digest` names it."""
    ws.run("build", "//images:oci_index", "//images:oci_index.digest")
    out = ws.output("//images:oci_index")
    (top,) = json.loads((out / "index.json").read_text())["manifests"]
    assert top["mediaType"] == "application/vnd.oci.image.index.v1+json"
    blob = (out / "blobs" / "sha256" / top["digest"].split(":", 1)[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == top["digest"]
    assert ws.output("//images:oci_index.digest").read_text().strip() == top["digest"]
    manifests = json.loads(blob)["manifests"]
    assert [m["platform"] for m in manifests] == [INDEX[a][3] for a in ("amd64", "arm64")]
    for m, arch in zip(manifests, ("amd64", "arm64")):
        assert m["digest"] == runner.manifest_digest(layout(ws, f"oci_index.{arch}"))
        manifest = json.loads((out / "blobs" / "sha256" / m["digest"][7:]).read_bytes())
        config = json.loads((out / "blobs" / "sha256" / manifest["config"]["digest"][7:])
                            .read_bytes())
        assert config["architecture"] == arch
        for layer in manifest["layers"]:  # every blob is in the index's layout
            assert (out / "blobs" / "sha256" / layer["digest"][7:]).stat().st_size == layer["size"]


@pytest.mark.parametrize("arch", sorted(INDEX))
def test_index_images_are_built_whole_for_their_platform(ws, arch):
    """Each image of the index has its platform's interpreter, MarkupSafe wheel (its
    compiled module checked by ELF machine), select()ed file and base variant."""
    cpu, machine, arch_file, _ = INDEX[arch]
    other_cpu = next(c for a, (c, *_) in INDEX.items() if a != arch)
    name = f"oci_index.{arch}"
    cfg = runner.config(layout(ws, name))
    assert cfg["architecture"] == arch
    interp, packages, app = layer_files(ws, name, ["interpreter", "packages", "app"])
    prefix = "app/hello.runfiles/"
    assert cfg["config"]["Entrypoint"] == [
        f"/{prefix}python_3_11_{cpu}-unknown-linux-gnu/bin/python3", "/app/hello"]
    with tarfile.open(interp) as tar:
        python = tar.extractfile(f"{prefix}python_3_11_{cpu}-unknown-linux-gnu/bin/python3")
        assert elf_machine(python.read(64)) == machine
        assert not [n for n in tar.getnames() if other_cpu in n]
    with tarfile.open(packages) as tar:
        (so,) = [m for m in tar.getmembers() if m.name.endswith(".so") and "markupsafe" in m.name]
        assert so.name == (f"{prefix}pip_deps_markupsafe_{cpu}/site-packages/markupsafe/"
                           f"_speedups.cpython-311-{cpu}-linux-gnu.so")
        assert elf_machine(tar.extractfile(so).read(64)) == machine
    assert f"{prefix}image_ws/arch/{arch_file}" in member_names(app)
    # The base layer is the cc-debian12 fixture of this architecture (oci_pull's alias).
    fixture = build.CACHE / "images" / f"cc-debian12-{arch}"
    assert cfg["rootfs"]["diff_ids"][0] == runner.config(fixture)["rootfs"]["diff_ids"][0]


@pytest.mark.parametrize("arch", sorted(INDEX))
def test_index_images_run(ws, request, arch):
    """Both images answer in bwrap; the arm64 one through qemu-aarch64 (binfmt_misc)."""
    if arch == "arm64":
        request.getfixturevalue("qemu_aarch64")
    answer = runner.run_http(layout(ws, f"oci_index.{arch}"), timeout=120)
    assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log


def test_docker_image_never_passes_the_base_cmd_to_the_app(ws):
    """rules_docker keeps the base's Cmd when only `entrypoint` is set
    (container/image.bzl v0.25.0); docker.bzl's py_image sets cmd = []."""
    assert runner.config(layout(ws, "base_with_cmd"))["config"]["Cmd"] == ["--from-base"]
    cfg = runner.config(layout(ws, "docker_on_cmd_base"))["config"]
    assert cfg["Entrypoint"] == ["/app/hello"]
    assert not cfg.get("Cmd"), cfg
    answer = runner.run_http(layout(ws, "docker_on_cmd_base"))  # Entrypoint + Cmd, as docker does
    assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log


def test_py3_image_uses_rules_docker_container_toolchain(ws):
    """rules_docker builds py3_image's binary for the run_in_container execution
    platform, where its repositories() registers a /usr/bin/python3 toolchain
    (python3/image.bzl, toolchains/BUILD, v0.25.0). image_ws calls that
    repositories() before registering its own toolchains, so hello_py3 runs the
    base's /usr/bin/python3, while py_image on the same workspace ships the
    hermetic interpreter."""
    (interp, app) = layer_files(ws, "hello_py3", ["interpreter", "app"])
    assert not [n for n in member_names(interp) if n.endswith("/bin/python3")]
    with tarfile.open(app) as tar:
        member = next(m for m in tar if m.name.lstrip("./") == "app/images/hello_py3.binary")
        assert tar.extractfile(member).readline() == b"#!/usr/bin/python3\n"
    (interp,) = layer_files(ws, "docker_hermetic", ["interpreter"])
    assert [n for n in member_names(interp) if n.endswith("/bin/python3")]


def repos_in(path: Path) -> set[str]:
    """The runfiles repositories a layer holds files of."""
    prefix = "app/hello.runfiles/"
    return {n[len(prefix):].split("/")[0] for n in member_names(path)
            if n.startswith(prefix) and n.count("/") > 2}


def test_dependency_layer_groups_take_the_closure_through_a_hub_alias(ws):
    """`web: ["@pip_deps//werkzeug:pkg"]` (an alias in a pip hub) takes werkzeug and
    what it depends on (markupsafe); the regex group after it takes flask; the
    rest stays in packages; every group is in image order and runs."""
    packages, web, flask, app = layer_files(ws, "oci_dep_groups",
                                            ["packages", "web", "flask", "app"])
    # markupsafe has compiled code: its hub alias (@pip_deps_markupsafe) picked
    # the wheel repository of the image's cpu.
    assert repos_in(web) == {"pip_deps_werkzeug", "pip_deps_markupsafe_x86_64"}
    assert repos_in(flask) == {"pip_deps_flask"}
    assert "pip_deps_werkzeug" not in repos_in(packages)
    assert "pip_deps_markupsafe_x86_64" not in repos_in(packages)
    assert {"pip_deps_jinja2", "pip_deps_click"} <= repos_in(packages)
    cfg = runner.config(layout(ws, "oci_dep_groups"))
    ours = [runner.diff_id(f) for f in layer_files(
        ws, "oci_dep_groups", ["interpreter", "packages", "web", "flask", "app"])]
    assert cfg["rootfs"]["diff_ids"][1:] == ours
    answer = runner.run_http(layout(ws, "oci_dep_groups"))
    assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log


def test_py3_image_layers_are_dependency_closures(ws):
    """rules_docker's semantics: a `layers` entry's layer holds what that dependency
    brings into the binary's runfiles, werkzeug and its markupsafe."""
    (layer0,) = layer_files(ws, "hello_py3", ["layer0"])
    prefix = "app/images/hello_py3.binary.runfiles/"
    repos = {n[len(prefix):].split("/")[0] for n in member_names(layer0)
             if n.startswith(prefix) and n.count("/") > 3}
    assert repos == {"pip_deps_werkzeug", "pip_deps_markupsafe_x86_64"}


def test_app_change_only_changes_app_layer(ws):
    names = ["oci_hermetic", "docker_hermetic", "hello_py3"]
    before = {n: [runner.diff_id(f) for f in layer_files(ws, n)] for n in names}
    digests = {n: runner.manifest(layout(ws, n))["layers"] for n in names}
    src = ws.workspace / "app" / "hello.py"
    original = src.read_text()
    try:
        src.write_text(original.replace('"Hello, World!"', '"Hello, Layers!"'))
        ws.run("build", *[f"//images:{n}" for n in names])
        for n in names:
            after = [runner.diff_id(f) for f in layer_files(ws, n)]
            assert after[:-1] == before[n][:-1], n
            assert after[-1] != before[n][-1], n
            new = [x["digest"] for x in runner.manifest(layout(ws, n))["layers"]]
            old = [x["digest"] for x in digests[n]]
            app = len(new) - 1 - own_layers(n)  # the app layer's index in the manifest
            assert new[:app] + new[app + 1:] == old[:app] + old[app + 1:], n
            assert new[app] != old[app], n
    finally:
        src.write_text(original)
        ws.run("build", *[f"//images:{n}" for n in names])


def test_fresh_output_base_gives_identical_digests(ws, fixtures, tmp_path):
    names = ["oci_hermetic", "docker_hermetic", "hello_py3"]
    first = {n: runner.manifest_digest(layout(ws, n)) for n in names}
    other = bazel_env.Bazel(ws.workspace, tmp_path / "fresh_output_base", fixtures)
    try:
        other.run("build", *[f"//images:{n}" for n in names])
        second = {n: runner.manifest_digest(layout(other, n)) for n in names}
    finally:
        other.shutdown()
        ws.run("build", *[f"//images:{n}" for n in names])  # bazel-bin points back at ours
    assert first == second


BAD = {
    "not_executable": (
        'py_library(name = "lib", srcs = ["//app:hello.py"])\n'
        'py_image(name = "image", base = "@cc_base", binary = ":lib")\n',
        "binary: //bad/not_executable:lib is not executable",
    ),
    "bad_group_name": (
        'py_image(name = "image", base = "@cc_base", binary = "//app:hello", '
        'layer_groups = {"my-torch": "pip_deps_torch/"})\n',
        "layer_groups: group name \"my-torch\" is not a simple identifier",
    ),
    "reserved_group_name": (
        'py_image(name = "image", base = "@cc_base", binary = "//app:hello", '
        'layer_groups = {"app": "pip_deps_torch/"})\n',
        "layer_groups: group name \"app\" is reserved",
    ),
    "bad_regex": (
        'py_image(name = "image", base = "@cc_base", binary = "//app:hello", '
        'layer_groups = {"torch": "pip_deps_torch/("})\n',
        "layer_groups: the regex of group \"torch\", \"pip_deps_torch/(\", is not a valid",
    ),
    "base_and_architecture": (
        'py_image(name = "image", base = "@cc_base", binary = "//app:hello", '
        'architecture = "arm64")\n',
        "`architecture` cannot be combined with `base`",
    ),
    "docker_attr_on_oci": (
        'py_image(name = "image", base = "@cc_base", binary = "//app:hello", ports = ["5000"])\n',
        "`ports` is not an attribute here; use `exposed_ports`",
    ),
    "docker_zstd": (
        'docker_py_image(name = "image", binary = "//app:hello", compress = "zstd")\n',
        "compress = \"zstd\"; rules_docker's container_layer accepts only .tar, .tar.gz, "
        ".tgz and .tar.xz layers; use compress = \"none\"",
    ),
    "index_no_platforms": (
        'py_image_index(name = "image", binary = "//app:hello", platforms = [])\n',
        "py_image_index image (rules_oci): `platforms` is empty",
    ),
    "index_same_arch_twice": (
        'py_image_index(name = "image", binary = "//app:hello", platforms = '
        '["//:linux_arm64_system_python", "@pycross_image//bazel/platforms:linux_arm64"])\n',
        "are both arm64; an index holds one image per architecture",
    ),
    "index_unknown_platform": (
        'py_image_index(name = "image", binary = "//app:hello", platforms = ["//:my_board"])\n',
        "cannot tell the architecture of platform //:my_board",
    ),
    "index_docker_attr": (
        'py_image_index(name = "image", binary = "//app:hello", ports = ["5000"])\n',
        "`ports` is not an attribute here; use `exposed_ports`",
    ),
    "index_per_platform_attr": (
        'py_image_index(name = "image", binary = "//app:hello", architecture = "arm64")\n',
        "py_image_index image (rules_oci): `architecture` is set for each platform from "
        "`platforms`; drop it",
    ),
    # @cc_base is pulled for linux/amd64 only: rules_oci's alias has no arm64
    # image. The error is rules_oci's no_match_error on the base's alias: it
    # names the base (its repository) and its platforms, and Bazel names our image.
    "platform_not_in_base": (
        'py_image(name = "image", base = "@cc_base", binary = "//app:hello", '
        'platform = "//:linux_arm64_system_python")\n',
        "Analysis of target '//bad/platform_not_in_base:image",
    ),
}
# More of the message than one substring: (case -> further substrings).
BAD_ALSO = {
    "platform_not_in_base": ["external/cc_base/BUILD.bazel",
                             "could not find an image matching the target platform",
                             'Available platforms are "linux/amd64"'],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_fails_with_a_message(ws, case):
    body, message = BAD[case]
    pkg = ws.workspace / "bad" / case
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "BUILD.bazel").write_text(
        'load("@pycross_image//bazel/rules:docker.bzl", docker_py_image = "py_image")\n'
        'load("@pycross_image//bazel/rules:oci.bzl", "py_image", "py_image_index")\n'
        'load("@rules_python//python:py_library.bzl", "py_library")\n\n' + body)
    proc = ws.run("build", "--nobuild", f"//bad/{case}:all", check=False)
    assert proc.returncode != 0
    for part in [message, *BAD_ALSO.get(case, [])]:
        assert part in proc.stderr, proc.stderr[-3000:]
