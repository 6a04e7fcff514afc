# Test stand-in for rules_python's venv site init
# (python/private/site_init_template.py, rules_python 2.3.2; the same two
# placeholders since 1.0.0), loaded by the venv's bazel.pth: puts the binary's
# import paths on sys.path, from the runfiles root.
import os
import sys

_SELF = "%site_init_runfiles_path%"
_IMPORTS = "%imports%"

_root = os.path.abspath(__file__)[:-len(_SELF) - 1]
for _path in _IMPORTS.split(":"):
    if _path:
        sys.path.append(os.path.join(_root, _path))
