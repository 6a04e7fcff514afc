"""compress.py: valid, deterministic gzip/zstd streams whose bytes never depend on threads."""

from __future__ import annotations

import functools
import gzip
import io
import random
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

from pycross_layers import compress
from pycross_layers.errors import LayerError

B = compress.GZIP_BLOCK
REPO = Path(__file__).resolve().parents[1]


def _corpus(size: int, seed: int = 0) -> bytes:
    """Compressible, tar-like data: text with repeats, some binary noise, zero runs."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12)))
             for _ in range(800)]
    out = bytearray()
    while len(out) < size:
        kind = rng.random()
        if kind < 0.7:
            out += b" ".join(rng.choice(words) for _ in range(rng.randint(5, 60))) + b"\n"
        elif kind < 0.9:
            out += rng.randbytes(rng.randint(16, 4096))
        else:
            out += bytes(rng.randint(1, 2048))
    return bytes(out[:size])


def _compress(data: bytes, method: str, threads: int = 1, chunks=(1 << 20,), level=None):
    raw = io.BytesIO()
    w = compress.open_writer(raw, method, level=level, threads=threads)
    pos, i = 0, 0
    while pos < len(data):
        n = chunks[i % len(chunks)]
        w.write(data[pos:pos + n])
        pos += n
        i += 1
    w.close()
    assert not raw.closed
    return raw.getvalue()


SIZES = [0, 1, 511, B - 1, B, B + 1, 2 * B, 3 * B + 12345]


@pytest.mark.parametrize("size", SIZES)
def test_gzip_round_trip_every_block_boundary(size):
    data = _corpus(size, seed=size)
    out = _compress(data, "gzip", threads=2)
    assert gzip.decompress(out) == data
    assert zlib.decompress(out, 31) == data  # exactly one member, nothing trailing


def test_gzip_header_is_fixed_and_trailer_is_crc_and_size():
    data = _corpus(3 * B + 7)
    out = _compress(data, "gzip", threads=2)
    magic, cm, flags, mtime, xfl, os_byte = struct.unpack("<2sBBIBB", out[:10])
    assert (magic, cm, flags, mtime, xfl, os_byte) == (b"\x1f\x8b", 8, 0, 0, 0, 255)
    crc, isize = struct.unpack("<II", out[-8:])
    assert crc == zlib.crc32(data)
    assert isize == len(data)


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_gzip_bytes_do_not_depend_on_threads_or_write_sizes(level):
    data = _corpus(6 * B + 999, seed=level)
    reference = _compress(data, "gzip", threads=1, level=level)
    assert gzip.decompress(reference) == data
    for threads in (2, 8):
        assert _compress(data, "gzip", threads=threads, level=level) == reference
    # the caller's chunking (tar headers, odd file tails) changes nothing either
    for chunks in [(1,) * 7 + (B * 2 + 3,), (512, 1024, 65536), (B,), (B + 1, B - 1), (5 * B,)]:
        assert _compress(data, "gzip", threads=2, chunks=chunks, level=level) == reference


def test_gzip_gnu_gzip_accepts_the_stream(tmp_path):
    gz = shutil.which("gzip")
    assert gz is not None, "GNU gzip is missing: run `bash .ci/setup`"
    data = _corpus(5 * B + 3)
    path = tmp_path / "x.gz"
    path.write_bytes(_compress(data, "gzip", threads=8))
    assert subprocess.run([gz, "-t", str(path)]).returncode == 0
    assert subprocess.run([gz, "-dc", str(path)], capture_output=True, check=True).stdout == data


def test_gzip_ratio_within_two_percent_of_single_stream_gzip():
    data = _corpus(4 << 20)
    ours = len(_compress(data, "gzip", threads=2))
    single = len(gzip.compress(data, compresslevel=6, mtime=0))
    assert ours <= single * 1.02


def test_gzip_memory_stays_bounded_on_a_large_stream():
    """1 GiB through gzip in a child process: peak RSS far below 256 MB."""
    script = textwrap.dedent(
        f"""
        import resource, sys, zlib
        sys.path.insert(0, {str(REPO / "bazel" / "rules")!r})
        from pycross_layers import compress

        class Sink:
            n = 0
            crc = 0
            def write(self, b):
                self.n += len(b)

        chunk = bytes(range(256)) * 4096  # 1 MiB, compresses fast at level 1
        sink = Sink()
        w = compress.open_writer(sink, "gzip", level=1, threads=8)
        for _ in range(1024):
            w.write(chunk)
        w.close()
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    peak_mb = int(res.stdout.strip()) / 1024
    assert peak_mb < 256, peak_mb


