"""rules_docker kinds with no rules_oci equivalent: always left, with what to use instead."""

from __future__ import annotations

# kind -> the reason the report gives
REFUSED = {
    "py_image": "rules_docker's py_image is a Python 2 image; only py3_image is migrated",
    "container_layer": "container_layer has no rules_oci equivalent: build the layer with a tar "
    "rule (pkg_tar) and pass it in the image's tars",
    "container_bundle": "container_bundle has no direct equivalent: use oci_load with repo_tags "
    "(one per image)",
    "container_test": "container_test has no rules_oci equivalent: use container_structure_test",
    "container_load": "container_load has no rules_oci equivalent: use oci_load",
    "container_import": "container_import has no rules_oci equivalent: use oci_pull or oci_image",
}

EXAMPLES = (
    (
        '''\
load("@io_bazel_rules_docker//container:container.bzl", "container_layer")

container_layer(
    name = "layer",
    files = ["a"],
)
''',
        None,
    ),
)
