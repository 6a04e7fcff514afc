"""The deterministic tar writer. Every determinism rule of a layer lives here.

* order: entries sorted by the bytes of their path;
* time: one fixed mtime for every entry (``TarPolicy.mtime``, default 0);
* owner: uid and gid 0, empty user and group names;
* mode: directories 0755, symlinks 0777; a regular file is 0755 when it is
  executable by its content (it starts with ``#!`` or the ELF magic
  ``\x7fELF``), else 0644, whatever its mode bits on disk (Bazel's remote
  execution hands every input over as executable, so modes from disk would
  make a remote layer differ from a local one); setuid, setgid and sticky
  bits never survive;
* format: ustar headers, with a PAX header (named ``././@PaxHeader``) only
  for a path or link target longer than 100 bytes or not ASCII, or a size
  beyond ustar's limit; no device numbers; the archive ends with two zero
  blocks and no further padding.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from .entries import DIR, FILE, SYMLINK, Entry, describe_mode
from .errors import LayerError

BLOCK = 512
CHUNK = 1 << 20
_TYPEFLAG = {FILE: b"0", SYMLINK: b"2", DIR: b"5"}
_MAX_USTAR_SIZE = 0o77777777777
#: An mtime must fit the 11 octal digits of a ustar header (no PAX or base-256 times:
#: they would change the bytes of every layer for no gain).
MTIME_LIMIT = 8**11


def check_mtime(mtime) -> int:
    """Refuses an mtime a ustar header cannot hold: negative, or 8**11 and above."""
    if isinstance(mtime, bool) or not isinstance(mtime, int):
        raise LayerError(f"--mtime {mtime!r}: must be an integer number of seconds")
    if not 0 <= mtime < MTIME_LIMIT:
        raise LayerError(f"--mtime {mtime}: must be 0..{MTIME_LIMIT - 1} (seconds since the "
                         "epoch; a tar header holds 11 octal digits)")
    return mtime
#: How a source file is opened (a fifo swapped in after the walk must not hang).
SOURCE_FLAGS = (os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
                | getattr(os, "O_NONBLOCK", 0))
_EXEC_MAGIC = (b"#!", b"\x7fELF")
HEAD_BYTES = 4  # the longest of _EXEC_MAGIC: all a file's mode depends on


def executable_content(head: bytes) -> bool:
    """Whether a file whose first bytes are ``head`` is a script or an ELF binary."""
    return head.startswith(_EXEC_MAGIC)


@dataclass(frozen=True)
class TarPolicy:
    """The fixed metadata every entry gets."""

    mtime: int = 0
    dir_mode: int = 0o755
    exec_mode: int = 0o755
    file_mode: int = 0o644
    link_mode: int = 0o777

    def __post_init__(self) -> None:
        check_mtime(self.mtime)

    def mode(self, entry: Entry | None, head: bytes = b"") -> int:
        """``head``: a file's first bytes (at least HEAD_BYTES of them, unless
        the file is shorter); its mode on disk never counts."""
        if entry is None or entry.kind == DIR:
            return self.dir_mode
        if entry.kind == SYMLINK:
            return self.link_mode
        return self.exec_mode if executable_content(head) else self.file_mode


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _pax_record(key: str, value: bytes) -> bytes:
    body = b" " + key.encode("ascii") + b"=" + value + b"\n"
    n = len(body)
    size = n + len(str(n))
    if len(str(size)) != len(str(n)):
        size = n + len(str(size))
    return str(size).encode("ascii") + body


def _header_generic(name: bytes, mode: int, size: int, mtime: int, typeflag: bytes,
            linkname: bytes = b"") -> bytes:
    h = bytearray(BLOCK)
    h[0:len(name)] = name
    h[100:108] = _octal(mode, 8)
    h[108:116] = _octal(0, 8)
    h[116:124] = _octal(0, 8)
    h[124:136] = _octal(size, 12)
    h[136:148] = _octal(mtime, 12)
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    h[257:265] = b"ustar\x0000"
    h[329:337] = _octal(0, 8)
    h[337:345] = _octal(0, 8)
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


_ZERO_ID = _octal(0, 8)  # uid, gid, devmajor, devminor
_MAGIC = b"ustar\x0000"
_FIXED_SUM = 4 * sum(_ZERO_ID) + sum(_MAGIC) + 8 * ord(" ")  # + the checksum field's spaces
_AFTER_LINK = _MAGIC + b"\0" * 64 + _ZERO_ID + _ZERO_ID + b"\0" * 167


def _header(name: bytes, mode: int, size: int, mtime: int, typeflag: bytes,
            linkname: bytes = b"") -> bytes:
    """One ustar header block: same bytes as ``_header_generic``, built without a
    512-byte scratch buffer and summing only the fields that vary (hot path:
    one call per entry)."""
    mode_f = b"%07o\0" % mode
    size_f = b"%011o\0" % size
    mtime_f = b"%011o\0" % mtime
    if (len(name) > 100 or len(linkname) > 100 or len(mode_f) != 8 or len(size_f) != 12
            or len(mtime_f) != 12 or len(typeflag) != 1):
        return _header_generic(name, mode, size, mtime, typeflag, linkname)
    checksum = (sum(name) + sum(mode_f) + sum(size_f) + sum(mtime_f) + typeflag[0]
                + sum(linkname) + _FIXED_SUM)
    return b"".join((
        name, b"\0" * (100 - len(name)), mode_f, _ZERO_ID, _ZERO_ID, size_f, mtime_f,
        b"%06o\0 " % checksum, typeflag, linkname, b"\0" * (100 - len(linkname)),
        _AFTER_LINK,
    ))


class FileHeaders:
    """Headers of regular files under one policy, with every constant part and its
    checksum share computed once (hot path: one call per file). Same bytes as
    ``entry_header``; ``None`` where a PAX header is needed (long or non-ASCII
    name, huge size): then ``entry_header`` builds it."""

    def __init__(self, policy: TarPolicy) -> None:
        mtime_f = b"%011o\0" % policy.mtime
        tail = b"0" + b"\0" * 100 + _AFTER_LINK  # typeflag, no link name, the rest
        self._mid: dict[bool, bytes] = {}
        self._base: dict[bool, int] = {}
        for executable, mode in ((False, policy.file_mode), (True, policy.exec_mode)):
            mode_f = b"%07o\0" % mode
            if len(mode_f) != 8:  # not a ustar mode: leave it all to entry_header
                self._mid = {}
                break
            self._mid[executable] = mode_f + _ZERO_ID + _ZERO_ID
            self._base[executable] = (sum(mode_f) + sum(mtime_f) + ord("0") + _FIXED_SUM)
        self._mtime_f = mtime_f
        self._tail = tail

    def file(self, name: str, size: int, head: bytes) -> bytes | None:
        """The header of a regular file named ``name`` whose first bytes are ``head``."""
        if not name.isascii() or len(name) > 100 or size > _MAX_USTAR_SIZE or not self._mid:
            return None
        raw = name.encode("ascii")
        executable = head.startswith(_EXEC_MAGIC)
        size_f = b"%011o\0" % size
        checksum = self._base[executable] + sum(raw) + sum(size_f)
        # struct's 100s pads the name with NULs to its 100 bytes
        return _FILE_HEADER.pack(raw, self._mid[executable], size_f, self._mtime_f,
                                 b"%06o\0 " % checksum, self._tail)


#: name, mode + uid + gid, size, mtime, checksum, typeflag + link name + the rest
_FILE_HEADER = struct.Struct("100s24s12s12s8s356s")


def entry_header(name: str, entry: Entry | None, policy: TarPolicy, head: bytes = b"",
                 size: int | None = None) -> bytes:
    """The header block(s) for ``name`` (a directory when ``entry`` is None);
    ``head``: a file's first bytes, which decide its mode; ``size``: a file's
    size when the entry does not know it (``source_size``)."""
    kind = DIR if entry is None else entry.kind
    raw_name = name.encode("utf-8", "surrogateescape")
    if kind == DIR:
        raw_name += b"/"
    link = (entry.target or "").encode("utf-8", "surrogateescape") if kind == SYMLINK else b""
    if kind != FILE or entry is None:
        size = 0
    elif size is None:
        size = entry.size or 0
    pax = b""
    if len(raw_name) > 100 or not raw_name.isascii():
        pax += _pax_record("path", raw_name)
        raw_name = raw_name[:100].decode("ascii", "replace").encode("ascii", "replace")
    if len(link) > 100 or not link.isascii():
        pax += _pax_record("linkpath", link)
        link = link[:100].decode("ascii", "replace").encode("ascii", "replace")
    if size > _MAX_USTAR_SIZE:
        pax += _pax_record("size", str(size).encode("ascii"))
    out = b""
    if pax:
        out += _header(b"././@PaxHeader", 0o644, len(pax), policy.mtime, b"x")
        out += pax + b"\0" * (-len(pax) % BLOCK)
    header_size = 0 if size > _MAX_USTAR_SIZE else size  # the PAX 'size' record rules
    return out + _header(raw_name, policy.mode(entry, head), header_size, policy.mtime,
                         _TYPEFLAG[kind], link)


END = bytes(2 * BLOCK)  # the end of every archive: two zero blocks


def header_only(entry: Entry | None) -> bool:
    """Whether an item's record is its header alone: a directory, a link, or a
    file known to be empty (no source, or size 0); any other file is opened."""
    return entry is None or entry.kind != FILE or entry.source is None or entry.size == 0


def source_size(fd: int, entry: Entry) -> int:
    """The size of the open source file of ``entry``: the walk of a directory does
    not stat its files (the writer learns the size from the descriptor it reads),
    and a size known before (a manifest's input) must not have changed."""
    try:
        st = os.fstat(fd)
    except OSError as e:
        raise LayerError(f"{entry.origin}: cannot read {entry.source}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise LayerError(f"{entry.origin}: {entry.source} is {describe_mode(st.st_mode)}, "
                         "not a regular file")
    if entry.size is not None and st.st_size != entry.size:
        raise LayerError(f"{entry.origin}: {entry.source} changed size while being read")
    return st.st_size


@dataclass
class TarStats:
    """What one written tar holds."""

    entries: int = 0
    content_bytes: int = 0
    tar_bytes: int = 0
    diff_id: str = ""


class _Sink:
    """Buffers small writes, hashes the uncompressed stream, forwards it downstream."""

    def __init__(self, downstream, hashing: bool = True) -> None:
        self._down = downstream
        self._buf = bytearray()
        self._hash = hashlib.sha256() if hashing else None
        self.size = 0

    def write(self, data) -> None:
        self._buf += data
        if len(self._buf) >= CHUNK:
            self.flush()

    def write_large(self, data: bytes) -> None:
        self.flush()
        if self._hash is not None:
            self._hash.update(data)
        self._down.write(data)
        self.size += len(data)

    def flush(self) -> None:
        if self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            if self._hash is not None:
                self._hash.update(data)
            self._down.write(data)
            self.size += len(data)

    def hexdigest(self) -> str | None:
        return None if self._hash is None else self._hash.hexdigest()


def write_tar(downstream, items: Iterable[tuple[str, Entry | None]],
              policy: TarPolicy, digest: bool = True) -> TarStats:
    """Writes ``items`` (already sorted (name, entry) pairs) as one tar stream.

    ``downstream`` has a ``write(bytes)`` method; a directory is passed as
    ``(name, None)`` or as an entry of kind DIR. ``digest``: whether to
    compute the diff_id (``TarStats.diff_id`` stays empty otherwise).
    """
    sink = _Sink(downstream, hashing=digest)
    stats = TarStats()
    for name, entry in items:
        stats.entries += 1
        if header_only(entry):
            sink.write(entry_header(name, entry, policy))
            continue
        try:  # os.open/os.read: no file object per entry (hot path on many small files)
            fd = os.open(entry.source, SOURCE_FLAGS)
            try:
                size = remaining = source_size(fd, entry)
                # The first read also gives the bytes that decide the mode, so
                # the header goes out after it (a short read is topped up).
                chunk = os.read(fd, min(CHUNK, remaining))
                while 0 < len(chunk) < min(HEAD_BYTES, remaining):
                    more = os.read(fd, remaining - len(chunk))
                    if not more:
                        break
                    chunk += more
                sink.write(entry_header(name, entry, policy, chunk[:HEAD_BYTES], size))
                while chunk:
                    if len(chunk) >= CHUNK // 4:
                        sink.write_large(chunk)
                    else:
                        sink.write(chunk)
                    remaining -= len(chunk)
                    if remaining <= 0:
                        break
                    chunk = os.read(fd, min(CHUNK, remaining))
            finally:
                os.close(fd)
        except OSError as e:
            raise LayerError(f"{entry.origin}: cannot read {entry.source}: {e.strerror}") from None
        if remaining:
            raise LayerError(f"{entry.origin}: {entry.source} changed size while being read")
        stats.content_bytes += size
        pad = -size % BLOCK
        if pad:
            sink.write(b"\0" * pad)
    sink.write(b"\0" * (2 * BLOCK))
    sink.flush()
    stats.tar_bytes = sink.size
    hexdigest = sink.hexdigest()
    stats.diff_id = "" if hexdigest is None else "sha256:" + hexdigest
    return stats
