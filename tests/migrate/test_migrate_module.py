"""``--module``: MODULE.bazel gets what the migrated targets need, merged, idempotent, clean.

Repositories in the style of a rules_docker user moving to Bazel 7/8: bases
are ``container_pull`` in WORKSPACE (rules_docker has no module), and a
MODULE.bazel that may already use rules_oci's extension for other images.
The repository names ``use_repo`` needs are those rules_oci v2.3.2's
``oci/extensions.bzl`` reports as the root module's direct dependencies: the
pull's name, and ``<name>_<os>_<arch>[_<variant>]`` per platform.
"""

from __future__ import annotations

import re
from pathlib import Path

from migrate import module

REPO = Path(__file__).resolve().parents[2]

DIGEST = "sha256:" + "0123456789abcdef" * 4

WORKSPACE = f'''\
workspace(name = "shop")

load("@io_bazel_rules_docker//container:container.bzl", "container_pull")

# The base every service image starts from.
container_pull(
    name = "python_base",
    architecture = "arm64",
    digest = "{DIGEST}",
    registry = "gcr.io",
    repository = "distroless/python3",
)
'''

BUILD = '''\
load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")

py3_image(
    name = "api",
    srcs = ["api.py"],
    base = "@python_base//image",
)

py3_image(
    name = "worker",
    srcs = ["worker.py"],
)
'''

FRESH = f'''\
bazel_dep(name = "pycross_image", version = "0.1.0")
bazel_dep(name = "rules_oci", version = "2.3.2")
bazel_dep(name = "rules_python", version = "1.1.0")

oci = use_extension("@rules_oci//oci:extensions.bzl", "oci")
oci.pull(
    name = "distroless_python3",
    image = "registry.example/distroless/python3",
    platforms = [
        "linux/amd64",
        "linux/arm64/v8",
    ],
    tag = "latest",
)
oci.pull(
    name = "python_base",
    digest = "{DIGEST}",
    image = "gcr.io/distroless/python3",
    platforms = ["linux/arm64/v8"],
)
use_repo(
    oci,
    "distroless_python3",
    "distroless_python3_linux_amd64",
    "distroless_python3_linux_arm64_v8",
    "python_base",
    "python_base_linux_arm64_v8",
)
'''

EXISTING = '''\
"""The shop's module."""

module(name = "shop")

bazel_dep(name = "rules_python", version = "0.31.0")
bazel_dep(name = "rules_oci", version = "2.0.0")

# Base images.
oci_ext = use_extension("@rules_oci//oci:extensions.bzl", "oci")
oci_ext.pull(
    name = "debian",
    image = "debian",
    platforms = ["linux/amd64"],
    tag = "bookworm",
)
use_repo(oci_ext, "debian")

pip = use_extension("@rules_python//python/extensions:pip.bzl", "pip")
use_repo(pip, "pypi")
'''

MERGED = f'''\
"""The shop's module."""

module(name = "shop")

bazel_dep(name = "rules_python", version = "0.31.0")
bazel_dep(name = "rules_oci", version = "2.0.0")
bazel_dep(name = "pycross_image", version = "0.1.0")

# Base images.
oci_ext = use_extension("@rules_oci//oci:extensions.bzl", "oci")
oci_ext.pull(
    name = "debian",
    image = "debian",
    platforms = ["linux/amd64"],
    tag = "bookworm",
)
use_repo(oci_ext, "debian")

oci_ext.pull(
    name = "python_base",
    digest = "{DIGEST}",
    image = "gcr.io/distroless/python3",
    platforms = ["linux/arm64/v8"],
)
use_repo(oci_ext, "python_base", "python_base_linux_arm64_v8")

pip = use_extension("@rules_python//python/extensions:pip.bzl", "pip")
use_repo(pip, "pypi")
'''


def shop(ws, build: str = BUILD) -> None:
    ws.write("WORKSPACE", WORKSPACE, dedent=False)
    ws.write("services/BUILD", build, dedent=False)


def test_fresh_module_file(ws, run, buildifier):
    shop(ws)
    result = run(str(ws.root), "--module", "--default-base-image",
                 "registry.example/distroless/python3")
    assert result.code == 0, result.out
    assert ws.read("MODULE.bazel") == FRESH
    assert ws.read("WORKSPACE") == WORKSPACE  # rules_docker's set-up stays where it is
    assert "lines to add" not in result.out
    assert "pycross_image is not in the Bazel Central Registry" in result.out
    clean, message = buildifier(ws.root / "MODULE.bazel", lint="warn")
    assert clean, message
    again = run(str(ws.root), "--module", "--default-base-image",
                "registry.example/distroless/python3")
    assert again.code == 3, again.out
    assert ws.read("MODULE.bazel") == FRESH


def test_merge_with_an_existing_module_file(ws, run, buildifier):
    shop(ws)
    ws.write("MODULE.bazel", EXISTING, dedent=False)
    clean, message = buildifier(ws.root / "MODULE.bazel", lint="warn")
    assert clean, message  # the user's file was clean before
    result = run("//services:api", "--module", cwd=ws.root)
    assert result.code == 0, result.out
    assert ws.read("MODULE.bazel") == MERGED
    clean, message = buildifier(ws.root / "MODULE.bazel", lint="warn")
    assert clean, message
    assert "bazel_dep rules_oci 2.0.0 is older than 2.1.0" in result.out
    assert "bazel_dep rules_python 0.31.0 is older than 1.0.0" in result.out
    again = run("//services:api", "--module", cwd=ws.root)
    assert again.code == 3, again.out
    assert ws.read("MODULE.bazel") == MERGED


