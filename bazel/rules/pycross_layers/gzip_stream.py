"""gzip, standard library only, deflated block-parallel (pigz style); the bytes
never depend on the thread count. See ``compress`` for the format contract."""

from __future__ import annotations

import functools
import struct
import zlib
from collections import deque
from typing import BinaryIO

#: Uncompressed bytes per independently deflated gzip block (pigz's default).
#: Changing it changes the output bytes: it is part of the format contract.
GZIP_BLOCK = 128 * 1024
_WINDOW = 32 * 1024  # deflate's window: the preset dictionary of each block
_MEM_LEVEL = 8  # what gzip and pigz use
_GZIP_OS = 255  # "unknown": never the build host's OS
#: In-flight blocks per worker thread: bounds memory, keeps every core busy.
_INFLIGHT_PER_THREAD = 4


def _crc_shift_tables(length: int) -> tuple:
    """Byte tables of the linear map L with crc32(A + B) == L(crc32(A)) ^ crc32(B).

    ``L`` depends only on ``len(B)``. It is read off zlib itself:
    ``zlib.crc32(B, x) == L(x) ^ zlib.crc32(B)`` for any ``B`` of that length,
    evaluated on the 32 basis vectors and tabulated per byte of ``x``.
    """
    zeros = bytes(length)
    base = zlib.crc32(zeros)
    basis = [zlib.crc32(zeros, 1 << bit) ^ base for bit in range(32)]
    tables = []
    for byte_index in range(4):
        table = []
        for value in range(256):
            acc = 0
            for bit in range(8):
                if value >> bit & 1:
                    acc ^= basis[byte_index * 8 + bit]
            table.append(acc)
        tables.append(tuple(table))
    return tuple(tables)


@functools.lru_cache(maxsize=1)
def _block_shift() -> tuple:
    """The shift tables for GZIP_BLOCK, built on first use (not at import: an
    uncompressed layer never needs them)."""
    return _crc_shift_tables(GZIP_BLOCK)


def _crc_after_block(crc: int, block_crc: int) -> int:
    """crc32 of ``A + B`` from ``crc32(A)`` and ``crc32(B)``, ``len(B) == GZIP_BLOCK``."""
    t0, t1, t2, t3 = _block_shift()
    return (
        t0[crc & 0xFF] ^ t1[crc >> 8 & 0xFF] ^ t2[crc >> 16 & 0xFF] ^ t3[crc >> 24] ^ block_crc
    )


def _deflate_block(level: int, block: bytes, zdict: bytes, last: bool):
    """One block as raw deflate: sync-flushed (or final) and primed with ``zdict``.

    Returns ``(compressed, crc32(block))``. Runs on worker threads: zlib
    releases the GIL for the deflate and the CRC.
    """
    if zdict:
        z = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, _MEM_LEVEL,
                             zlib.Z_DEFAULT_STRATEGY, zdict)
    else:
        z = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, _MEM_LEVEL)
    out = z.compress(block) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return out, zlib.crc32(block)


class _SwitchInterval:
    """Shortens the GIL switch interval while a parallel gzip stream is open.

    A worker thread needs the GIL for a moment after every zlib call. While
    the tar writer runs Python code (many small files), a waiting worker only
    gets it at the next forced switch, every 5 ms by default, which would
    idle the workers most of the time. Reference-counted, restored on close.
    """

    def __init__(self, interval: float) -> None:
        import threading

        self._interval = interval
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0.0

    def enter(self) -> None:
        import sys

        with self._lock:
            if self._users == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self._interval))
            self._users += 1

    def leave(self) -> None:
        import sys

        with self._lock:
            self._users -= 1
            if self._users == 0:
                sys.setswitchinterval(self._saved)


_switch_interval = _SwitchInterval(0.0005)


class _Gzip:
    """A single-member gzip stream, deflated block-parallel; bytes independent of threads."""

    def __init__(self, raw: BinaryIO, level: int, threads: int) -> None:
        self._raw = raw
        self._level = level
        self._threads = threads
        self._buf = bytearray()
        self._zdict = b""
        self._crc = 0
        self._size = 0
        self._pool = None
        self._inflight: deque = deque()
        self._closed = False
        xfl = 2 if level == 9 else (4 if level == 1 else 0)
        raw.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + bytes((xfl, _GZIP_OS)))

    def write(self, data) -> None:
        if self._closed:
            raise ValueError("write to a closed gzip stream")
        n = len(data)
        if not n:
            return
        self._size += n
        buf = self._buf
        buf += data
        if len(buf) <= GZIP_BLOCK:
            return
        # Keep at least one byte back: the block that ends the stream must be
        # the one flushed with Z_FINISH, and only close() knows which it is.
        cut = (len(buf) - 1) // GZIP_BLOCK * GZIP_BLOCK
        view = memoryview(buf)
        try:
            for start in range(0, cut, GZIP_BLOCK):
                self._submit(bytes(view[start:start + GZIP_BLOCK]), last=False)
        finally:
            view.release()
        del buf[:cut]

    def _submit(self, block: bytes, last: bool) -> None:
        zdict = self._zdict
        self._zdict = block[-_WINDOW:]
        if self._threads == 1:
            self._emit(*_deflate_block(self._level, block, zdict, last), full=not last,
                       block=block)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="pycross-gzip")
            _switch_interval.enter()
        self._inflight.append(
            (self._pool.submit(_deflate_block, self._level, block, zdict, last), last, block)
        )
        while len(self._inflight) > self._threads * _INFLIGHT_PER_THREAD:
            self._drain_one()

    def _drain_one(self) -> None:
        future, last, block = self._inflight.popleft()
        out, block_crc = future.result()
        self._emit(out, block_crc, full=not last, block=block)

    def _emit(self, out: bytes, block_crc: int, full: bool, block: bytes) -> None:
        if full:  # exactly GZIP_BLOCK bytes: the precomputed shift applies
            self._crc = _crc_after_block(self._crc, block_crc)
        else:  # the final, shorter block: extend the running CRC directly
            self._crc = zlib.crc32(block, self._crc)
        self._raw.write(out)

    def __del__(self) -> None:
        # Dropped without close() (the caller failed): stop the pool, restore the GIL
        # switch interval, write nothing more.
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            _switch_interval.leave()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._submit(bytes(self._buf), last=True)
            self._buf = bytearray()
            while self._inflight:
                self._drain_one()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                _switch_interval.leave()
                self._pool = None
        self._raw.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))
