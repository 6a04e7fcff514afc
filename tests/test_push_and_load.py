"""Real infrastructure for built images: a registry and a container client.

`bazel run` of the rules_oci double's `oci_push` (skopeo doing what upstream's
crane does) pushes tests/image_ws/push images and an image index to Debian's
`docker-registry` on a loopback port; `skopeo inspect` on the registry must
return the manifest digests Bazel wrote (`:<name>.digest`). Debian's podman
loads `:served.tarball`, runs it and it answers HTTP. The registry address
exists only here, passed as upstream's `--repository` (or through
`repository_file`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.images import bazel_env, build, runner
from tests.support.net import free_port
from tests.support.podman import RUN_FLAGS, podman_storage
from tests.support.registry import running_registry

pytestmark = [pytest.mark.bazel, pytest.mark.image]

WS = build.REPO / "tests" / "image_ws"
FROM_FILE = "pycross/fromfile"


@pytest.fixture(scope="module")
def registry():
    missing = [t for t in ("skopeo", "docker-registry") if not shutil.which(t)]
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    with running_registry() as reg:
        yield reg


@pytest.fixture(scope="module")
def ws(registry, tmp_path_factory):
    missing = runner.have_tools()
    if missing:
        pytest.fail(f"missing {missing}: run `bash .ci/setup`")
    fixtures = build.build_all()
    root = tmp_path_factory.mktemp("push_ws")
    dest = root / "ws"
    shutil.copytree(WS, dest, symlinks=True, ignore=shutil.ignore_patterns("bazel-*"))
    bazel = bazel_env.Bazel(dest, root / "output_base", fixtures)
    # What a stamped repository file would hold; every command gets it, so
    # all of them share one configuration.
    bazel.extra_flags.append(f"--define=PUSH_REPOSITORY={registry.address}/{FROM_FILE}")
    bazel.run("build", "//push:all", "//push:push_from_file")
    yield bazel
    bazel.shutdown()


def bazel_digest(bazel, label: str) -> str:
    """The manifest digest Bazel wrote for `label` (its `.digest` output)."""
    digest = bazel.output(label).read_text().strip()
    assert digest.startswith("sha256:") and len(digest) == 71, digest
    return digest


def push(bazel, target: str, *args: str) -> subprocess.CompletedProcess:
    return bazel.run("run", target, "--", *args)


def raw_manifest(registry, ref: str) -> bytes:
    """The manifest bytes the registry serves for `name:tag` or `name@digest`."""
    return subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--raw", f"docker://{registry.address}/{ref}"],
        check=True, capture_output=True).stdout


def served_digest(registry, ref: str) -> str:
    return "sha256:" + hashlib.sha256(raw_manifest(registry, ref)).hexdigest()


def test_push_image_digest_and_tags(ws, registry):
    expected = bazel_digest(ws, "//push:served.digest")
    proc = push(ws, "//push:push_served", "--repository", f"{registry.address}/pycross/served")
    # Like `crane push`, the script prints the reference it pushed.
    assert proc.stdout.strip().splitlines()[-1] == f"{registry.address}/pycross/served@{expected}"
    for tag in ("latest", "1.0"):  # remote_tags as a list
        assert served_digest(registry, f"pycross/served:{tag}") == expected
    inspected = json.loads(subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{registry.address}/pycross/served:1.0"],
        check=True, capture_output=True, text=True).stdout)
    assert inspected["Digest"] == expected
    assert inspected["Architecture"] == "amd64"
    assert sorted(inspected["RepoTags"]) == ["1.0", "latest"]
    print(f"pycross/served:1.0 {expected}")  # shown with pytest -rP


def test_second_push_uploads_no_layer(ws, registry):
    repo = f"{registry.address}/pycross/twice"
    layout = ws.output("//push:served")
    blobs = 1 + len(runner.manifest(layout)["layers"])  # config + layers
    first = registry.mark()
    push(ws, "//push:push_served", "--repository", repo)
    assert len(registry.blob_uploads(since=first)) == blobs, registry.requests(first)
    second = registry.mark()
    push(ws, "//push:push_served", "--repository", repo)
    requests = registry.requests(since=second)
    assert registry.blob_uploads(since=second) == [], requests
    # It did push: the manifest and both tags were written again.
    expected = bazel_digest(ws, "//push:served.digest")
    written = sorted(r.path for r in requests if r.method == "PUT")
    refs = (expected, "latest", "1.0")
    assert written == sorted(f"/v2/pycross/twice/manifests/{ref}" for ref in refs)


def test_app_change_pushes_only_the_app_layer(ws, registry):
    """After an edit of the app, a push sends the app layer and the config, no other blob."""
    repo = f"{registry.address}/pycross/appchange"
    push(ws, "//push:push_served", "--repository", repo)
    hello = ws.workspace / "app" / "hello.py"
    original = hello.read_text()
    try:
        hello.write_text(original + "\n# edited: only the app layer changes\n")
        ws.run("build", "//push:served", "//push:served.digest")
        manifest = runner.manifest(ws.output("//push:served"))
        mark = registry.mark()
        push(ws, "//push:push_served", "--repository", repo)
        uploaded = registry.uploaded_digests(since=mark)
        assert sorted(uploaded) == sorted([manifest["layers"][-1]["digest"],
                                           manifest["config"]["digest"]])
        assert served_digest(registry, "pycross/appchange:latest") == bazel_digest(
            ws, "//push:served.digest")
    finally:
        hello.write_text(original)
        ws.run("build", "//push:all")


def test_push_index(ws, registry):
    expected = bazel_digest(ws, "//push:index.digest")
    push(ws, "//push:push_index", "--repository", f"{registry.address}/pycross/index")
    for tag in ("multi", "arch"):  # remote_tags from index_tags.txt
        assert served_digest(registry, f"pycross/index:{tag}") == expected
    index = json.loads(raw_manifest(registry, "pycross/index:multi"))
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    children = {m["platform"]["architecture"]: m["digest"] for m in index["manifests"]}
    assert children == {
        "amd64": bazel_digest(ws, "//push:static_x86_64.digest"),
        "arm64": bazel_digest(ws, "//push:static_arm64.digest"),
    }
    for digest in children.values():  # every image of the index is in the registry
        assert served_digest(registry, f"pycross/index@{digest}") == digest
    print(f"pycross/index:multi {expected}")  # shown with pytest -rP
    for arch, digest in sorted(children.items()):
        print(f"  {arch} {digest}")


def test_repository_file_then_override(ws, registry):
    expected = bazel_digest(ws, "//push:served.digest")
    proc = push(ws, "//push:push_from_file")  # no remote_tags: pushed by digest only
    assert proc.stdout.strip().splitlines()[-1] == f"{registry.address}/{FROM_FILE}@{expected}"
    assert served_digest(registry, f"{FROM_FILE}@{expected}") == expected
    mark = registry.mark()
    push(ws, "//push:push_from_file", "--repository", f"{registry.address}/pycross/override",
         "--tag", "extra")
    assert served_digest(registry, "pycross/override:extra") == expected
    # The override won: nothing was written to the file's repository.
    writes = [r for r in registry.requests(since=mark) if r.method in ("POST", "PUT", "PATCH")]
    assert writes and not [r for r in writes if FROM_FILE in r.path], writes


def test_flag_spellings_like_upstream(ws, registry):
    """push.sh.tpl's spellings: -r, --repository=, -t, --tag=; the last repository wins."""
    script = ws.bin_dir() / "push" / "push_push_served.sh"
    expected = bazel_digest(ws, "//push:served.digest")
    subprocess.run([str(script), "-r", f"{registry.address}/pycross/ignored",
                    f"--repository={registry.address}/pycross/spelled", "-t", "short",
                    "--tag=long"], check=True, capture_output=True, cwd=ws.workspace)
    for tag in ("short", "long", "latest", "1.0"):
        assert served_digest(registry, f"pycross/spelled:{tag}") == expected


