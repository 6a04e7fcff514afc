"""Test double: rules_docker's deps()."""

def deps():
    pass
