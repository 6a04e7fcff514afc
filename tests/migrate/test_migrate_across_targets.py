"""Meaning across targets (issue 10 item 1): what a target depends on, values the tool
cannot read, references to the tarball file, Docker Hub names, layers and args.

Snippets are written in the style of service monorepos that use rules_docker
(a base image package, service packages, release packages with tests that
``docker load`` an image tarball); none is copied from one.
"""

from __future__ import annotations

import json
import textwrap

PY3 = 'load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")\n'
CONTAINER = '"@io_bazel_rules_docker//container:container.bzl"'


def _json(result) -> dict:
    return json.loads(result.out)


def test_base_that_stays_rules_docker_keeps_the_image(ws, run):
    # A base-image package with a container_image the tool cannot migrate (files need a
    # tar rule), and a container_load; services build on both.
    ws.write("images/base/BUILD", f"""\
        load({CONTAINER}, "container_image", "container_load")

        container_image(
            name = "python_with_certs",
            base = "@python_base//image",
            files = ["ca-certificates.crt"],
        )

        container_load(
            name = "vendor_image",
            file = "vendor.tar",
        )
        """)
    ws.write("services/api/BUILD", PY3 + textwrap.dedent("""\

        py3_image(
            name = "api",
            srcs = ["api.py"],
            base = "//images/base:python_with_certs",
        )

        py3_image(
            name = "vendored",
            srcs = ["vendored.py"],
            base = "//images/base:vendor_image",
        )

        py3_image(
            name = "plain",
            srcs = ["plain.py"],
            base = "@python_base//image",
        )
        """), dedent=False)
    before = ws.read("services/api/BUILD")
    result = run(str(ws.root), "--json")
    assert result.code == 2
    report = _json(result)
    left = {item["name"]: item for item in report["left"]}
    assert left["api"]["blocked_by"] == "//images/base:python_with_certs (images/base/BUILD:3)"
    assert left["api"]["reason"] == ("base //images/base:python_with_certs is a container_image "
                                     "that stays rules_docker (images/base/BUILD:3)")
    assert left["vendored"]["blocked_by"] == "//images/base:vendor_image (images/base/BUILD:9)"
    assert [m["name"] for m in report["migrated"]] == ["plain"]
    text = ws.read("services/api/BUILD")
    assert text != before and 'name = "plain.binary"' in text
    assert text.count("py3_image(") == 2  # api and vendored stay as they were


def test_base_outside_the_selection_keeps_the_image(ws, run):
    ws.write("images/base/BUILD", f"""\
        load({CONTAINER}, "container_image")

        container_image(
            name = "runtime",
            base = "@python_base//image",
            env = {{"LANG": "C.UTF-8"}},
        )
        """)
    ws.write("services/worker/BUILD", PY3 + textwrap.dedent("""\

        py3_image(
            name = "worker",
            srcs = ["worker.py"],
            base = "//images/base:runtime",
        )
        """), dedent=False)
    result = run(str(ws.root / "services"))
    assert result.code == 2
    assert ("left services/worker/BUILD:3 worker (py3_image): base //images/base:runtime is a "
            "container_image that stays rules_docker (images/base/BUILD:3)") in result.out
    # selected together, both go
    result = run(str(ws.root))
    assert result.code == 0, result.out
    assert 'base = "//images/base:runtime",' in ws.read("services/worker/BUILD")
    assert "oci_image(" in ws.read("images/base/BUILD")


def test_a_chain_of_bases_stops_at_the_first_image_left(ws, run):
    ws.write("img/BUILD", f"""\
        load({CONTAINER}, "container_image", "container_push")

        container_image(
            name = "os",
            base = "@debian//image",
            debs = ["libpq.deb"],
        )

        container_image(
            name = "runtime",
            base = ":os",
        )

        container_image(
            name = "app",
            base = ":runtime",
            cmd = ["/app"],
        )

        container_push(
            name = "push",
            image = ":app",
            registry = "registry.example.com",
            repository = "shop/app",
        )
        """)
    original = ws.read("img/BUILD")
    result = run(str(ws.root), "--json")
    assert result.code == 2
    report = _json(result)
    assert report["migrated"] == []
    blocked = {item["name"]: item["blocked_by"] for item in report["left"]}
    assert blocked == {"os": None, "runtime": "//img:os (img/BUILD:3)",
                       "app": "//img:runtime (img/BUILD:9)", "push": "//img:app (img/BUILD:14)"}
    assert ws.read("img/BUILD") == original


