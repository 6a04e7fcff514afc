"""The rules_oci test double is exactly as strict as upstream rules_oci v2.3.2.

Real Bazel on a tiny workspace written here, against tests/doubles/rules_oci.
Each expectation names the upstream file (bazel-contrib/rules_oci, tag v2.3.2)
whose behaviour it pins: oci/pull.bzl, oci/private/pull.bzl,
oci/private/util.bzl, oci/defs.bzl, oci/private/{image,image_index,load,push}.bzl.
One workspace and one output base for the whole module; misuses that fail in
WORKSPACE or in analysis are checked with `query` / `build --nobuild`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest

from tests.images import bazel_env, build

pytestmark = [pytest.mark.bazel]

X86 = "--platforms=@pycross_image//bazel/platforms:linux_x86_64"
ARM = "--platforms=@pycross_image//bazel/platforms:linux_arm64"
DIGEST = "sha256:" + "ab" * 32

HEAD = """\
workspace(name = "doubles_oci")

# Declared so WORKSPACE can load from them; overridden by the test's flags.
local_repository(name = "pycross_image", path = "/nonexistent")

local_repository(name = "rules_oci", path = "/nonexistent")

load("@rules_oci//oci:dependencies.bzl", "rules_oci_dependencies")

rules_oci_dependencies()

load("@rules_oci//oci:pull.bzl", "oci_pull")
"""

# Pulls that are all valid for the oci_pull macro; some fail when fetched.
PULLS = f"""
oci_pull(name = "tiny", image = "example.test/tiny:1", platforms = ["linux/amd64", "linux/arm64"])
oci_pull(name = "py_one", image = "python3-debian12:latest", platforms = ["linux/amd64"])
oci_pull(name = "hub_bare", image = "python:3.11")
oci_pull(name = "hub_split", registry = "index.docker.io", repository = "python", tag = "3.11")
oci_pull(name = "hub_docker_io", image = "docker.io/python:3.11")
oci_pull(name = "hub_library", image = "docker.io/library/python@{DIGEST}")
oci_pull(name = "port", image = "http://localhost:5000/python:3.11")
oci_pull(name = "both", image = "python3-debian12:latest", digest = "{DIGEST}")
oci_pull(name = "both_sugar", image = "python3-debian12:latest@{DIGEST}", reproducible = True)
oci_pull(name = "tiny_single", image = "example.test/tiny:1")
oci_pull(name = "py_wrong_arch", image = "python3-debian12:latest", platforms = ["linux/arm64"])
oci_pull(name = "tiny_v7", image = "example.test/tiny:1",
         platforms = ["linux/amd64", "linux/arm/v7"])
"""

BUILD = """\
load("@rules_oci//oci:defs.bzl", "oci_image", "oci_image_index", "oci_load")

package(default_visibility = ["//visibility:public"])

oci_image(name = "img", base = "@tiny")

oci_image_index(
    name = "index",
    images = [":img"],
    platforms = [
        "@pycross_image//bazel/platforms:linux_x86_64",
        "@pycross_image//bazel/platforms:linux_arm64",
    ],
    annotations = {"org.example": "yes"},
)

