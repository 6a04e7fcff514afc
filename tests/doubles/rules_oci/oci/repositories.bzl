"""Test double: oci_register_toolchains() (the double uses umoci/skopeo from PATH)."""

def oci_register_toolchains(name, **kwargs):
    if kwargs:
        fail("oci_register_toolchains: unexpected arguments %s" % kwargs.keys())
    if not name:
        fail("oci_register_toolchains: name is required")
