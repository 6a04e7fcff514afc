"""--to oci: py3_image becomes a py_binary plus oci.bzl's py_image (issue item 3)."""

from __future__ import annotations

import textwrap

DOCKER = '"@io_bazel_rules_docker//python3:image.bzl"'


def test_basic_py3_image_exact_output(ws, run, buildifier):
    ws.write("app/BUILD", f"""\
        load({DOCKER}, "py3_image")

        py3_image(
            name = "server",
            srcs = ["server.py"],
            deps = [":lib"],
        )
        """)
    result = run(str(ws.root / "app"))
    assert result.code == 0, result
    assert ws.read("app/BUILD") == textwrap.dedent("""\
        load("@pycross_image//bazel/rules:oci.bzl", "py_image")
        load("@rules_python//python:py_binary.bzl", "py_binary")

        py_binary(
            name = "server.binary",
            srcs = ["server.py"],
            main = "server.py",
            deps = [":lib"],
        )

        py_image(
            name = "server",
            base = "@distroless_python3",
            binary = ":server.binary",
        )
        """)
    assert buildifier(ws.root / "app/BUILD")[0]


def test_every_attribute_goes_where_it_belongs(ws, run, buildifier):
    # In the style of a service repository: layers for heavy deps, env, explicit main.
    ws.write("services/api/BUILD.bazel", f"""\
        load({DOCKER}, "py3_image")
        load("@pip_deps//:requirements.bzl", "requirement")

        py3_image(
            name = "api_image",
            testonly = True,
            srcs = glob(["*.py"]),
            args = ["--port=8080"],
            base = "@python_base//image",
            data = ["//config:prod.yaml"],
            env = {{"PYTHONUNBUFFERED": "1"}},
            imports = ["."],
            layers = [
                requirement("numpy"),
                "//services/common:models",
                "@pip_deps_torch//:pkg",
            ],
            main = "main.py",
            python_version = "PY3",
            srcs_version = "PY3",
            tags = ["manual"],
            visibility = ["//visibility:public"],
            deps = [
                requirement("flask"),
                "//services/common:auth",
            ],
        )
        """)
    assert buildifier(ws.root / "services/api/BUILD.bazel")[0]
    result = run(str(ws.root))
    assert result.code == 0, result
    text = ws.read("services/api/BUILD.bazel")
    assert text == textwrap.dedent("""\
        load("@pip_deps//:requirements.bzl", "requirement")
        load("@pycross_image//bazel/rules:oci.bzl", "py_image")
        load("@rules_python//python:py_binary.bzl", "py_binary")

        py_binary(
            name = "api_image.binary",
            testonly = True,
            srcs = glob(["*.py"]),
            args = ["--port=8080"],
            data = ["//config:prod.yaml"],
            imports = ["."],
            main = "main.py",
            python_version = "PY3",
            srcs_version = "PY3",
            tags = ["manual"],
            visibility = ["//visibility:public"],
            deps = [
                requirement("flask"),
                "//services/common:auth",
            ] + [
                requirement("numpy"),
                "//services/common:models",
                "@pip_deps_torch//:pkg",
            ],
        )

        py_image(
            name = "api_image",
            testonly = True,
            base = "@python_base",
            binary = ":api_image.binary",
            cmd = ["--port=8080"],
            env = {"PYTHONUNBUFFERED": "1"},
            layer_groups = {
                "numpy": requirement("numpy"),
                "models": "//services/common:models",
                "pip_deps_torch": "@pip_deps_torch//:pkg",
            },
            tags = ["manual"],
            visibility = ["//visibility:public"],
        )
        """)
    assert buildifier(ws.root / "services/api/BUILD.bazel")[0]


def test_plain_string_deps_and_layers_merge_sorted(ws, run, buildifier):
    ws.write("a/BUILD", f"""\
        load({DOCKER}, "py3_image")

        py3_image(
            name = "x",
            srcs = ["x.py"],
            layers = ["@pypi_torch//:pkg"],
            deps = [
                ":a",
                "//b",
            ],
        )
        """)
    assert run(str(ws.root)).code == 0
    text = ws.read("a/BUILD")
    deps = '    deps = [\n        ":a",\n        "//b",\n        "@pypi_torch//:pkg",\n    ],'
    assert deps in text
    assert '"pypi_torch": "@pypi_torch//:pkg"' in text
    assert buildifier(ws.root / "a/BUILD")[0]