def test_gzip_inflight_blocks_are_bounded():
    seen = []
    writer = []

    class Raw(io.BytesIO):
        def write(self, b):
            if writer:
                seen.append(len(writer[0]._inflight))
            return super().write(b)

    raw = Raw()
    w = compress.open_writer(raw, "gzip", level=1, threads=2)
    writer.append(w)
    for _ in range(64):
        w.write(bytes(B))
    w.close()
    assert max(seen) <= 2 * compress._INFLIGHT_PER_THREAD
    assert gzip.decompress(raw.getvalue()) == bytes(64 * B)


def test_crc_combine_matches_zlib():
    rng = random.Random(7)
    for _ in range(20):
        a = rng.randbytes(rng.randint(0, 3000))
        b = rng.randbytes(B)
        assert compress._crc_after_block(zlib.crc32(a), zlib.crc32(b)) == zlib.crc32(a + b)


def test_close_is_idempotent_and_leaves_raw_open():
    raw = io.BytesIO()
    w = compress.open_writer(raw, "gzip", threads=2)
    w.write(b"hello")
    w.close()
    w.close()
    assert gzip.decompress(raw.getvalue()) == b"hello"
    with pytest.raises(ValueError):
        w.write(b"more")


def test_none_passes_bytes_through():
    data = _corpus(B + 5)
    assert _compress(data, "none", chunks=(100, 7)) == data


def test_default_threads_are_the_cores_this_process_may_use(monkeypatch):
    # the affinity mask (narrowed by containers and remote-execution workers) first
    monkeypatch.setattr(compress.os, "cpu_count", lambda: 64)
    monkeypatch.setattr(compress.os, "sched_getaffinity", lambda pid: {0, 5, 7}, raising=False)
    assert compress.default_threads() == 3
    # without one (not Linux), the machine's count, at least 1
    monkeypatch.delattr(compress.os, "sched_getaffinity")
    monkeypatch.setattr(compress.os, "cpu_count", lambda: 6)
    assert compress.default_threads() == 6
    monkeypatch.setattr(compress.os, "cpu_count", lambda: None)
    assert compress.default_threads() == 1


@pytest.mark.parametrize(
    "method, kwargs, words",
    [
        ("bzip2", {}, ["bzip2", "gzip", "zstd", "none"]),
        ("gzip", {"level": 10}, ["0..9", "10"]),
        ("gzip", {"level": -1}, ["0..9"]),
        ("gzip", {"level": "6"}, ["integer"]),
        ("gzip", {"threads": 0}, ["threads", "0"]),
        ("none", {"threads": -2}, ["threads"]),
    ],
)
def test_bad_arguments_are_layer_errors(method, kwargs, words):
    with pytest.raises(LayerError) as exc:
        compress.open_writer(io.BytesIO(), method, **kwargs)
    for word in words:
        assert word in str(exc.value)


def test_tables_are_consistent():
    assert set(compress.METHODS) == set(compress.EXTENSIONS) == set(compress.MEDIA_TYPES)
    assert set(compress.DEFAULT_LEVELS) == set(compress.METHODS)
    assert compress.DEFAULT_LEVELS["gzip"] == 6


# --------------------------------------------------------------------------
# zstd


def test_zstd_missing_module_names_the_fix(monkeypatch):
    monkeypatch.setattr(compress, "_zstd_module", lambda: (None, None))
    with pytest.raises(LayerError) as exc:
        compress.open_writer(io.BytesIO(), "zstd")
    assert "pip install zstandard" in str(exc.value)
    assert "3.14" in str(exc.value)