oci_load(name = "load", image = ":img", repo_tags = ["tiny:latest"])
"""

# package -> (BUILD content, upstream message)
BAD_BUILDS = {
    "load_no_tags": (
        'oci_load(name = "x", image = "//:img")',
        "missing value for mandatory attribute 'repo_tags'",
    ),
    "load_tags_not_txt": (
        'oci_load(name = "x", image = "//:img", repo_tags = "//:BUILD.bazel")',
        "expected .txt",
    ),
    "index_two_images": (
        'oci_image_index(name = "x", images = ["//:img", "//:img2"],'
        ' platforms = ["@pycross_image//bazel/platforms:linux_x86_64"])',
        "platforms can only be specified when there is exactly one image in the images attribute.",
    ),
    "push_tagged_repository": (
        'oci_push(name = "x", image = "//:img", repository = "example.test/app:1")',
        "`repository` attribute should not contain digest or tag. got: example.test/app:1",
    ),
    "image_unknown_attr": (
        'oci_image(name = "x", base = "//:img", ports = ["80"])',
        "no such attribute 'ports'",
    ),
    "image_os_with_base": (
        'oci_image(name = "x", base = "//:img", os = "linux")',
        "'os', 'architecture' and 'variant' come from the image provided by 'base' and cannot be"
        " overridden.",
    ),
    "image_no_base_no_os": (
        'oci_image(name = "x")',
        "'os' and 'architecture' are mandatory when 'base' is unspecified.",
    ),
}


def _oci_layout(path, arch: str) -> None:
    """A one-layer OCI layout for linux/<arch> (stands for a remote image)."""
    def blob(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "blobs" / "sha256" / digest).write_bytes(data)
        return "sha256:" + digest, len(data)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"etc/{arch}")
        info.size = len(arch)
        tar.addfile(info, io.BytesIO(arch.encode()))
    layer, layer_size = blob(buf.getvalue())
    config, config_size = blob(json.dumps({
        "architecture": arch, "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer]},
    }).encode())
    manifest, manifest_size = blob(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer, "size": layer_size}],
    }).encode())
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest,
        "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    fixtures = build.build_all()
    root = tmp_path_factory.mktemp("doubles_oci")
    images = root / "images"
    images.mkdir()
    for layout in sorted(os.listdir(fixtures["images"])):
        if layout == "python3-debian12-arm64":
            continue  # python3-debian12 stays a single-manifest image here (py_wrong_arch)
        (images / layout).symlink_to(os.path.join(fixtures["images"], layout))
    for arch in ("amd64", "arm64"):
        _oci_layout(images / f"tiny-{arch}", arch)
    work = root / "ws"
    work.mkdir()
    (work / "WORKSPACE").write_text(HEAD + PULLS)
    (work / "BUILD.bazel").write_text(BUILD + 'oci_image(name = "img2", base = "@tiny")\n')
    for pkg, (body, _) in BAD_BUILDS.items():
        (work / pkg).mkdir()
        (work / pkg / "BUILD.bazel").write_text(
            'load("@rules_oci//oci:defs.bzl", "oci_image", "oci_image_index", "oci_load",'
            ' "oci_push")\n' + body + "\n")
    bazel = bazel_env.Bazel(work, root / "output_base", dict(fixtures, images=str(images)))
    yield bazel
    bazel.shutdown()


def _fails(proc, message: str) -> None:
    assert proc.returncode != 0, proc.stderr[-3000:]
    assert message in proc.stderr, proc.stderr[-3000:]


# oci/pull.bzl: the checks of the oci_pull macro, in upstream's order and words.
PULL_MISUSES = {
    "registry_without_repository": (
        'oci_pull(name = "bad", registry = "example.test", tag = "1")',
        "When one of repository or registry is set, the other must be as well",
    ),
    "repository_without_registry": (
        'oci_pull(name = "bad", repository = "tiny", tag = "1")',
        "When one of repository or registry is set, the other must be as well",
    ),
    "image_and_registry": (
        'oci_pull(name = "bad", image = "python:1", registry = "example.test",'
        ' repository = "tiny")',
        "Only one of 'image' or '{registry, repository}' may be set",
    ),
    "nothing": (
        'oci_pull(name = "bad", tag = "1")',
        "One of 'image' or '{registry, repository}' must be set",
    ),
    "no_tag_no_digest": (
        'oci_pull(name = "bad", image = "python3-debian12")',
        "At least one of 'digest' or 'tag' must be set",
    ),
    "digest_and_tag_not_reproducible": (
        f'oci_pull(name = "bad", image = "python3-debian12:latest", digest = "{DIGEST}",'
        ' reproducible = False)',
        "Only one of 'digest' or 'tag' may be set when 'reproducible' is False.",
    ),
    "sugar_digest_and_tag_not_reproducible": (
        f'oci_pull(name = "bad", image = "python3-debian12:latest@{DIGEST}", reproducible = False)',
        "Only one of 'digest' or 'tag' may be set when 'reproducible' is False.",
    ),
    "only_unknown_platforms": (
        'oci_pull(name = "bad", image = "python:1", platforms = ["windows/amd64"])',
        'None of the provided platforms (["windows/amd64"]) are supported.'
        ' Supported platforms: ["linux/amd64"',
    ),
}


@pytest.mark.parametrize("case", sorted(PULL_MISUSES))
def test_oci_pull_misuse_fails_like_upstream(ws, case):
    call, message = PULL_MISUSES[case]
    (ws.workspace / "WORKSPACE").write_text(HEAD + PULLS + call + "\n")
    try:
        _fails(ws.run("build", "--nobuild", "//:all", check=False), message)
    finally:
        (ws.workspace / "WORKSPACE").write_text(HEAD + PULLS)


def _external(ws, repo: str, name: str) -> str:
    ws.run("build", "--nobuild", f"@{repo}//:all")
    return (ws.output_base / "external" / repo / name).read_text()


# oci/private/util.bzl _parse_image: only a name without "/" is a library image.
@pytest.mark.parametrize(("repo", "reference"), [
    ("hub_bare", "index.docker.io/library/python:3.11"),
    ("hub_split", "index.docker.io/python:3.11"),
    ("hub_docker_io", "index.docker.io/python:3.11"),
    ("hub_library", f"index.docker.io/library/python@{DIGEST}"),
    ("port", "localhost:5000/python:3.11"),
    # digest and tag together: allowed, the digest is what is fetched (oci/pull.bzl).
    ("both", f"index.docker.io/library/python3-debian12@{DIGEST}"),
    ("both_sugar", f"index.docker.io/library/python3-debian12@{DIGEST}"),
])
def test_resolved_reference(ws, repo, reference):
    assert _external(ws, repo, "reference.txt") == reference + "\n"


def test_repositories_named_like_upstream(ws):
    """<name>_<os>_<arch>[_<variant>] per platform, <name>_single without (oci/pull.bzl)."""
    for repo, target in [("tiny_linux_amd64", "tiny_linux_amd64"),
                         ("tiny_linux_arm64", "tiny_linux_arm64"),
                         ("hub_bare_single", "hub_bare_single"),
                         ("tiny", "tiny"), ("tiny", "digest")]:
        out = ws.run("cquery", f"@{repo}//:{target}").stdout
        assert f"@{repo}//:{target} " in out
    build = _external(ws, "hub_bare", "BUILD.bazel")
    assert 'actual = "@hub_bare_single//:hub_bare_single"' in build
    assert "select(" not in build
    # One platform still makes a select() (oci/private/pull.bzl oci_alias).
    one = _external(ws, "py_one", "BUILD.bazel")
    # Keyed on @platforms//cpu:x86_64 (through a config_setting on Bazel < 5).
    assert '"@platforms//cpu:x86_64' in one
    assert ': "@py_one_linux_amd64//:py_one_linux_amd64",' in one
    assert _external(ws, "py_one", "digest.txt").startswith("sha256:")


@pytest.mark.parametrize(("flag", "repo"), [(X86, "tiny_linux_amd64"), (ARM, "tiny_linux_arm64")])
def test_two_platform_pull_selects_by_target_cpu(ws, flag, repo):
    out = ws.run("cquery", "deps(@tiny//:tiny, 1)", flag).stdout
    assert f"@{repo}//:{repo}" in out
    other = ({"tiny_linux_amd64", "tiny_linux_arm64"} - {repo}).pop()
    assert other not in out


def test_one_platform_pull_on_other_cpu_fails_with_no_match_error(ws):
    proc = ws.run("build", "--nobuild", "@py_one//:py_one", ARM, check=False)
    _fails(proc, "could not find an image matching the target platform.")
    assert 'Available platforms are "linux/amd64"' in proc.stderr
    ws.run("build", "--nobuild", "@py_one//:py_one", X86)


@pytest.mark.parametrize(("target", "message"), [
    # oci/private/pull.bzl: an index without `platforms`.
    ("@tiny_single_single//:all",
     "example.test/tiny is a multi-architecture image, so attribute 'platforms' is required."),
    # oci/private/util.bzl validate_image_platform on a single-manifest image.
    ("@py_wrong_arch_linux_arm64//:all",
     "Expected image index.docker.io/library/python3-debian12 to have architecture 'arm64',"
     " got: 'amd64'"),
    # oci/private/pull.bzl: no manifest of the index for the platform.
    ("@tiny_v7_linux_arm_v7//:all",
     "No matching manifest found in image example.test/tiny for platform linux/arm/v7"),
])
def test_fetch_failures_like_upstream(ws, target, message):
    _fails(ws.run("build", "--nobuild", target, check=False), message)


@pytest.mark.parametrize("pkg", sorted(BAD_BUILDS))
def test_rule_misuse_fails_like_upstream(ws, pkg):
    _fails(ws.run("build", "--nobuild", f"//{pkg}:x", check=False), BAD_BUILDS[pkg][1])


def test_oci_load_writes_repo_tags_file(ws):
    """oci/defs.bzl oci_load: a list becomes <name>.tags.txt; tarball only in output group."""
    ws.run("build", "//:load_write_tags")
    assert (ws.workspace / "bazel-bin" / "load.tags.txt").read_text() == "tiny:latest\n"
    out = ws.run("cquery", "//:load", "--output=starlark",
                 "--starlark:expr=[f.basename for f in target.files.to_list()]").stdout
    assert "tarball.tar" not in out


def test_image_index_transitions_each_platform(ws):
    """oci/private/image_index.bzl: :img built once per platform; one index, two manifests."""
    ws.run("build", "//:index", "//:index.digest")
    out = ws.workspace / "bazel-bin" / "index"
    index = json.loads((out / "index.json").read_text())
    (top,) = index["manifests"]
    assert top["mediaType"] == "application/vnd.oci.image.index.v1+json"
    blob = (out / "blobs" / "sha256" / top["digest"].split(":", 1)[1]).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == top["digest"].split(":", 1)[1]
    manifest_list = json.loads(blob)
    assert manifest_list["annotations"] == {"org.example": "yes"}
    platforms = sorted((m["platform"]["os"], m["platform"]["architecture"])
                       for m in manifest_list["manifests"])
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]
    def read(digest: str) -> dict:
        return json.loads((out / "blobs" / "sha256" / digest.split(":", 1)[1]).read_text())

    for m in manifest_list["manifests"]:
        config = read(read(m["digest"])["config"]["digest"])
        assert config["architecture"] == m["platform"]["architecture"]
    assert (ws.workspace / "bazel-bin" / "index.json.sha256").read_text() == top["digest"] + "\n"


def _tar_bytes(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_layers_go_in_as_they_are_and_load_streams_them(ws, tmp_path):
    """oci/private/image.bzl + descriptor.sh: each layer blob is the tar as given (its digest,
    its compression in the media type, diff_id of the uncompressed bytes); load.bzl +
    tarball.sh.tpl: `bazel run` streams config, layers (`blobs/sha256/<hex>.tar.gz`) and
    manifest.json to the loader, and the `tarball` output group holds the same bytes."""
    pkg = ws.workspace / "layers_load"
    pkg.mkdir(exist_ok=True)
    plain = _tar_bytes("app/plain.txt", b"plain\n")
    inner = _tar_bytes("app/zipped.txt", b"zipped\n" * 1000)
    zipped = gzip.compress(inner, mtime=0)
    (pkg / "plain.tar").write_bytes(plain)
    (pkg / "zipped.tar.gz").write_bytes(zipped)
    (pkg / "capture.sh").write_text('#!/bin/sh\n[ "$1 $2" = "load --input" ] || exit 3\n'
                                    'cat "$3" > "$CAPTURE_OUT"\n')
    (pkg / "capture.sh").chmod(0o755)
    (pkg / "BUILD.bazel").write_text(
        'load("@rules_oci//oci:defs.bzl", "oci_image", "oci_load")\n\n'
        'oci_image(name = "img", base = "//:img", tars = ["zipped.tar.gz", "plain.tar"])\n\n'
        'oci_load(name = "load", image = ":img", repo_tags = ["tiny:layers"],'
        ' loader = "capture.sh")\n')
    ws.run("build", "//layers_load:img", "//layers_load:load")
    layout = ws.workspace / "bazel-bin" / "layers_load" / "img"
    index = json.loads((layout / "index.json").read_text())
    blob = layout / "blobs" / "sha256"
    manifest = json.loads((blob / index["manifests"][0]["digest"].split(":")[1]).read_bytes())
    config = json.loads((blob / manifest["config"]["digest"].split(":")[1]).read_bytes())
    assert manifest["layers"][-2:] == [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _sha(zipped),
         "size": len(zipped)},
        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _sha(plain),
         "size": len(plain)},
    ]
    assert config["rootfs"]["diff_ids"][-2:] == [_sha(inner), _sha(plain)]
    assert (blob / _sha(zipped).split(":")[1]).read_bytes() == zipped

    # what `bazel run` does: the script, next to its runfiles tree
    captured = tmp_path / "stream.tar"
    script = ws.workspace / "bazel-bin" / "layers_load" / "load.sh"
    subprocess.run([str(script)], check=True, cwd=ws.workspace,
                   env=dict(os.environ, CAPTURE_OUT=str(captured)))
    with tarfile.open(captured) as tar:
        names = tar.getnames()
        entries = json.load(tar.extractfile("manifest.json"))
        members = {n: tar.extractfile(n).read() for n in names}
    layers = ["blobs/" + d["digest"].replace(":", "/") + ".tar.gz" for d in manifest["layers"]]
    config_path = "blobs/" + manifest["config"]["digest"].replace(":", "/")
    assert names == [config_path, *layers, "manifest.json"]
    assert entries == [{"Config": config_path, "RepoTags": ["tiny:layers"], "Layers": layers}]
    assert members[layers[-2]] == zipped and members[layers[-1]] == plain

    ws.run("build", "//layers_load:load", "--output_groups=tarball")
    tarball = ws.workspace / "bazel-bin" / "layers_load" / "load" / "tarball.tar"
    # the same archive; bsdtar pads a stream (not a file) to whole 10 KiB records
    file_bytes, stream_bytes = tarball.read_bytes(), captured.read_bytes()
    assert stream_bytes[:len(file_bytes)] == file_bytes
    assert stream_bytes[len(file_bytes):] == bytes(len(stream_bytes) - len(file_bytes))