def test_arguments_crane_push_takes_like_upstream(ws, registry, tmp_path):
    """What upstream's loop does not read goes to `crane push` (go-containerregistry
    v0.18.0): its flags are accepted, anything else fails as crane fails, before
    anything is pushed; arguments are split at whitespace as upstream's unquoted
    expansion splits them."""
    script = ws.bin_dir() / "push" / "push_push_served.sh"
    expected = bazel_digest(ws, "//push:served.digest")
    repo = f"{registry.address}/pycross/crane"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(script), *args], capture_output=True, text=True,
                              cwd=ws.workspace)

    refs = tmp_path / "refs"
    proc = run("-r", repo, "--image-refs", str(refs), "--platform=linux/arm64",
               "--index=false", "--verbose=false", "--tag=split --tag=here")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"{repo}@{expected}"
    for tag in ("split", "here"):
        assert served_digest(registry, f"pycross/crane:{tag}") == expected
    # Upstream's own --image-refs comes after the user's, and crane keeps the last.
    assert not refs.exists()

    mark = registry.mark()
    for args, message in [
        (["--frobnicate"], "Error: unknown flag: --frobnicate"),
        (["-x"], "Error: unknown shorthand flag: 'x' in -x"),
        (["extra"], "Error: accepts 2 arg(s), received 3"),
        (["--tag", "a b"], "Error: accepts 2 arg(s), received 3"),  # tag a, then b
        (["--index=maybe"], 'Error: invalid argument "maybe" for "--index" flag: '
                            'strconv.ParseBool: parsing "maybe": invalid syntax'),
        (["--platform"], "ERROR: --platform needs a value"),
        (["-t"], "ERROR: -t needs a value"),
    ]:
        proc = run("-r", f"{registry.address}/pycross/refused", *args)
        assert (proc.returncode, proc.stderr.strip().splitlines()) == (1, [message]), args
    writes = [r for r in registry.requests(since=mark) if r.method in ("POST", "PUT", "PATCH")]
    assert writes == []

    # --index: crane pushes the layout's index.json under the image's digest, which
    # the registry refuses.
    proc = run("-r", f"{registry.address}/pycross/index_flag", "--index")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"Error: PUT {registry.address}/pycross/index_flag@{expected}: "
        "DIGEST_INVALID: provided digest did not match uploaded content")


