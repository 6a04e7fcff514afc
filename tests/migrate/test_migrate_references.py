"""References to implicit targets (issue item 8) and the WORKSPACE (item 7)."""

from __future__ import annotations

import json
import textwrap

LOAD = 'load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")\n'
IMAGE = LOAD + '\npy3_image(\n    name = "server",\n    srcs = ["server.py"],\n)\n'


def test_references_with_an_equivalent_are_kept_and_listed(ws, run):
    ws.write("app/BUILD", IMAGE, dedent=False)
    ws.write("release/BUILD", """\
        sh_binary(
            name = "publish",
            srcs = ["publish.sh"],
            data = [
                "//app:server.tar",
                "//app:server.digest",
            ],
        )
        """)
    result = run(str(ws.root / "app"), "--json")
    assert result.code == 0
    report = json.loads(result.out)
    refs = {(r["path"], r["line"], r["text"]): r["equivalent"] for r in report["references"]}
    assert refs == {
        ("release/BUILD", 5, "//app:server.tar"):
            "py_image's :server.tarball (the docker-archive file)",
        ("release/BUILD", 6, "//app:server.digest"): "oci_image's :server.digest",
    }
    assert "py_image(" in ws.read("app/BUILD")
    # read as a file, rules_docker's tarball is py_image's :server.tarball
    assert '"//app:server.tarball",' in ws.read("release/BUILD")
    assert sorted(report["files_changed"]) == ["app/BUILD", "release/BUILD"]


def test_references_without_equivalent_keep_the_target(ws, run):
    ws.write("app/BUILD", IMAGE + textwrap.dedent("""\

        genrule(
            name = "config_digest",
            srcs = [":server.json.sha256"],
            outs = ["digest.txt"],
            cmd = "cp $< $@",
        )
        """), dedent=False)
    ws.write("other/BUILD", """\
        filegroup(
            name = "f",
            srcs = ["//app:server-layer.tar"],
        )
        """)
    before = ws.read("app/BUILD")
    result = run(str(ws.root))
    assert result.code == 2
    assert ws.read("app/BUILD") == before
    assert "app/BUILD:10 uses :server.json.sha256, which has no rules_oci equivalent" in result.out
    assert "other/BUILD:3 uses //app:server-layer.tar" in result.out


def test_layer_references(ws, run):
    ws.write("app/BUILD", LOAD + textwrap.dedent("""\

        py3_image(
            name = "server",
            srcs = ["server.py"],
            layers = ["//lib"],
        )

        filegroup(
            name = "first_layer",
            srcs = [":server.0"],
        )
        """), dedent=False)
    result = run(str(ws.root))
    assert result.code == 2
    assert "uses :server.0, which has no rules_oci equivalent" in result.out