def test_select_and_concatenation_pass_through_untouched(ws, run, buildifier):
    ws.write("a/BUILD", f"""\
        load({DOCKER}, "py3_image")

        COMMON = ["//lib:common"]

        py3_image(
            name = "x",
            srcs = ["x.py"],
            base = select({{
                "//conditions:default": "@base_amd64//image",
                ":arm": "@base_arm64//image",
            }}),
            data = select({{
                ":prod": ["prod.yaml"],
                "//conditions:default": [],
            }}),
            deps = COMMON + [":lib"] + select({{
                ":arm": [":arm_only"],
                "//conditions:default": [],
            }}),
        )
        """)
    assert buildifier(ws.root / "a/BUILD")[0]
    assert run(str(ws.root)).code == 0
    text = ws.read("a/BUILD")
    assert textwrap.indent(textwrap.dedent("""\
        data = select({
            ":prod": ["prod.yaml"],
            "//conditions:default": [],
        }),"""), "    ") in text
    assert textwrap.indent(textwrap.dedent("""\
        deps = COMMON + [":lib"] + select({
            ":arm": [":arm_only"],
            "//conditions:default": [],
        }),"""), "    ") in text
    assert '"//conditions:default": "@base_amd64",' in text
    assert '":arm": "@base_arm64",' in text
    assert buildifier(ws.root / "a/BUILD")[0]


def test_comments_stay_with_their_attributes(ws, run, buildifier):
    ws.write("a/BUILD", f"""\
        load({DOCKER}, "py3_image")  # the image rule

        # The public API server.
        # Owned by team-api.
        py3_image(  # keep in sync with deploy/
            # Name used by deploy scripts.
            name = "srv",
            srcs = [
                "srv.py",  # entry point
                # helpers
                "util.py",
            ],
            # production settings
            env = {{"MODE": "prod"}},  # see docs
            deps = [":lib"],  # internal only
            # end of attributes
        )  # trailing comment
        """)
    before = ws.read("a/BUILD")
    assert run(str(ws.root)).code == 0
    text = ws.read("a/BUILD")
    comments = [line.split("#", 1)[1] for line in before.splitlines() if "#" in line]
    for comment in comments:
        assert comment in text, comment
    assert "# The public API server.\n# Owned by team-api.\npy_binary(\n" in text
    assert '    # production settings\n    env = {"MODE": "prod"},  # see docs\n' in text
    name_comments = "    # keep in sync with deploy/\n    # Name used by deploy scripts.\n"
    assert name_comments + '    name = "srv",\n' in text
    assert '    deps = [":lib"],  # internal only\n' in text
    assert "    # end of attributes\n)  # trailing comment\n" in text
    assert buildifier(ws.root / "a/BUILD")[0]


def test_aliased_load_and_other_symbols_kept(ws, run, buildifier):
    ws.write("a/BUILD", """\
        load("@io_bazel_rules_docker//container:container.bzl", "container_push")
        load("@io_bazel_rules_docker//python3:image.bzl", "repositories", my_image = "py3_image")

        my_image(
            name = "x",
            srcs = ["x.py"],
        )

        repositories()
        """)
    assert run(str(ws.root)).code == 0
    text = ws.read("a/BUILD")
    assert 'load("@io_bazel_rules_docker//python3:image.bzl", "repositories")' in text
    assert "my_image" not in text
    assert 'load("@io_bazel_rules_docker//container:container.bzl", "container_push")' in text


def test_symbol_still_used_elsewhere_keeps_its_load(ws, run):
    ws.write("a/BUILD", f"""\
        load({DOCKER}, "py3_image")

        py3_image(
            name = "x",
            srcs = ["x.py"],
        )

        # migrate: skip
        py3_image(
            name = "y",
            srcs = ["y.py"],
        )
        """)
    result = run(str(ws.root))
    assert result.code == 0
    text = ws.read("a/BUILD")
    assert f"load({DOCKER}, \"py3_image\")" in text
    assert 'load("@pycross_image//bazel/rules:oci.bzl", "py_image")' in text
    assert "# migrate: skip\npy3_image(\n    name = \"y\"" in text
    assert "skipped a/BUILD:9 y (py3_image): marked '# migrate: skip'" in result.out


def test_py_image_already_loaded_gets_an_alias(ws, run, buildifier):
    ws.write("a/BUILD", f"""\
        load("@pycross_image//bazel/rules:docker.bzl", "py_image")
        load({DOCKER}, "py3_image")

        py_image(
            name = "old",
            binary = ":old_bin",
        )

        py3_image(
            name = "x",
            srcs = ["x.py"],
        )
        """)
    result = run(str(ws.root))
    assert result.code == 0
    text = ws.read("a/BUILD")
    assert 'load("@pycross_image//bazel/rules:oci.bzl", oci_py_image = "py_image")' in text
    assert "oci_py_image(\n    name = \"x\"," in text
    assert "py_image is already loaded from @pycross_image//bazel/rules:docker.bzl" in result.out
    assert buildifier(ws.root / "a/BUILD")[0]


