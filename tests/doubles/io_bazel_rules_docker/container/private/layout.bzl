"""container_import-like target for pulled layouts (test double)."""

load(":double.bzl", "layout_dir_rule")

oci_layout_dir = layout_dir_rule("//container/private:oci_assemble.py")
