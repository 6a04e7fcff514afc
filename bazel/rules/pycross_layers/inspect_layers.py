"""Describes existing layer files: what ``pycross-image show`` prints."""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib

from .errors import LayerError
from .layers import LayerResult

_MEDIA = {b"\x1f\x8b": "gzip", b"\x28\xb5": "zstd"}
CHUNK = 1 << 20


def _chunks(path: str, method: str):
    with open(path, "rb") as f:
        if method == "none":
            while chunk := f.read(CHUNK):
                yield chunk
        elif method == "gzip":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while chunk := f.read(CHUNK):
                yield d.decompress(chunk)
            yield d.flush()
        else:
            try:
                import zstandard  # type: ignore[import-not-found]
            except ImportError:
                raise LayerError(f"{path}: reading zstd layers needs `pip install zstandard`"
                                 ) from None
            yield from zstandard.ZstdDecompressor().read_to_iter(f)


class _Stream:
    """A read-only file object over decompressed chunks, hashing as it goes."""

    def __init__(self, chunks) -> None:
        self._chunks = chunks
        self._buf = b""
        self.hash = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            self.hash.update(chunk)
            self.size += len(chunk)
            self._buf += chunk
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def describe(path: str, name: str | None = None) -> LayerResult:
    """Reads one layer file (tar, tar.gz or tar.zst) and summarises it."""
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        method = _MEDIA.get(magic, "none")
        stream = _Stream(_chunks(path, method))
        entries = content = 0
        with tarfile.open(fileobj=stream, mode="r|") as t:
            for m in t:
                entries += 1
                content += m.size if m.isfile() else 0
        stream.read()  # the end-of-archive blocks count towards the diff_id
    except (OSError, tarfile.TarError, zlib.error) as e:
        raise LayerError(f"{path}: not a readable layer: {e}") from None
    from .compress import MEDIA_TYPES

    return LayerResult(
        name=name or os.path.basename(path),
        file=os.path.basename(path),
        entries=entries,
        bytes=content,
        tar_bytes=stream.size,
        diff_id="sha256:" + stream.hash.hexdigest(),
        digest="sha256:" + digest.hexdigest(),
        size=os.path.getsize(path),
        media_type=MEDIA_TYPES[method],
    )


def layer_name(path: str) -> str:
    """``bazel-bin/app/layers.packages_layer.tar.gz`` -> ``packages``."""
    base = os.path.basename(path)
    for ext in (".tar.gz", ".tar.zst", ".tgz", ".tar"):
        if base.endswith(ext):
            base = base[: -len(ext)]
            break
    if base.endswith("_layer"):
        base = base[: -len("_layer")].rpartition(".")[2]
    return base