def test_values_the_tool_cannot_read_are_reported(ws, run):
    ws.write("tools/images.bzl", '"""Image names."""\n\nPYTHON_BASE = "@python_base//image"\n')
    ws.write("svc/BUILD", PY3 + textwrap.dedent(f"""\
        load({CONTAINER}, "container_push")
        load("//tools:images.bzl", "PYTHON_BASE", "image", "registry")

        LOCAL_BASE = "@python_base//image"

        py3_image(
            name = "computed",
            srcs = ["a.py"],
            base = image("python_base"),
        )

        py3_image(
            name = "imported",
            srcs = ["a.py"],
            base = PYTHON_BASE,
        )

        py3_image(
            name = "in_select",
            srcs = ["a.py"],
            base = select({{
                "//conditions:default": image("python_base"),
            }}),
        )

        py3_image(
            name = "constant",
            srcs = ["a.py"],
            base = LOCAL_BASE,
        )

        container_push(
            name = "push",
            image = ":constant",
            registry = registry(),
            repository = "svc",
        )
        """), dedent=False)
    result = run(str(ws.root), "--json")
    assert result.code == 2
    report = _json(result)
    reasons = {item["name"]: item["reason"] for item in report["left"]}
    assert reasons == {
        "computed": 'base = image("python_base") cannot be read: it calls image()',
        "imported": "base = PYTHON_BASE cannot be read: a variable defined in another file "
                    "(load it, or write the value)",
        "in_select": "base = select({ cannot be read: it calls image()",
        "push": "registry = registry() cannot be read: it calls registry()",
    }
    # a constant of the same file is read; the constant itself stays for other users
    text = ws.read("svc/BUILD")
    assert 'LOCAL_BASE = "@python_base//image"' in text
    assert '    base = "@python_base",\n    binary = ":constant.binary",' in text


def test_macro_parameter_base_is_reported(ws, run):
    ws.write("tools/image.bzl", PY3 + textwrap.dedent('''\

        def service_image(name, base):
            """An image for a service."""
            py3_image(
                name = name,
                srcs = [name + ".py"],
                base = base,
            )
        '''), dedent=False)
    before = ws.read("tools/image.bzl")
    result = run(str(ws.root))
    assert result.code == 2
    assert ("base is the macro parameter base: the values its callers pass are not rewritten"
            in result.out)
    assert ws.read("tools/image.bzl") == before


def test_tar_read_as_a_file_becomes_the_tarball(ws, run, buildifier):
    ws.write("app/BUILD", PY3 + textwrap.dedent("""\

        py3_image(
            name = "server",
            srcs = ["server.py"],
        )

        sh_test(
            name = "server_smoke_test",
            srcs = ["smoke_test.sh"],
            args = ["$(location :server.tar)"],
            data = [":server.tar"],
        )
        """), dedent=False)
    ws.write("release/BUILD", """\
        alias(
            name = "load_server",
            actual = "//app:server.tar",
        )

        genrule(
            name = "bundle",
            srcs = ["//app:server.tar"],
            outs = ["bundle.tar"],
            cmd = "cp $(location //app:server.tar) $@",
        )
        """)
    result = run(str(ws.root), "--json")
    assert result.code == 0, result.out
    app = ws.read("app/BUILD")
    assert 'args = ["$(location :server.tarball)"],' in app
    assert 'data = [":server.tarball"],' in app
    release = ws.read("release/BUILD")
    # used as a target (bazel run loads it), :server.tar is py_image's oci_load: kept
    assert 'actual = "//app:server.tar",' in release
    assert 'srcs = ["//app:server.tarball"],' in release
    assert 'cmd = "cp $(location //app:server.tarball) $@",' in release
    refs = {(r["path"], r["line"]): (r["equivalent"], r["replacement"])
            for r in _json(result)["references"]}
    assert refs[("release/BUILD", 3)] == ("py_image's :server.tar (oci_load)", None)
    assert refs[("release/BUILD", 8)][1] == "//app:server.tarball"
    assert buildifier(ws.root / "app/BUILD")[0]


def test_container_image_tarball_read_as_a_file_gets_a_filegroup(ws, run, buildifier):
    ws.write("db/BUILD", f"""\
        load({CONTAINER}, "container_image")

        container_image(
            name = "postgres",
            base = "@postgres_base//image",
            env = {{"POSTGRES_DB": "shop"}},
        )

        py_test(
            name = "migrations_test",
            srcs = ["migrations_test.py"],
            data = [":postgres.tar"],
        )
        """)
    assert run(str(ws.root)).code == 0
    text = ws.read("db/BUILD")
    assert textwrap.dedent("""\
        oci_load(
            name = "postgres.tar",
            image = ":postgres",
            repo_tags = ["bazel/db:postgres"],
        )

        filegroup(
            name = "postgres.tarball",
            srcs = [":postgres.tar"],
            output_group = "tarball",
        )
        """) in text
    assert 'data = [":postgres.tarball"],' in text
    assert buildifier(ws.root / "db/BUILD")[0]


