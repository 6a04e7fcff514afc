"""Test double of rules_docker's container_pull: serves local OCI layouts as `@name//image`."""

load("//container/private:double.bzl", "pull_impl")

def _container_pull_impl(rctx):
    arch = rctx.attr.architecture or "amd64"
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.attr.name)
    rctx.file("image/.keep", "")
    lines = pull_impl(rctx, rctx.attr.repository, [arch], "image", 'load("@io_bazel_rules_docker//container/private:layout.bzl", "oci_layout_dir")')
    lines.append('alias(name = "image", actual = ":%s")' % arch)
    rctx.file("image/BUILD.bazel", "\n".join(lines) + "\n")

container_pull = repository_rule(
    implementation = _container_pull_impl,
    environ = ["PYCROSS_TEST_IMAGES"],
    attrs = {
        "architecture": attr.string(default = "amd64"),
        "cpu_variant": attr.string(),
        "cred_helpers": attr.label_list(),
        "digest": attr.string(),
        "docker_client_config": attr.string(),
        "import_tags": attr.string_list(),
        "os": attr.string(default = "linux"),
        "os_features": attr.string_list(),
        "os_version": attr.string(),
        "platform_features": attr.string_list(),
        "registry": attr.string(mandatory = True),
        "repository": attr.string(mandatory = True),
        "tag": attr.string(default = "latest"),
        "timeout": attr.int(),
    },
)
