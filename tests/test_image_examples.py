"""example/oci and example/docker build (`bazel build //...`) under the test doubles,
and the example images answer `GET /` when run in bwrap."""

from __future__ import annotations

import pytest

from tests.images import bazel_env, build, runner

pytestmark = [pytest.mark.bazel, pytest.mark.image]


@pytest.fixture(scope="module")
def fixtures():
    missing = runner.have_tools()
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    return build.build_all()


# example -> (target, output group holding its OCI layout)
@pytest.mark.parametrize(
    ("example", "images"),
    [("oci", [("//:image", "")]),
     ("docker", [("//:image", "layout"), ("//:hello_image", "layout")])],
)
def test_example_builds_and_runs(fixtures, tmp_path, example, images):
    ws = build.REPO / "example" / example
    bazel = bazel_env.Bazel(ws, tmp_path / "output_base", fixtures)
    try:
        bazel.run("build", "//...")
        for label, group in images:
            answer = runner.run_http(bazel.output(label, group=group), env={"HOST": "127.0.0.1"})
            assert (answer.status, answer.body) == (200, "Hello, World!"), answer.log
    finally:
        bazel.shutdown()
