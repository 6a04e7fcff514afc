"""Compressed output streams for layer tars: ``none``, ``gzip`` and ``zstd``.

Every stream is deterministic: the same uncompressed bytes give the same
compressed bytes on any machine, whatever its core count, the ``threads``
setting, or how the caller chops its ``write()`` calls. A remote cache shared
by 2-core laptops and 64-core CI therefore sees one digest per layer.

gzip (standard library only) is compressed in parallel, pigz style:

* the uncompressed stream is cut into fixed-size blocks (``GZIP_BLOCK`` bytes,
  at fixed offsets, so the cut never depends on the caller or the threads);
* each block is deflated on its own by a thread pool (zlib releases the GIL),
  primed with the last 32 KiB of the block before it as a preset dictionary,
  so back-references still reach across the cut and the ratio stays within a
  fraction of a percent of ``gzip -6``;
* every block but the last ends with a sync flush (byte aligned, not final)
  and the last one with ``Z_FINISH``, so the raw deflate pieces simply
  concatenate into one valid deflate stream;
* the CRC-32 of each block is computed by the worker too and combined in
  order with a precomputed linear operator (crc32_combine for a fixed
  length); the header is fixed (mtime 0, no file name, OS byte 255).

Only a bounded number of blocks is in flight at once, so memory stays a few
megabytes whatever the layer size. One thread (or a small layer) runs inline,
without a pool, and yields the very same bytes.

zstd uses ``compression.zstd`` (Python 3.14+) or the ``zstandard`` package,
always in zstd's multi-threaded frame mode (``nbWorkers >= 1``). zstd's
single-threaded mode (``nbWorkers = 0``) cuts frames differently, so it is
never used: with one worker or sixty-four the bytes are the same. Without a
zstd module the request fails and names what to install; it never falls back.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import deque
from typing import BinaryIO

from .errors import LayerError

METHODS = ("gzip", "zstd", "none")
EXTENSIONS = {"none": ".tar", "gzip": ".tar.gz", "zstd": ".tar.zst"}
MEDIA_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
DEFAULT_LEVELS = {"gzip": 6, "zstd": 3, "none": 0}

#: Uncompressed bytes per independently deflated gzip block (pigz's default).
#: Changing it changes the output bytes: it is part of the format contract.
GZIP_BLOCK = 128 * 1024
_WINDOW = 32 * 1024  # deflate's window: the preset dictionary of each block
_MEM_LEVEL = 8  # what gzip and pigz use
_GZIP_OS = 255  # "unknown": never the build host's OS
#: In-flight blocks per worker thread: bounds memory, keeps every core busy.
_INFLIGHT_PER_THREAD = 4
#: Chunks queued for the writer thread of an uncompressed stream (each at most
#: the tar writer's chunk, 1 MiB), and the size below which a write of a
#: stream that has not started its thread yet is done inline.
_PLAIN_QUEUE = 16
#: zstd workers at most: each holds job buffers of several MB (about 20 MB at
#: level 3), so this bounds memory on many-core machines. The bytes do not
#: depend on it (multi-threaded mode is the same format for any worker count).
ZSTD_MAX_WORKERS = 4
_PLAIN_INLINE_BELOW = 256 * 1024


def default_threads() -> int:
    """The thread count used when none is given: every core of this machine."""
    return max(1, os.cpu_count() or 1)


def _check_threads(threads: int | None) -> int:
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise LayerError(f"threads must be a positive integer, got {threads!r}")
    return threads


class _WriteState:
    """What the writer thread of ``_Plain`` shares with it (never the stream itself,
    so an abandoned stream can be collected and its thread ended)."""

    def __init__(self, raw: BinaryIO) -> None:
        import queue

        self.raw = raw
        self.queue: queue.Queue = queue.Queue(_PLAIN_QUEUE)
        self.error: BaseException | None = None
        self.aborted = False


def _write_worker(state: _WriteState) -> None:
    q = state.queue
    while True:
        data = q.get()
        if data is None:
            return
        if state.error is None and not state.aborted:
            try:
                state.raw.write(data)
            except BaseException as exc:  # re-raised on the caller's thread
                state.error = exc


class _Plain:
    """Passes bytes through, writing them to ``raw`` on a background thread.

    The caller (the tar writer) reads source files and hashes the tar stream
    while this thread hashes and writes the output file, so an uncompressed
    layer uses two cores. At most ``_PLAIN_QUEUE`` chunks wait in between.
    A stream dropped without ``close()`` (the caller failed) ends its thread
    and writes nothing more.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._state: _WriteState | None = None
        self._thread = None
        self._closed = False

    def _start(self) -> None:
        import threading

        self._state = _WriteState(self._raw)
        self._thread = threading.Thread(target=_write_worker, args=(self._state,),
                                        name="pycross-write", daemon=True)
        self._thread.start()

    def write(self, data) -> None:
        if self._closed:
            raise ValueError("write to a closed stream")
        state = self._state
        if state is not None and state.error is not None:
            self._raise()
        if not data:
            return
        if not isinstance(data, bytes):  # the caller may reuse a mutable buffer
            data = bytes(data)
        if state is None:
            if len(data) < _PLAIN_INLINE_BELOW:
                self._raw.write(data)  # small layers never start a thread
                return
            self._start()
            state = self._state
        state.queue.put(data)

    def _raise(self) -> None:
        exc, self._state.error = self._state.error, None
        raise exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._state.queue.put(None)
            self._thread.join()
            self._thread = None
            if self._state.error is not None:
                self._raise()

    def __del__(self) -> None:
        if self._thread is not None and not self._closed:
            self._state.aborted = True
            self._state.queue.put(None)