def test_push_without_repository_fails_with_upstreams_message(ws):
    proc = ws.run("run", "//push:push_served", check=False)
    assert proc.returncode != 0
    assert "ERROR: repository not set. Please pass --repository flag." in proc.stderr


def _get(port: int, timeout: float, container_alive) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and container_alive():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                return resp.status, resp.read().decode()
        except OSError:
            time.sleep(0.3)
    return 0, ""


def test_podman_loads_and_runs_the_tarball(ws):
    tarball = ws.output("//push:served.tarball")
    layout = ws.output("//push:served")
    config_digest = runner.manifest(layout)["config"]["digest"]  # what Bazel built
    with podman_storage() as podman:
        loaded = podman.run("load", "--input", str(tarball))
        assert "pycross/served:1.0" in loaded.stdout + loaded.stderr
        image = podman.inspect_image("pycross/served:1.0")
        # What py_image declared (tests/image_ws/push/BUILD.bazel), as podman sees it.
        assert image["Id"] == config_digest.split(":", 1)[1]
        # manifest.json carries the tag as given (rules_oci tarball.sh.tpl);
        # podman puts a name without a registry under localhost/.
        assert image["RepoTags"] == ["localhost/pycross/served:1.0"]
        assert image["Architecture"] == "amd64" and image["Os"] == "linux"
        assert image["Config"]["Entrypoint"] == ["/usr/bin/python3", "/app/hello"]
        assert image["Config"]["WorkingDir"] == "/app/hello.runfiles"
        env = image["Config"]["Env"]
        assert {"GREETING_SOURCE=py_image", "PORT=5000"} <= set(env)
        assert any(e.startswith("PATH=") for e in env)  # from the base
        port = free_port()
        name = "pycross-served"
        podman.run("run", "--detach", "--name", name, *RUN_FLAGS, "--env", f"PORT={port}",
                   "pycross/served:1.0")

        def alive() -> bool:
            state = podman.run("inspect", "--format", "{{.State.Running}}", name, check=False)
            return state.stdout.strip() == "true"

        status, body = _get(port, 60, alive)
        logs = podman.run("logs", name, check=False)
        assert (status, body) == (200, "Hello, World!"), logs.stdout + logs.stderr
        podman.run("rm", "--force", "--time", "0", name)
