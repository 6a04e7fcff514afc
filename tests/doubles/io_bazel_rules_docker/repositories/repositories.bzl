"""Test double: rules_docker's repositories() (nothing to fetch offline)."""

def repositories():
    pass
