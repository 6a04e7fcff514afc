#!/usr/bin/env python3
"""Test-double layer builder, standing in for rules_docker v0.25.0 `container/build_tar.py`.

Reads a JSON manifest written by the double's container_layer and writes one
fresh, deterministic, uncompressed layer tar, the way upstream's build_tar
does: every member under `./`, owner names dropped (numeric ids kept), mtimes
replaced (unless mtime preservation is on), input tars (.tar, .tar.gz, .tgz,
.tar.xz) repacked member by member rather than copied, files placed under
`directory`.  Tests only; written from the upstream behaviour, not its code.
"""

import copy
import io
import json
import lzma
import os
import sys
import tarfile

PORTABLE_MTIME = 946684800  # 2000-01-01T00:00:00Z, upstream's "portable" mtime


def _open_tar(path):
    name = os.path.basename(path)
    if name.endswith(".tar.xz"):
        with lzma.open(path, "rb") as f:
            return tarfile.open(fileobj=io.BytesIO(f.read()), mode="r:")
    if name.endswith((".tar.gz", ".tgz")):
        return tarfile.open(path, mode="r:gz")
    return tarfile.open(path, mode="r:")


class Layer:
    def __init__(self, tar, spec):
        self.tar = tar
        self.directory = spec["directory"].strip("/")
        self.mtime = spec["mtime"]
        self.preserve = spec["enable_mtime_preservation"]
        self.mode = int(spec["mode"], 8)
        self.seen = set()

    def _name(self, path, under_directory=True):
        path = path.lstrip("/")
        if path.startswith("./"):
            path = path[2:]
        if under_directory and self.directory:
            path = self.directory + "/" + path
        return "./" + path.rstrip("/") if path else "."

    def _parents(self, name):
        parts = name.split("/")[1:-1]
        for i in range(1, len(parts) + 1):
            parent = "./" + "/".join(parts[:i])
            if parent not in self.seen:
                info = tarfile.TarInfo(parent)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, self.mtime
                self._add(info)

    def _add(self, info, data=None):
        if info.isdir() and info.name in self.seen:
            return
        self.seen.add(info.name)
        info.uname = info.gname = ""
        self.tar.addfile(info, data)

    def add_file(self, src, dest):
        name = self._name(dest)
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.size = os.path.getsize(src)
        info.mode = self.mode
        info.mtime = int(os.path.getmtime(src)) if self.preserve else self.mtime
        with open(src, "rb") as f:
            self._add(info, f)

    def add_empty(self, path, directory):
        name = self._name(path)
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.mtime = self.mtime
        if directory:
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        else:
            info.mode = self.mode
        self._add(info)

    def add_link(self, link, target):
        name = self._name(link, under_directory=False)
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, self.mtime
        self._add(info)

    def add_tar(self, path):
        with _open_tar(path) as src:
            for member in src:
                info = copy.copy(member)
                info.name = self._name(member.name)
                if member.islnk():
                    info.linkname = self._name(member.linkname)
                if not self.preserve:
                    info.mtime = self.mtime
                info.pax_headers = {}
                self._add(info, src.extractfile(member) if member.isreg() else None)


def main(manifest_path, out):
    with open(manifest_path) as f:
        spec = json.load(f)
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        layer = Layer(tar, spec)
        for entry in spec["files"]:
            layer.add_file(entry["src"], entry["dst"])
        for path in spec["empty_files"]:
            layer.add_empty(path, directory=False)
        for path in spec["empty_dirs"]:
            layer.add_empty(path, directory=True)
        for link, target in spec["symlinks"]:
            layer.add_link(link, target)
        for src in spec["tars"]:
            layer.add_tar(src)


if __name__ == "__main__":
    main(*sys.argv[1:])
