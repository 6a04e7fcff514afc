"""Test double: rules_oci_dependencies() (nothing to fetch offline)."""

def rules_oci_dependencies():
    pass
