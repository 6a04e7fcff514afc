"""Builders for runfiles trees and manifests used by the unit tests."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path


def write(path: Path, text: str = "", mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def members(tar_path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(tar_path) as t:
        return {m.name: m for m in t.getmembers()}


def read_member(tar_path: Path, name: str) -> bytes:
    with tarfile.open(tar_path) as t:
        f = t.extractfile(name)
        assert f is not None
        return f.read()


def manifest(path: Path, lines: list[str], workspace: str = "ws", launcher: str | None = None):
    head = ["pycross-image-manifest\t1", f"workspace\t{workspace}"]
    if launcher:
        head.append(launcher)
    path.write_text("".join(line + "\n" for line in head + lines))
    return path


def tar_bytes(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def execroot_tree(root: Path) -> Path:
    """A small execroot: sources, a generated file, an external repo, a launcher."""
    write(root / "pkg" / "main.py", "print('hi')\n")
    write(root / "pkg" / "data.txt", "data\n")
    write(root / "bazel-out" / "bin" / "pkg" / "app", "#!/usr/bin/env python3\n", 0o755)
    write(root / "external" / "pip_deps_six" / "site-packages" / "six.py", "# six\n")
    os.makedirs(root / "bazel-out" / "bin" / "pkg" / "tree" / "sub", exist_ok=True)
    write(root / "bazel-out" / "bin" / "pkg" / "tree" / "sub" / "a.txt", "a\n")
    return root
