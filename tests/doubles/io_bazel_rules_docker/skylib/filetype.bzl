"""Test double of rules_docker v0.25.0 `skylib/filetype.bzl`: accepted file extensions.

Same lists as upstream: a layer tar is `.tar`, `.tar.xz`, `.tar.gz` or
`.tgz` (no zstd, no bzip2); a base image file is one of those too.
"""

tgz = [".tar.gz", ".tgz"]

tar = [".tar", ".tar.xz"] + tgz

deb = [".deb", ".udeb"]

container = tar
