# Test double: template files named as in rules_docker v0.25.0 container/ (unused).
