"""zstd in multi-threaded frame mode (bytes independent of the worker count),
from ``compression.zstd`` (Python 3.14+) or the optional ``zstandard`` package."""

from __future__ import annotations

from typing import BinaryIO

from .errors import LayerError

#: zstd workers at most: each holds job buffers of several MB (about 20 MB at
#: level 3), so this bounds memory on many-core machines. The bytes do not
#: depend on it (multi-threaded mode is the same format for any worker count).
ZSTD_MAX_WORKERS = 4

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

    def __init__(self, raw: BinaryIO, level: int, threads: int, module=None) -> None:
        kind, mod = _zstd_module() if module is None else module
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