def test_existing_oci_load_is_extended(ws, run, buildifier):
    ws.write("a/BUILD", f"""\
        load("@pycross_image//bazel/rules:oci.bzl", "something_else")
        load({DOCKER}, "py3_image")

        something_else(name = "s")

        py3_image(
            name = "x",
            srcs = ["x.py"],
        )
        """)
    assert run(str(ws.root)).code == 0
    text = ws.read("a/BUILD")
    assert text.startswith(
        'load("@pycross_image//bazel/rules:oci.bzl", "py_image", "something_else")\n'
        'load("@rules_python//python:py_binary.bzl", "py_binary")\n\n'
    )
    assert buildifier(ws.root / "a/BUILD")[0]


def test_rules_python_load_gets_py_binary(ws, run, buildifier):
    ws.write("a/BUILD", f"""\
        load({DOCKER}, "py3_image")
        load("@rules_python//python:defs.bzl", "py_library")

        py_library(
            name = "lib",
            srcs = ["lib.py"],
        )

        py3_image(
            name = "x",
            srcs = ["x.py"],
            deps = [":lib"],
        )
        """)
    assert buildifier(ws.root / "a/BUILD", "warn")[0]
    assert run(str(ws.root)).code == 0
    assert 'load("@rules_python//python:defs.bzl", "py_binary", "py_library")' in ws.read("a/BUILD")
    clean, message = buildifier(ws.root / "a/BUILD", "warn")
    assert clean, message


def test_macro_in_bzl_is_migrated(ws, run, buildifier):
    ws.write("tools/images.bzl", f'''\
        """Company-wide image macro."""

        load({DOCKER}, "py3_image")

        def service_image(name, srcs, deps = [], visibility = None):
            """A service image with the company base."""
            py3_image(
                name = name,
                srcs = srcs,
                base = "@company_base//image",
                deps = deps + ["//common:logging"],
                visibility = visibility,
            )
        ''')
    assert buildifier(ws.root / "tools/images.bzl")[0]
    result = run(str(ws.root / "tools"))
    assert result.code == 0, result
    assert ws.read("tools/images.bzl") == textwrap.dedent('''\
        """Company-wide image macro."""

        load("@pycross_image//bazel/rules:oci.bzl", "py_image")
        load("@rules_python//python:py_binary.bzl", "py_binary")

        def service_image(name, srcs, deps = [], visibility = None):
            """A service image with the company base."""
            py_binary(
                name = name + ".binary",
                srcs = srcs,
                main = name + ".py",
                visibility = visibility,
                deps = deps + ["//common:logging"],
            )

            py_image(
                name = name,
                base = "@company_base",
                binary = ":" + name + ".binary",
                visibility = visibility,
            )
        ''')
    assert buildifier(ws.root / "tools/images.bzl")[0]


def test_docker_shim_only_moves_the_load(ws, run, buildifier):
    original = f"""\
        load("@io_bazel_rules_docker//container:container.bzl", "container_push")
        load({DOCKER}, "py3_image")

        py3_image(
            name = "x",
            srcs = ["x.py"],
            layers = ["//big"],
        )
        """
    ws.write("a/BUILD", original)
    result = run(str(ws.root), "--to", "docker-shim")
    assert result.code == 0, result
    expected = textwrap.dedent(original).replace(
        f'load({DOCKER}, "py3_image")\n',
        'load("@pycross_image//bazel/rules:docker.bzl", "py3_image")\n',
    )
    assert ws.read("a/BUILD") == expected
    assert buildifier(ws.root / "a/BUILD")[0]
    assert run(str(ws.root), "--to", "docker-shim").code == 3
    # the shim's py3_image is then migrated to oci like rules_docker's
    assert run(str(ws.root)).code == 0
    assert "py_image(" in ws.read("a/BUILD")
    assert "docker.bzl" not in ws.read("a/BUILD")


def test_default_base_option(ws, run):
    ws.write("a/BUILD", f"""\
        load({DOCKER}, "py3_image")

        py3_image(
            name = "x",
            srcs = ["x.py"],
        )
        """)
    assert run(str(ws.root), "--default-base", "@my_python").code == 0
    assert 'base = "@my_python",' in ws.read("a/BUILD")


def test_oci_base_suffix(ws, run):
    ws.write("a/BUILD", f"""\
        load({DOCKER}, "py3_image")

        py3_image(
            name = "x",
            srcs = ["x.py"],
            base = "@python_base//image",
        )
        """)
    assert run(str(ws.root), "--oci-base-suffix", "_oci").code == 0
    assert 'base = "@python_base_oci",' in ws.read("a/BUILD")
