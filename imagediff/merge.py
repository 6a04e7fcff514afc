"""Applying layers in order to a table of per-path metadata (never file contents).

Each layer is read once, as a stream: gzip, zstd or plain tar, told apart by
their magic bytes. A regular file's content is hashed (sha256) while it is
read; only the digest is kept. OCI whiteouts (``.wh.<name>`` removes ``<name>``
of the layers below, ``.wh..wh..opq`` empties a directory of what the layers
below put there), a non-directory replacing a directory (its subtree goes),
hard links (the target's content digest) and directories that are only implied
by their children (``0755 0:0``, like a container runtime creates them) are
handled as a container runtime's overlay filesystem would.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any, Callable

from imagediff.errors import BadInput
from imagediff.load import Layer, load

CHUNK = 1 << 20
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class Entry:
    """What the merged filesystem holds at one path."""

    kind: str  # file, dir, symlink, char, block, fifo
    mode: int  # permission bits, with setuid/setgid/sticky
    uid: int
    gid: int
    size: int = 0
    digest: str = ""  # "sha256:<hex>" of a file's content
    target: str = ""  # a symlink's target; "major,minor" of a device
    implicit: bool = False  # a directory no layer lists, implied by its children


IMPLICIT_DIR = Entry("dir", 0o755, 0, 0, implicit=True)


class _Hashing(io.RawIOBase):
    """Passes a stream through, hashing what goes by."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.hash.update(data)
        return n

    def drain(self) -> str:
        while self.read(CHUNK):
            pass
        return "sha256:" + self.hash.hexdigest()


def _decompressed(raw: IO[bytes]) -> IO[bytes]:
    buffered = io.BufferedReader(raw, CHUNK)  # type: ignore[arg-type]
    magic = buffered.peek(4)[:4]
    if magic.startswith(GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    if magic == ZSTD_MAGIC:
        return _zstd_reader(buffered)
    return buffered


def _zstd_reader(stream: IO[bytes]) -> IO[bytes]:
    try:
        from compression import zstd  # type: ignore[import-not-found]  # Python 3.14+

        return zstd.ZstdFile(stream, "rb")
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError:
        raise ValueError("zstd layer: install the zstandard package to read it") from None
    return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)


def normalise(name: str) -> str:
    """A tar member name as an absolute path: ``./usr/bin/`` -> ``/usr/bin``."""
    path = posixpath.normpath("/" + name.replace("\\", "/"))
    return "/" if path == "//" else path


