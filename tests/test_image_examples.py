"""example/oci and example/docker build (`bazel build //...`) under the test doubles,
and the example images answer `GET /` when run in bwrap; example/oci's
`:image_index` holds an amd64 and an arm64 image, and both run (arm64 through
qemu-aarch64 in binfmt_misc)."""

from __future__ import annotations

import json

import pytest

from tests.images import bazel_env, build, runner

pytestmark = [pytest.mark.bazel, pytest.mark.image]


@pytest.fixture(scope="module")
def fixtures():
    missing = runner.have_tools()
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    return build.build_all()


@pytest.fixture(scope="module")
def example_oci(fixtures, tmp_path_factory):
    bazel = bazel_env.Bazel(build.REPO / "example" / "oci",
                            tmp_path_factory.mktemp("example_oci") / "output_base", fixtures)
    try:
        bazel.run("build", "//...")
        yield bazel
    finally:
        bazel.shutdown()


def test_oci_example_builds_and_runs(example_oci):
    answer = runner.run_http(example_oci.output("//:image"), env={"HOST": "127.0.0.1"})
    assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log


def test_oci_example_image_index_has_both_architectures(example_oci):
    """`:image_index` is an OCI image index whose manifests are `:image_index.amd64`
    and `:image_index.arm64`, with the platforms of @python_base's two variants."""
    out = example_oci.output("//:image_index")
    (top,) = json.loads((out / "index.json").read_text())["manifests"]
    blob = json.loads((out / "blobs" / "sha256" / top["digest"].split(":", 1)[1]).read_bytes())
    assert [m["platform"] for m in blob["manifests"]] == [
        {"os": "linux", "architecture": "amd64"},
        {"os": "linux", "architecture": "arm64", "variant": "v8"},
    ]
    for m, arch in zip(blob["manifests"], ("amd64", "arm64")):
        image = example_oci.output(f"//:image_index.{arch}")
        assert m["digest"] == runner.manifest_digest(image)
        assert runner.config(image)["architecture"] == arch


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_oci_example_index_images_run(example_oci, request, arch):
    if arch == "arm64":
        request.getfixturevalue("qemu_aarch64")
    answer = runner.run_http(example_oci.output(f"//:image_index.{arch}"),
                             env={"HOST": "127.0.0.1"}, timeout=120)
    assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log


def test_docker_example_builds_and_runs(fixtures, tmp_path):
    bazel = bazel_env.Bazel(build.REPO / "example" / "docker", tmp_path / "output_base", fixtures)
    try:
        bazel.run("build", "//...")
        for label in ("//:image", "//:hello_image"):
            answer = runner.run_http(bazel.output(label, group="layout"),
                                     env={"HOST": "127.0.0.1"})
            assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log
    finally:
        bazel.shutdown()