def test_pulls_and_use_repo_already_there_are_not_repeated(ws, run, buildifier):
    shop(ws)
    text = FRESH.replace("oci.pull(\n    name = \"distroless_python3\"",
                         "oci.pull(\n    name = \"other\"").replace(
        '    "distroless_python3",\n    "distroless_python3_linux_amd64",\n'
        '    "distroless_python3_linux_arm64_v8",\n', '    "other",\n')
    ws.write("MODULE.bazel", text, dedent=False)
    result = run("//services:api", "--module", cwd=ws.root)
    assert result.code == 0, result.out
    assert "migrated services/BUILD:3 api" in result.out
    assert ws.read("MODULE.bazel") == text  # everything @python_base needs is there
    assert text.count("use_extension(") == 1


def test_base_still_used_by_rules_docker_is_left_or_pulled_under_a_suffix(ws, run, buildifier):
    shop(ws)
    ws.write("legacy/BUILD", BUILD.replace('"api"', '"legacy_api"'), dedent=False)
    result = run("//services:api", "--module", cwd=ws.root)
    assert result.code == 2
    # the target itself stays (issue 10 item 1), so MODULE.bazel is not even created
    assert "still used by rules_docker (legacy/BUILD:6)" in result.out
    assert not (ws.root / "MODULE.bazel").exists()
    assert ws.read("services/BUILD") == BUILD
    result = run("//services:api", "--module", "--oci-base-suffix", "_oci", cwd=ws.root)
    assert result.code == 0, result.out
    text = ws.read("MODULE.bazel")
    assert 'name = "python_base_oci",' in text
    assert 'use_repo(oci, "python_base_oci", "python_base_oci_linux_arm64_v8")' in text
    assert 'base = "@python_base_oci",' in ws.read("services/BUILD")
    clean, message = buildifier(ws.root / "MODULE.bazel", lint="warn")
    assert clean, message


def test_use_repo_names_follow_rules_oci():
    assert module.repo_names("py", ["linux/amd64", "linux/arm64/v8"]) == (
        "py", "py_linux_amd64", "py_linux_arm64_v8")
    assert module.repo_names("py", []) == ("py",)


def test_platformless_pull_and_an_oci_pull_from_workspace(ws, run, buildifier):
    ws.write("WORKSPACE", '''\
workspace(name = "shop")

load("@io_bazel_rules_docker//container:container.bzl", "container_pull")
load("@rules_oci//oci:pull.bzl", "oci_pull")

container_pull(
    name = "plain",
    registry = "quay.io",
    repository = "org/base",
    tag = "3.11",
)

oci_pull(
    name = "moved",
    digest = "sha256:''' + "ab" * 32 + '''",
    image = "ghcr.io/org/base",
    platforms = ["linux/amd64"],
)
''', dedent=False)
    ws.write("a/BUILD", BUILD.replace("@python_base//image", "@plain//image").replace(
        '    srcs = ["worker.py"],\n', '    srcs = ["worker.py"],\n    base = "@moved",\n'),
        dedent=False)
    result = run(str(ws.root), "--module")
    assert result.code == 0, result.out
    text = ws.read("MODULE.bazel")
    assert 'oci.pull(\n    name = "plain",\n    image = "quay.io/org/base",\n' \
        '    tag = "3.11",\n)\n' in text
    assert 'oci.pull(\n    name = "moved",\n    digest = "sha256:' + "ab" * 32 + '",\n' in text
    assert 'use_repo(oci, "moved", "moved_linux_amd64", "plain")' in text
    clean, message = buildifier(ws.root / "MODULE.bazel", lint="warn")
    assert clean, message


def test_without_the_flag_a_bzlmod_repository_gets_the_lines_printed(tmp_path, run):
    root = tmp_path / "mod"
    root.mkdir()
    (root / "MODULE.bazel").write_text(EXISTING)
    (root / "services").mkdir()
    (root / "services" / "BUILD").write_text(BUILD)
    result = run(str(root), "--check")
    assert result.code == 1
    assert "lines to add to MODULE.bazel (or rerun with --module):" in result.out
    assert 'bazel_dep(name = "pycross_image", version = "0.1.0")' in result.out
    assert (root / "MODULE.bazel").read_text() == EXISTING


def test_diff_shows_a_new_module_file_without_writing_it(ws, run):
    shop(ws)
    result = run(str(ws.root), "--module", "--diff")
    assert result.code == 0
    assert "+++ b/MODULE.bazel" in result.out
    assert '+use_repo(oci, "python_base", "python_base_linux_arm64_v8")' in result.out
    assert not (ws.root / "MODULE.bazel").exists()


def test_versions_agree_with_this_repository():
    text = (REPO / "MODULE.bazel").read_text()
    own = re.search(r'module\(\s*name = "pycross_image",\s*version = "([^"]+)"', text)
    assert own is not None
    deps = dict(module.BAZEL_DEPS)
    assert deps["pycross_image"] == own.group(1)
    for name in ("rules_oci", "rules_python"):
        found = re.search(rf'bazel_dep\(name = "{name}", version = "([^"]+)"\)', text)
        assert found is not None
        minimum = tuple(int(p) for p in found.group(1).split("."))
        assert tuple(int(p) for p in deps[name].split(".")) >= minimum
        assert module.MINIMUM[name] <= tuple(int(p) for p in deps[name].split("."))
    install = (REPO / "docs" / "install.md").read_text()
    assert f'bazel_dep(name = "rules_python", version = "{deps["rules_python"]}")' in install