# --------------------------------------------------------------------------
# gzip


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


_BLOCK_SHIFT = _crc_shift_tables(GZIP_BLOCK)


def _crc_after_block(crc: int, block_crc: int) -> int:
    """crc32 of ``A + B`` from ``crc32(A)`` and ``crc32(B)``, ``len(B) == GZIP_BLOCK``."""
    t0, t1, t2, t3 = _BLOCK_SHIFT
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


# --------------------------------------------------------------------------
# zstd

ZSTD_INSTALL_HINT = (
    "compress=zstd needs a zstd module in the Python that runs the layer action: "
    "`pip install zstandard` (or `pip install pycross-image[zstd]`), or use Python 3.14+ "
    "(compression.zstd); otherwise choose compress=gzip or compress=none"
)


def _zstd_module():
    """``("stdlib", compression.zstd)``, ``("zstandard", zstandard)`` or ``(None, None)``."""
    try:  # Python 3.14+
        from compression import zstd  # type: ignore[import-not-found]

        return "stdlib", zstd
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found]

        return "zstandard", zstandard
    except ImportError:
        return None, None


def zstd_available() -> bool:
    return _zstd_module()[1] is not None


class _Zstd:
    """One zstd frame in multi-threaded mode (bytes independent of the worker count)."""

    def __init__(self, raw: BinaryIO, level: int, threads: int) -> None:
        kind, mod = _zstd_module()
        if mod is None:
            raise LayerError(ZSTD_INSTALL_HINT)
        self._raw = raw
        self._closed = False
        threads = min(threads, ZSTD_MAX_WORKERS)
        if kind == "stdlib":
            p = mod.CompressionParameter
            lo, hi = p.compression_level.bounds()
            self._check_level(level, lo, hi)
            options = {
                p.compression_level: level,
                p.nb_workers: threads,
                p.checksum_flag: 1,
            }
            try:
                self._c = mod.ZstdCompressor(options=options)
            except mod.ZstdError as exc:  # libzstd built without threads
                raise LayerError(f"zstd cannot run multi-threaded here: {exc}") from exc
            self._comp = self._c.compress
            self._finish = lambda: self._c.flush(mod.ZstdCompressor.FLUSH_FRAME)
        else:
            self._check_level(level, -(1 << 17), mod.MAX_COMPRESSION_LEVEL)
            params = mod.ZstdCompressionParameters.from_level(
                level, threads=threads, write_checksum=True
            )
            c = mod.ZstdCompressor(compression_params=params).compressobj()
            self._comp = c.compress
            self._finish = c.flush

    @staticmethod
    def _check_level(level: int, lo: int, hi: int) -> None:
        if not lo <= level <= hi or level == 0:
            raise LayerError(f"zstd level must be {lo}..{hi} and not 0, got {level}")

    def write(self, data) -> None:
        if self._closed:
            raise ValueError("write to a closed zstd stream")
        if data:
            out = self._comp(data)
            if out:
                self._raw.write(out)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._raw.write(self._finish())


def open_writer(
    raw: BinaryIO, method: str, level: int | None = None, threads: int | None = None
):
    """Returns a stream with ``write(bytes)`` and ``close()`` that compresses into ``raw``.

    ``close()`` finishes the compressed stream but does not close ``raw``.
    ``threads`` (default: every core) only changes the speed, never the bytes.
    """
    if method not in METHODS:
        raise LayerError(f"unknown compression {method!r}: choose one of {', '.join(METHODS)}")
    lvl = DEFAULT_LEVELS[method] if level is None else level
    if isinstance(lvl, bool) or not isinstance(lvl, int):
        raise LayerError(f"compression level must be an integer, got {lvl!r}")
    n = _check_threads(threads)
    if method == "none":
        return _Plain(raw)
    if method == "gzip":
        if not 0 <= lvl <= 9:
            raise LayerError(f"gzip level must be 0..9, got {lvl}")
        return _Gzip(raw, lvl, n)
    return _Zstd(raw, lvl, n)
