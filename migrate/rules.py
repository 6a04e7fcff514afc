"""Names: which loads are rules_docker's, what this project and rules_oci call things."""

from __future__ import annotations

RULES_DOCKER_REPOS = ("@io_bazel_rules_docker//", "@rules_docker//")
SHIM_LABEL = "@pycross_image//bazel/rules:docker.bzl"
OCI_LABEL = "@pycross_image//bazel/rules:oci.bzl"
RULES_OCI_DEFS = "@rules_oci//oci:defs.bzl"
RULES_OCI_PULL = "@rules_oci//oci:pull.bzl"
PY3_IMAGE_LABEL = "@io_bazel_rules_docker//python3:image.bzl"

# Substrings a file must contain to be worth parsing (checked on raw bytes).
PREFILTER = (b"rules_docker", b"rules:docker.bzl")

# rules_docker symbol -> the kind of call it makes
DOCKER_KINDS = {
    "py3_image": "py3_image",
    "container_image": "container_image",
    "container_push": "container_push",
    "container_pull": "container_pull",
    "container_layer": "container_layer",
    "container_bundle": "container_bundle",
    "container_test": "container_test",
    "container_load": "container_load",
    "container_import": "container_import",
}

def docker_kind(label: str, symbol: str) -> str | None:
    """The kind of a loaded symbol, or None when the tool does not care about it."""
    if label == SHIM_LABEL and symbol == "py3_image":
        return "py3_image"
    if not label.startswith(RULES_DOCKER_REPOS):
        return None
    if symbol == "py_image" and label.endswith("//python:image.bzl"):
        return "py_image"
    return DOCKER_KINDS.get(symbol)


def is_rules_docker(label: str) -> bool:
    return label.startswith(RULES_DOCKER_REPOS)


# buildifier's argument order (tables.NamePriority); others sort by name at 0
NAME_PRIORITY = {
    "name": -99,
    "gwt_name": -98,
    "package_name": -97,
    "visible_node_name": -96,
    "size": -95,
    "timeout": -94,
    "testonly": -93,
    "src": -92,
    "srcdir": -91,
    "srcs": -90,
    "out": -89,
    "outs": -88,
    "hdrs": -87,
    "has_services": -86,
    "include": -85,
    "of": -84,
    "baseline": -83,
    "destdir": 1,
    "exports": 2,
    "runtime_deps": 3,
    "deps": 4,
    "implementation": 5,
    "implements": 6,
    "alwayslink": 7,
}

# string lists buildifier sorts in BUILD files
SORTED_LIST_ATTRS = frozenset(
    {"srcs", "outs", "hdrs", "data", "files", "imports", "tags", "tools", "visibility",
     "exports", "runtime_deps", "deps"}
)


def attr_sort_key(name: str) -> tuple[int, str]:
    return (NAME_PRIORITY.get(name, 0), name)