class Filesystem:
    """The merged view: path -> :class:`Entry`, with a children index for subtrees."""

    def __init__(self, capture: Callable[[str], bool] | None = None,
                 capture_limit: int = 1 << 20) -> None:
        self.entries: dict[str, Entry] = {}
        self.children: dict[str, set[str]] = {}
        # contents of a few small files the caller asks for (e.g. launcher scripts)
        self.capture = capture
        self.capture_limit = capture_limit
        self.captured: dict[str, bytes] = {}

    def _ensure_parents(self, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent != "/" and parent not in self.entries:
            self.entries[parent] = IMPLICIT_DIR
            self.children.setdefault(posixpath.dirname(parent), set()).add(parent)
            parent = posixpath.dirname(parent)
        if parent != "/" and self.entries[parent].kind != "dir":
            # a file where a directory is needed (no runtime allows it): a directory wins
            self.remove(parent)
            self.put(parent, IMPLICIT_DIR)

    def put(self, path: str, entry: Entry) -> None:
        old = self.entries.get(path)
        if old is not None and old.kind == "dir" and entry.kind != "dir":
            self.remove(path)
        self._ensure_parents(path)
        self.entries[path] = entry
        self.children.setdefault(posixpath.dirname(path), set()).add(path)

    def remove(self, path: str) -> None:
        for child in list(self.children.pop(path, ())):
            self.remove(child)
        if self.entries.pop(path, None) is not None:
            siblings = self.children.get(posixpath.dirname(path))
            if siblings is not None:
                siblings.discard(path)

    def apply(self, layer: Layer) -> None:
        """Reads ``layer`` once and applies it."""
        try:
            self._apply(layer)
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001 - any decoding failure is a corrupt layer
            text = str(exc) or type(exc).__name__
            raise BadInput(layer.where, f"corrupt layer: {text}") from None

    def _apply(self, layer: Layer) -> None:
        added: set[str] = set()
        with layer.open() as raw:
            stored = _Hashing(raw)
            unpacked = _Hashing(_decompressed(stored))
            with tarfile.open(fileobj=unpacked, mode="r|", bufsize=1 << 16) as tar:
                for member in tar:
                    self._member(tar, member, added)
            diff_id = unpacked.drain()
            digest = stored.drain()
        if layer.digest and layer.digest.startswith("sha256:") and digest != layer.digest:
            raise BadInput(layer.where, f"corrupt layer: its sha256 is {digest}, "
                                        f"the manifest says {layer.digest}")
        if layer.diff_id and layer.diff_id.startswith("sha256:") and diff_id != layer.diff_id:
            raise BadInput(layer.where, f"corrupt layer: its uncompressed sha256 is {diff_id}, "
                                        f"the config's rootfs.diff_ids say {layer.diff_id}")

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo, added: set[str]) -> None:
        path = normalise(member.name)
        if path == "/":
            return
        parent, base = posixpath.split(path)
        if base == OPAQUE:
            for child in list(self.children.get(parent, ())):
                if child not in added:
                    self.remove(child)
            self._ensure_parents(path)
            return
        if base.startswith(WHITEOUT):
            gone = posixpath.join(parent, base[len(WHITEOUT):])
            if gone not in added:
                self.remove(gone)
            return
        entry = self._entry(tar, member, path)
        self.put(path, entry)
        added.add(path)

    def _entry(self, tar: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> Entry:
        mode, uid, gid = member.mode & 0o7777, member.uid, member.gid
        if member.isdir():
            return Entry("dir", mode, uid, gid)
        if member.issym():
            return Entry("symlink", mode, uid, gid, target=member.linkname)
        if member.islnk():
            target = self.entries.get(normalise(member.linkname))
            if target is None or target.kind != "file":
                raise ValueError(f"hard link {path} -> {normalise(member.linkname)}: "
                                 "no such file in this or a lower layer")
            return target
        if member.ischr() or member.isblk():
            kind = "char" if member.ischr() else "block"
            return Entry(kind, mode, uid, gid, target=f"{member.devmajor},{member.devminor}")
        if member.isfifo():
            return Entry("fifo", mode, uid, gid)
        if not member.isfile():
            raise ValueError(f"{path}: unsupported tar entry type {member.type!r}")
        digest = hashlib.sha256()
        size = 0
        keep: list[bytes] | None = None
        if self.capture is not None and member.size <= self.capture_limit and self.capture(path):
            keep = []
        stream = tar.extractfile(member)
        if stream is not None:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                digest.update(chunk)
                if keep is not None:
                    keep.append(chunk)
        if keep is not None:
            self.captured[path] = b"".join(keep)
        return Entry("file", mode, uid, gid, size=size, digest="sha256:" + digest.hexdigest())


def merge(layers: Iterable[Layer]) -> dict[str, Entry]:
    """The filesystem of an image: every path (absolute) and its entry."""
    fs = Filesystem()
    for layer in layers:
        fs.apply(layer)
    return fs.entries


@dataclass
class ReadImage:
    """An image read through: its config, its merged files, the captured contents."""

    config: dict[str, Any]
    files: dict[str, Entry]
    captured: dict[str, bytes]


def read_image(ref: str, platform: str | None = None,
               capture: Callable[[str], bool] | None = None) -> ReadImage:
    """Loads and merges ``ref``; keeps the bytes of the small files ``capture`` selects
    (only those whose final content they are)."""
    with load(ref, platform) as image:
        fs = Filesystem(capture)
        for layer in image.layers:
            fs.apply(layer)
    captured = {}
    for path, data in fs.captured.items():
        entry = fs.entries.get(path)
        if entry is not None and entry.digest == "sha256:" + hashlib.sha256(data).hexdigest():
            captured[path] = data
    return ReadImage(image.config, fs.entries, captured)

