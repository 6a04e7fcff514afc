"""container_image / container_push / container_pull -> oci_image / oci_push / oci_pull."""

from __future__ import annotations

import textwrap

CONTAINER = '"@io_bazel_rules_docker//container:container.bzl"'


def test_container_image_and_push(ws, run, buildifier):
    ws.write("deploy/BUILD", f"""\
        load({CONTAINER}, "container_image", "container_push")

        container_image(
            name = "image",
            base = "@debian_base//image",
            cmd = "python3 -m http.server",
            env = {{"PORT": "8080"}},
            layers = [":app_layer"],
            ports = ["8080/tcp"],
            user = "nobody",
            workdir = "/srv",
        )

        container_push(
            name = "push",
            format = "Docker",
            image = ":image",
            registry = "registry.example.com",
            repository = "team/server",
            tag = "{{BUILD_USER}}",
        )

        container_push(
            name = "push_latest",
            format = "Docker",
            image = ":image",
            registry = "registry.example.com",
            repository = "team/server",
        )
        """)
    assert buildifier(ws.root / "deploy/BUILD")[0]
    result = run(str(ws.root))
    assert result.code == 2  # the stamped push cannot be migrated
    assert "tag \"{BUILD_USER}\" uses stamp variables" in result.out
    text = ws.read("deploy/BUILD")
    assert text == textwrap.dedent("""\
        load("@io_bazel_rules_docker//container:container.bzl", "container_push")
        load("@rules_oci//oci:defs.bzl", "oci_image", "oci_push")

        oci_image(
            name = "image",
            base = "@debian_base",
            cmd = [
                "/bin/sh",
                "-c",
                "python3 -m http.server",
            ],
            env = {"PORT": "8080"},
            exposed_ports = ["8080/tcp"],
            tars = [":app_layer"],
            user = "nobody",
            workdir = "/srv",
        )

        container_push(
            name = "push",
            format = "Docker",
            image = ":image",
            registry = "registry.example.com",
            repository = "team/server",
            tag = "{BUILD_USER}",
        )

        oci_push(
            name = "push_latest",
            image = ":image",
            remote_tags = ["latest"],
            repository = "registry.example.com/team/server",
        )
        """)
    assert "format = \"Docker\" dropped" in result.out
    assert buildifier(ws.root / "deploy/BUILD")[0]


def test_attributes_without_equivalent_leave_the_target(ws, run):
    original = textwrap.dedent(f"""\
        load({CONTAINER}, "container_image")

        container_image(
            name = "with_files",
            files = ["config.yaml"],
            stamp = True,
            symlinks = {{"/usr/bin/app": "/app/bin"}},
        )

        container_image(
            name = "with_launcher",
            launcher = "//tools:launcher",
        )

        container_image(
            name = "labels_from_file",
            labels = {{"version": "@version.txt"}},
        )
        """)
    ws.write("a/BUILD", original, dedent=False)
    result = run(str(ws.root))
    assert result.code == 2
    assert ws.read("a/BUILD") == original
    assert "files needs a tar rule (pkg_tar)" in result.out
    assert "stamp: stamping has no attribute" in result.out
    assert "symlinks needs a tar rule" in result.out
    assert "launcher: rules_oci images have no launcher" in result.out
    assert "labels with @file values" in result.out


def test_no_base_writes_rules_docker_defaults_and_repository_makes_oci_load(ws, run, buildifier):
    ws.write("a/BUILD", f"""\
        load({CONTAINER}, "container_image")

        container_image(
            name = "scratch",
            entrypoint = ["/app"],
            repository = "myteam",
            tars = [":rootfs.tar"],
        )
        """)
    assert run(str(ws.root)).code == 0
    assert ws.read("a/BUILD") == textwrap.dedent("""\
        load("@rules_oci//oci:defs.bzl", "oci_image", "oci_load")

        oci_image(
            name = "scratch",
            architecture = "amd64",
            entrypoint = ["/app"],
            os = "linux",
            tars = [":rootfs.tar"],
        )

        oci_load(
            name = "scratch.tar",
            image = ":scratch",
            repo_tags = ["myteam/a:scratch"],
        )
        """)
    assert buildifier(ws.root / "a/BUILD")[0]


def test_layers_and_tars_keep_rules_docker_order(ws, run):
    ws.write("a/BUILD", f"""\
        load({CONTAINER}, "container_image")

        container_image(
            name = "img",
            base = ":parent",
            architecture = "arm64",
            layers = [":deps_layer"],
            tars = [":top.tar"],
        )
        """)
    result = run(str(ws.root))
    assert result.code == 0
    text = ws.read("a/BUILD")
    assert '    tars = [":deps_layer"] + [":top.tar"],\n' in text
    assert "architecture" not in text
    assert "architecture dropped: rules_oci takes it from the base" in result.out


def test_container_pull_in_a_bzl_macro(ws, run, buildifier):
    ws.write("third_party/images.bzl", f'''\
        """Base images."""

        load({CONTAINER}, "container_pull")

        def images():
            container_pull(
                name = "arm_base",
                architecture = "arm64",
                digest = "sha256:0123",
                import_tags = ["3.11"],
                registry = "mirror.example.com",
                repository = "library/python",
            )

            container_pull(
                name = "still_used",
                digest = "sha256:4567",
                registry = "registry.example.com",
                repository = "distroless/base",
            )
        ''')
    ws.write("app/BUILD", f"""\
        load({CONTAINER}, "container_image")

        container_image(
            name = "legacy",
            base = "@still_used//image",
            # migrate: skip
            stamp = True,
        )
        """)
    result = run(str(ws.root / "third_party"))
    assert result.code == 2
    text = ws.read("third_party/images.bzl")
    assert textwrap.dedent('''\
        load("@io_bazel_rules_docker//container:container.bzl", "container_pull")
        load("@rules_oci//oci:pull.bzl", "oci_pull")

        def images():
            oci_pull(
                name = "arm_base",
                bazel_tags = ["3.11"],
                digest = "sha256:0123",
                image = "mirror.example.com/library/python",
                platforms = ["linux/arm64/v8"],
            )

            container_pull(
                name = "still_used",''') in text
    assert "@still_used// is still used by rules_docker (app/BUILD:5)" in result.out
    assert buildifier(ws.root / "third_party/images.bzl")[0]


def test_unsupported_rules_are_reported(ws, run):
    original = textwrap.dedent(f"""\
        load({CONTAINER}, "container_bundle", "container_layer")
        load("@io_bazel_rules_docker//contrib:test.bzl", "container_test")

        container_layer(
            name = "layer",
            files = ["a"],
        )

        container_bundle(
            name = "bundle",
            images = {{"a:b": ":img"}},
        )

        container_test(
            name = "test",
            configs = ["t.yaml"],
            image = ":img",
        )
        """)
    ws.write("a/BUILD", original, dedent=False)
    result = run(str(ws.root))
    assert result.code == 2
    assert ws.read("a/BUILD") == original
    assert "container_layer has no rules_oci equivalent" in result.out
    assert "use container_structure_test" in result.out
    assert "use oci_load with repo_tags" in result.out
