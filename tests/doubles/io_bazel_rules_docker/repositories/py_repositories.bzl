"""Test double: rules_docker's py_deps()."""

def py_deps():
    pass
