"""What the Starlark rules and the Python core both know, written once.

Starlark loads this file; the core (`contract.py`) reads the same assignments
with Python's `ast.literal_eval`, so keep every value a literal: strings,
integers, lists and dicts of them, no expressions, no functions.
tests/unit/test_contract.py fails when either side keeps its own copy.
"""

# Layer compression methods, the default first, and each one's file extension.
COMPRESSION_METHODS = ["gzip", "zstd", "none"]

COMPRESSION_EXTENSIONS = {
    "gzip": ".tar.gz",
    "none": ".tar",
    "zstd": ".tar.zst",
}

# The default layer groups, before and after the custom ones, in image order.
# Their names are reserved: a custom group may not take one.
DEFAULT_GROUPS_BEFORE = ["interpreter", "packages"]

DEFAULT_GROUPS_AFTER = ["app"]

# A group name: a letter or '_', then letters, digits or '_', at most
# GROUP_NAME_MAX characters (it becomes part of file and output group names).
GROUP_NAME_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"

GROUP_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"

GROUP_NAME_MAX = 64

# The manifest py_image_layers writes: a header line, then one tab-separated
# record per line; each kind with its number of fields (the kind included).
MANIFEST_MAGIC = "pycross-image-manifest"

MANIFEST_VERSION = "1"

MANIFEST_FIELDS = {
    "empty": 2,
    "file": 3,
    "launcher": 3,
    "link": 3,
    "member": 3,
    "rootfile": 3,
    "rootlink": 3,
    "workspace": 2,
}
