"""Real-repository-style files that are buildifier-clean stay clean (real buildifier 8.2.1)."""

from __future__ import annotations

import textwrap

import pytest

CORPUS = {
    # An example workspace in the style of this project's own: the shim loaded, a
    # native py_binary with buildifier's native-py warning silenced.
    "shim_example/BUILD.bazel": '''\
        load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")
        load("@pycross_image//bazel/rules:docker.bzl", "py3_image", "py_image")

        # rules_docker's py3_image: only the load line changed.
        py3_image(
            name = "hello_image",
            srcs = ["hello.py"],
            layers = ["@pip_deps_werkzeug//:pkg"],
            main = "hello.py",
            deps = ["@pip_deps_flask//:pkg"],
        )

        # buildifier: disable=native-py
        py_binary(
            name = "hello",
            srcs = ["hello.py"],
            deps = ["@pip_deps_flask//:pkg"],
        )

        py_image(
            name = "image",
            base = "@py3_image_base//image",
            binary = ":hello",
        )

        py_runtime_pair(
            name = "runtime_pair",
            py3_runtime = ":runtime",
        )
        ''',
    # A monorepo service package: license header, several loads, select(), glob().
    "services/payments/BUILD.bazel": '''\
        # Copyright 2021 Example Corp.
        #
        # Licensed under the Apache License, Version 2.0.

        load("@io_bazel_rules_docker//container:container.bzl", "container_push")
        load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")
        load("@pip//:requirements.bzl", "requirement")
        load("@rules_python//python:defs.bzl", "py_library", "py_test")
        load("//tools/build:defs.bzl", "env_for")

        package(default_visibility = ["//services:__subpackages__"])

        py_library(
            name = "payments",
            srcs = glob(
                ["**/*.py"],
                exclude = ["**/*_test.py"],
            ),
            deps = [
                requirement("grpcio"),
                requirement("stripe"),
                "//services/common",
            ],
        )

        py_test(
            name = "payments_test",
            size = "small",
            srcs = ["payments_test.py"],
            deps = [":payments"],
        )

        py3_image(
            name = "image",
            srcs = ["main.py"],
            base = select({
                "//platforms:arm64": "@python_base_arm64//image",
                "//conditions:default": "@python_base//image",
            }),
            env = env_for("payments"),
            layers = [
                requirement("grpcio"),
                requirement("stripe"),
            ],
            main = "main.py",
            tags = ["manual"],
            deps = [":payments"],
        )

        container_push(
            name = "push",
            format = "Docker",
            image = ":image",
            registry = "us-docker.pkg.dev",
            repository = "example/payments",
            tag = "latest",
        )
        ''',
    # A .bzl macro with a docstring and a container_image wrapper.
    "tools/images.bzl": '''\
        """Image macros used across the repository."""

        load("@io_bazel_rules_docker//container:container.bzl", "container_image")
        load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")

        def py_service(name, srcs, deps = [], env = {}, **kwargs):
            """A Python service image.

            Args:
              name: the image target.
              srcs: sources.
              deps: dependencies.
              env: environment.
              **kwargs: passed to py3_image.
            """
            py3_image(
                name = name,
                srcs = srcs,
                env = env,
                deps = deps,
                **kwargs
            )

        def debug_image(name):
            container_image(
                name = name,
                base = "@busybox//image",
                entrypoint = ["/busybox/sh"],
                env = {"DEBUG": "1"},
            )
        ''',
    # Root-package style with a WORKSPACE-pulled base and ports.
    "gateway/BUILD": '''\
        load(
            "@io_bazel_rules_docker//container:container.bzl",
            "container_image",
        )

        container_image(
            name = "gateway",
            base = "@nginx_base//image",
            cmd = "nginx -g 'daemon off;'",
            ports = [
                "80",
                "443",
            ],
            tars = [":config.tar"],
            volumes = ["/var/cache/nginx"],
        )
        ''',
}


@pytest.mark.parametrize("rel", sorted(CORPUS))
def test_clean_before_clean_after(ws, run, buildifier, rel):
    path = ws.write(rel, textwrap.dedent(CORPUS[rel]))
    clean, message = buildifier(path)
    assert clean, f"corpus file not clean to start with: {message}"
    warn_clean, _ = buildifier(path, "warn")
    before = path.read_text()
    result = run(str(ws.root))
    assert result.code in (0, 2), result
    after = path.read_text()
    assert after != before
    clean, message = buildifier(path)
    assert clean, message + "\n" + after
    if warn_clean:
        clean, message = buildifier(path, "warn")
        assert clean, message + "\n" + after
    assert run(str(ws.root)).code in (2, 3)  # idempotent: nothing more to change
    assert path.read_text() == after