def zstd_only(test):
    """zstandard is a dev dependency (.ci/setup installs it): its absence is a failure."""

    def check(*args, **kwargs):
        assert compress.zstd_available(), "no zstd module: run `bash .ci/setup`"
        return test(*args, **kwargs)

    return functools.wraps(test)(check)


def _zstd_decompress(blob: bytes) -> bytes:
    kind, mod = compress._zstd_module()
    if kind == "stdlib":
        return mod.decompress(blob)
    return mod.ZstdDecompressor().decompressobj().decompress(blob)


@zstd_only
@pytest.mark.parametrize("size", [0, 1, B + 1])
def test_zstd_round_trip(size):
    data = _corpus(size)
    out = _zstd_decompress(_compress(data, "zstd", threads=2))
    assert out == data


@zstd_only
def test_zstd_bytes_do_not_depend_on_threads_or_write_sizes():
    # large enough for zstd to cut several multi-threaded jobs
    data = _corpus(40 << 20, seed=3)
    reference = _compress(data, "zstd", threads=1)
    assert _zstd_decompress(reference) == data
    for threads in (2, 8):
        assert _compress(data, "zstd", threads=threads) == reference
    assert _compress(data, "zstd", threads=2, chunks=(512, 3, 1 << 16, 7 << 20)) == reference


@zstd_only
def test_zstd_cli_accepts_the_stream(tmp_path):
    zstd = shutil.which("zstd")
    assert zstd is not None, "the zstd CLI is missing: run `bash .ci/setup`"
    data = _corpus(3 * B)
    path = tmp_path / "x.zst"
    path.write_bytes(_compress(data, "zstd", threads=2))
    res = subprocess.run([zstd, "-dc", str(path)], capture_output=True, check=True)
    assert res.stdout == data


@zstd_only
def test_zstd_bad_level():
    with pytest.raises(LayerError, match="zstd level"):
        compress.open_writer(io.BytesIO(), "zstd", level=99)


# --------------------------------------------------------------------------
# none: written on a background thread


def test_none_keeps_order_across_the_writer_thread():
    rng = random.Random(1)
    chunks = [rng.randbytes(rng.choice((1, 512, 300_000, 1 << 20))) for _ in range(60)]
    raw = io.BytesIO()
    w = compress.open_writer(raw, "none")
    for c in chunks:
        w.write(bytearray(c))  # a mutable buffer the caller may reuse
    w.close()
    assert raw.getvalue() == b"".join(chunks)


def test_none_reports_a_write_error_on_the_callers_thread():
    class Full(io.BytesIO):
        def write(self, b):
            raise OSError(28, "No space left on device")

    w = compress.open_writer(Full(), "none")
    with pytest.raises(OSError, match="No space left"):
        for _ in range(40):
            w.write(bytes(1 << 20))
        w.close()


def test_gzip_restores_the_switch_interval():
    before = sys.getswitchinterval()
    raw = io.BytesIO()
    w = compress.open_writer(raw, "gzip", level=1, threads=2)
    w.write(bytes(3 * B))
    assert sys.getswitchinterval() <= before  # shortened while workers run
    w.close()
    assert sys.getswitchinterval() == before
    assert gzip.decompress(raw.getvalue()) == bytes(3 * B)


@pytest.mark.parametrize("method", ["none", "gzip"])
def test_a_stream_dropped_without_close_ends_its_threads(method):
    import gc
    import threading

    before_threads = threading.active_count()
    before_si = sys.getswitchinterval()
    raw = io.BytesIO()
    w = compress.open_writer(raw, method, level=1, threads=2)
    for _ in range(8):
        w.write(bytes(1 << 20))
    del w  # the caller failed half-way and never called close()
    gc.collect()
    for _ in range(100):
        if threading.active_count() <= before_threads:
            break
        threading.Event().wait(0.05)
    assert threading.active_count() <= before_threads
    assert sys.getswitchinterval() == before_si
