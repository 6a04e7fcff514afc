"""oci_layout_dir: a pulled OCI layout as a tree artifact (test double)."""

load(":double.bzl", "layout_dir_rule")

oci_layout_dir = layout_dir_rule("//oci/private:oci_assemble.py")
