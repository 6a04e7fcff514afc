"""A `container_push` migrated by `migrate` pushes for real.

A copy of example/docker gets a rules_docker `container_push` of its
py3_image, aimed at a real registry (Debian's docker-registry on a loopback
port; the address is written by this test, never stored in the repository).
`migrate --workspace` turns both into oci.bzl `py_image` + rules_oci
`oci_push`; Bazel builds them on the rules_oci double and `bazel run //:push`
pushes. The registry must then serve, under the container_push's tag, the
manifest digest Bazel wrote for the migrated image.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

import migrate.cli
from tests.images import bazel_env, build, runner
from tests.support.registry import running_registry

pytestmark = [pytest.mark.bazel, pytest.mark.image]

MIGRATE = ["--workspace", "--default-base-image", "localhost:5000/distroless/python3-debian12"]


def container_push(registry: str) -> str:
    return f'''
container_push(
    name = "push",
    format = "Docker",
    image = ":hello_image",
    registry = "{registry}",
    repository = "pycross/hello",
    tag = "v1",
)
'''


def test_migrated_container_push_pushes_bazels_digest(tmp_path, monkeypatch, capsys):
    missing = runner.have_tools() + [t for t in ("docker-registry",) if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    fixtures = build.build_all()
    ws = tmp_path / "ws"
    shutil.copytree(build.REPO / "example" / "docker", ws,
                    ignore=shutil.ignore_patterns("bazel-*"))
    with running_registry() as registry:
        build_file = ws / "BUILD.bazel"
        build_file.write_text(
            'load("@io_bazel_rules_docker//container:container.bzl", "container_push")\n'
            + build_file.read_text() + container_push(registry.address))
        monkeypatch.chdir(ws)
        assert migrate.cli.main([".", *MIGRATE]) == 0, capsys.readouterr().out
        migrated = build_file.read_text()
        assert "container_push" not in migrated
        assert f'repository = "{registry.address}/pycross/hello",' in migrated
        assert 'remote_tags = ["v1"],' in migrated

        bazel = bazel_env.Bazel(ws, tmp_path / "output_base", fixtures)
        try:
            bazel.run("build", "//:hello_image.digest", "//:push")
            expected = bazel.output("//:hello_image.digest").read_text().strip()
            assert expected.startswith("sha256:"), expected
            bazel.run("run", "//:push")
        finally:
            bazel.shutdown()
        raw = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", "--raw",
             f"docker://{registry.address}/pycross/hello:v1"],
            check=True, capture_output=True).stdout
        assert "sha256:" + hashlib.sha256(raw).hexdigest() == expected
        assert registry.blob_uploads(), registry.requests()