def test_workspace_lines_reported_then_written(ws, run, buildifier):
    (ws.root / "WORKSPACE").write_text(textwrap.dedent("""\
        workspace(name = "shop")

        load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")

        http_archive(
            name = "io_bazel_rules_docker",
            sha256 = "b1e80761a8a8243d03ebca8845e9cc1ba6c82ce7c5179ce2b295cd36f7e394bf",
            urls = ["https://github.com/bazelbuild/rules_docker/releases/download/v0.25.0/rules_docker-v0.25.0.tar.gz"],
        )

        load(
            "@io_bazel_rules_docker//repositories:repositories.bzl",
            container_repositories = "repositories",
        )

        container_repositories()

        load("@io_bazel_rules_docker//container:container.bzl", "container_pull")

        # The company python base, pinned.
        container_pull(
            name = "python_base",
            digest = "sha256:1f2e3d",
            registry = "registry.example.com",
            repository = "distroless/python3",
        )

        container_pull(
            name = "java_base",
            digest = "sha256:aaaa",
            registry = "registry.example.com",
            repository = "distroless/java",
        )
        """))
    ws.write("app/BUILD", LOAD + textwrap.dedent("""\

        py3_image(
            name = "server",
            srcs = ["server.py"],
            base = "@python_base//image",
        )

        py3_image(
            name = "worker",
            srcs = ["worker.py"],
        )
        """), dedent=False)
    ws.write("java/BUILD", textwrap.dedent("""\
        load("@io_bazel_rules_docker//container:container.bzl", "container_image")

        container_image(
            name = "legacy",
            base = "@java_base//image",
            files = ["app.jar"],
        )
        """))
    workspace_before = ws.read("WORKSPACE")
    result = run(str(ws.root / "app"))
    assert result.code == 0
    assert ws.read("WORKSPACE") == workspace_before
    assert "lines to add to WORKSPACE (or rerun with --workspace):" in result.out
    # No registry is ever assumed for rules_docker's implicit default base.
    assert "@distroless_python3: rules_docker pulled the default" in result.out
    assert "--default-base-image" in result.out

    # undo and redo with --workspace
    ws.write("app/BUILD", LOAD + '\npy3_image(\n    name = "server",\n    srcs = ["server.py"],\n'
             '    base = "@python_base//image",\n)\n\npy3_image(\n    name = "worker",\n'
             '    srcs = ["worker.py"],\n)\n', dedent=False)
    mirror = ("--default-base-image", "mirror.example.com/distroless/python3")
    result = run(str(ws.root / "app"), "--workspace", *mirror)
    assert result.code == 0, result
    text = ws.read("WORKSPACE")
    assert text.startswith(workspace_before.split("# The company")[0])
    assert "container_repositories()" in text  # rules_docker set-up stays: java still uses it
    assert textwrap.dedent("""\
        # The company python base, pinned.
        oci_pull(
            name = "python_base",
            digest = "sha256:1f2e3d",
            image = "registry.example.com/distroless/python3",
        )
        """) in text
    assert 'container_pull(\n    name = "java_base",' in text
    assert "rules_oci_dependencies()\n" in text
    assert 'oci_register_toolchains(name = "oci")\n' in text
    assert text.index('load("@rules_oci//oci:pull.bzl", "oci_pull")') < text.index("oci_pull(\n")
    assert text.index('name = "rules_oci"') < text.index("rules_oci_dependencies()")
    assert 'name = "distroless_python3",' in text
    assert 'image = "mirror.example.com/distroless/python3",' in text
    assert run(str(ws.root / "app"), "--workspace", *mirror).code == 3
    assert ws.read("WORKSPACE") == text


def test_container_pull_still_used_is_not_converted(ws, run):
    (ws.root / "WORKSPACE").write_text(textwrap.dedent("""\
        load("@io_bazel_rules_docker//container:container.bzl", "container_pull")

        container_pull(
            name = "python_base",
            digest = "sha256:1f2e3d",
            registry = "registry.example.com",
            repository = "distroless/python3",
        )
        """))
    ws.write("app/BUILD", LOAD + '\npy3_image(\n    name = "server",\n    srcs = ["server.py"],\n'
             '    base = "@python_base//image",\n)\n', dedent=False)
    ws.write("old/BUILD", LOAD + '\npy3_image(\n    name = "old",\n    srcs = ["old.py"],\n'
             '    base = "@python_base//image",\n)\n', dedent=False)
    app_before = ws.read("app/BUILD")
    result = run(str(ws.root / "app"), "--workspace")
    assert result.code == 2
    # the image stays: its base would be an oci_pull nobody writes (old/ still needs the
    # container_pull), and the report names what blocks it
    assert ("left app/BUILD:3 server (py3_image): base @python_base//image: container_pull "
            "python_base (WORKSPACE:3) stays, still used by rules_docker (old/BUILD:6)"
            ) in result.out
    assert ws.read("app/BUILD") == app_before
    assert "container_pull(" in ws.read("WORKSPACE")
    # with a suffix both live side by side
    ws.write("app/BUILD", LOAD + '\npy3_image(\n    name = "server",\n    srcs = ["server.py"],\n'
             '    base = "@python_base//image",\n)\n', dedent=False)
    result = run(str(ws.root / "app"), "--workspace", "--oci-base-suffix", "_oci")
    assert result.code == 0, result.out
    assert 'base = "@python_base_oci",' in ws.read("app/BUILD")
    # the container_pull stays for old/BUILD; an oci_pull of the same image is added
    assert textwrap.dedent("""\
        container_pull(
            name = "python_base",
            digest = "sha256:1f2e3d",
            registry = "registry.example.com",
            repository = "distroless/python3",
        )

        oci_pull(
            name = "python_base_oci",
            digest = "sha256:1f2e3d",
            image = "registry.example.com/distroless/python3",
        )
        """) in ws.read("WORKSPACE")
