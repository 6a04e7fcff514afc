"""Compressed output streams for layer tars: ``none``, ``gzip`` and ``zstd``.

This module chooses and checks; the streams live in one module per job:
``threaded_writer`` (none: a background writer thread), ``gzip_stream``
(block-parallel gzip) and ``zstd_stream`` (multi-threaded zstd frames).

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
from typing import BinaryIO

from . import contract
from .errors import LayerError
from .gzip_stream import (  # noqa: F401  (re-exported: the format contract and tests)
    _INFLIGHT_PER_THREAD,
    GZIP_BLOCK,
    _crc_after_block,
    _Gzip,
)
from .threaded_writer import _Plain
from .zstd_stream import ZSTD_INSTALL_HINT, ZSTD_MAX_WORKERS, _Zstd, _zstd_module  # noqa: F401

METHODS = contract.COMPRESSION_METHODS  # the default first
EXTENSIONS = contract.COMPRESSION_EXTENSIONS
MEDIA_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
DEFAULT_LEVELS = {"gzip": 6, "zstd": 3, "none": 0}


def default_threads() -> int:
    """The thread count used when none is given: every core this process may run
    on (its affinity mask, which containers and remote-execution workers narrow),
    not every core of the host."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _check_threads(threads: int | None) -> int:
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise LayerError(f"threads must be a positive integer, got {threads!r}")
    return threads


def zstd_available() -> bool:
    """Whether this Python has a zstd module (``compression.zstd`` or ``zstandard``)."""
    return _zstd_module()[1] is not None


def check_options(method: str, level: int | None, threads: int | None) -> tuple[int, int]:
    """The level and thread count to use; a LayerError for a bad method, level or count."""
    if method not in METHODS:
        raise LayerError(f"unknown compression {method!r}: choose one of {', '.join(METHODS)}")
    lvl = DEFAULT_LEVELS[method] if level is None else level
    if isinstance(lvl, bool) or not isinstance(lvl, int):
        raise LayerError(f"compression level must be an integer, got {lvl!r}")
    return lvl, _check_threads(threads)


def open_writer(
    raw: BinaryIO, method: str, level: int | None = None, threads: int | None = None
):
    """Returns a stream with ``write(bytes)`` and ``close()`` that compresses into ``raw``.

    ``close()`` finishes the compressed stream but does not close ``raw``.
    ``threads`` (default: every core) only changes the speed, never the bytes.
    """
    lvl, n = check_options(method, level, threads)
    if method == "none":
        return _Plain(raw)
    if method == "gzip":
        if not 0 <= lvl <= 9:
            raise LayerError(f"gzip level must be 0..9, got {lvl}")
        return _Gzip(raw, lvl, n)
    return _Zstd(raw, lvl, n, _zstd_module())