def test_docker_hub_names_as_rules_docker_resolved_them(ws, run):
    ws.write("third_party/images.bzl", f'''\
        """Base images."""

        load({CONTAINER}, "container_pull")

        def images():
            container_pull(
                name = "python",
                digest = "sha256:aaaa",
                registry = "index.docker.io",
                repository = "python",
            )

            container_pull(
                name = "redis",
                registry = "docker.io",
                repository = "redis",
                tag = "7",
            )

            container_pull(
                name = "grafana",
                digest = "sha256:bbbb",
                registry = "docker.io",
                repository = "grafana/grafana",
            )

            container_pull(
                name = "mirror",
                registry = "mirror.example.com",
                repository = "python",
            )
        ''')
    result = run(str(ws.root))
    assert result.code == 0, result.out
    text = ws.read("third_party/images.bzl")
    assert 'image = "index.docker.io/library/python",' in text
    assert 'image = "index.docker.io/library/redis",' in text
    assert 'image = "index.docker.io/grafana/grafana",' in text
    assert 'image = "mirror.example.com/python",' in text
    # neither digest nor tag: rules_docker pulled "latest"; oci_pull needs one of them
    assert textwrap.indent(textwrap.dedent('''\
        oci_pull(
            name = "mirror",
            image = "mirror.example.com/python",
            tag = "latest",
        )'''), "    ") in text
    assert "index.docker.io/python written as index.docker.io/library/python" in result.out


def test_layers_become_dependency_groups_once_and_args_the_cmd(ws, run, buildifier):
    ws.write("ml/BUILD", PY3 + textwrap.dedent("""\
        load("@pip//:requirements.bzl", "requirement")

        py3_image(
            name = "trainer",
            srcs = ["trainer.py"],
            args = [
                "--epochs=10",
                "--device=cpu",
            ],
            base = "@python_base//image",
            layers = [
                requirement("torch"),
                "//ml/common:data",
                "//ml/common:features",
            ],
        )

        py3_image(
            name = "evaluator",
            srcs = ["evaluator.py"],
            args = ["--model=$(location :model.pt)"],
            data = [":model.pt"],
        )
        """), dedent=False)
    result = run(str(ws.root))
    assert result.code == 2
    text = ws.read("ml/BUILD")
    assert textwrap.dedent("""\
        py_image(
            name = "trainer",
            base = "@python_base",
            binary = ":trainer.binary",
            cmd = [
                "--epochs=10",
                "--device=cpu",
            ],
            layer_groups = {
                "torch": requirement("torch"),
                "data": "//ml/common:data",
                "features": "//ml/common:features",
            },
        )
        """) in text
    assert ("left ml/BUILD:19 evaluator (py3_image): args use make variables ($(location ...))"
            in result.out)
    assert buildifier(ws.root / "ml/BUILD")[0]


def test_every_target_is_named_once(ws, run):
    ws.write("third_party/images.bzl", f'''\
        """Images."""

        load({CONTAINER}, "container_image", "container_pull")

        def images():
            container_pull(
                name = "base",
                digest = "sha256:cccc",
                registry = "registry.example.com",
                repository = "base",
                cred_helpers = ["gcr"],
            )

        def with_files(name):
            container_image(
                name = name,
                files = ["a.txt"],
            )
        ''')
    result = run(str(ws.root), "--json")
    report = _json(result)
    names = [(t["path"], t["name"]) for t in report["left"] + report["migrated"]]
    assert len(names) == len(set(names)) == 2


def test_a_container_layer_in_layers_keeps_the_image(ws, run):
    ws.write("web/BUILD", f"""\
        load({CONTAINER}, "container_image", "container_layer")

        container_layer(
            name = "static",
            files = ["index.html"],
        )

        container_image(
            name = "web",
            base = "@nginx//image",
            layers = [":static"],
            tars = [":config.tar"],
        )
        """)
    original = ws.read("web/BUILD")
    result = run(str(ws.root))
    assert result.code == 2
    assert ("left web/BUILD:8 web (container_image): layers :static is a container_layer that "
            "stays rules_docker (web/BUILD:3): make it a tar rule (pkg_tar)") in result.out
    assert ws.read("web/BUILD") == original
