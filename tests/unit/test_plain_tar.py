"""The uncompressed layer written straight into its file (plain_tar): the bytes of
the streaming tar writer whatever the writer processes, the cut into ranges and
pieces, the small-file cache, the copy method, the digest setting or whether
sizes were known before; errors of a writer process reach the caller."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pycross_layers import plain_tar
from pycross_layers.entries import DIR, FILE, SYMLINK, Entry
from pycross_layers.errors import LayerError
from pycross_layers.layers import layer_items
from pycross_layers.tarball import TarPolicy, write_tar

POLICY = TarPolicy(mtime=1234)
REAL_CAN_FORK = plain_tar._can_fork


@pytest.fixture(autouse=True)
def may_fork(monkeypatch):
    """The core forks writers only from a process without other threads; a test
    run may have some (servers of other tests), and the writers here touch no
    lock, so they fork regardless: every multi-writer case below really forks."""
    monkeypatch.setattr(plain_tar, "_can_fork", lambda: True)


def streamed(items) -> bytes:
    buf = io.BytesIO()
    write_tar(buf, items, POLICY)
    return buf.getvalue()


def direct(path, items, workers: int, digest: bool = True, forked: bool = True, **knobs):
    """``forked``: thresholds at zero, so that even these small layers are laid out
    and written by writer processes (when ``workers`` > 1)."""
    if forked:
        knobs = {"fork_records": 0, "fork_bytes": 0, **knobs}
    with open(path, "w+b") as f:  # readable too: the diff_id is read back
        result = plain_tar.write_plain_tar(f.fileno(), items, POLICY, workers, digest, **knobs)
    return path.read_bytes(), result


def child_pids() -> set[int]:
    """This process's live children (Linux /proc)."""
    pids: set[int] = set()
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/children") as f:
            pids.update(int(p) for p in f.read().split())
    return pids


def sample(tmp_path, n_small: int = 40):
    """Small and large files (over SMALL_FILE), executable ones, links, long and
    non-ASCII names, empty files and directories."""
    src = tmp_path / "src"
    src.mkdir()
    entries = []
    for i in range(n_small):
        p = src / f"s{i}"
        head = b"#!/bin/sh\n" if i % 7 == 0 else b""
        p.write_bytes(head + bytes([i % 251]) * (i * 37 % 2000))
        entries.append(Entry(path=f"app.runfiles/ws/pkg{i % 3}/m{i:03d}.py", kind=FILE,
                             source=str(p), size=p.stat().st_size))
    for i, size in enumerate([plain_tar.SMALL_FILE + 1, 3 * plain_tar.SMALL_FILE + 77]):
        p = src / f"big{i}"
        head = b"\x7fELF" if i == 0 else b"data"
        p.write_bytes(head + os.urandom(size - 4))
        entries.append(Entry(path=f"app.runfiles/ws/big{i}.so", kind=FILE, source=str(p),
                             size=size))
    entries += [
        Entry(path="app.runfiles/ws/empty.py", kind=FILE),
        Entry(path="app.runfiles/ws/" + "d" * 120 + "/long.py", kind=FILE,
              source=entries[1].source, size=entries[1].size),
        Entry(path="app.runfiles/ws/ü/naïve.txt", kind=FILE, source=entries[2].source,
              size=entries[2].size),
        Entry(path="app.runfiles/ws/link", kind=SYMLINK, target="pkg0/m000.py"),
        Entry(path="app.runfiles/ws/longlink", kind=SYMLINK, target="x/" * 60 + "y"),
        Entry(path="app.runfiles/ws/emptydir", kind=DIR),
    ]
    return layer_items(entries, "app")


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_same_bytes_as_the_stream_for_any_writer_count(tmp_path, workers):
    items = sample(tmp_path)
    want = streamed(items)
    got, result = direct(tmp_path / "out.tar", items, workers)
    assert got == want
    assert result.size == len(want)
    assert result.diff_id == "sha256:" + hashlib.sha256(want).hexdigest()
    assert result.processes == workers  # one range (laid out and written) per writer


@pytest.mark.parametrize("workers", [2, 3])
def test_laid_out_here_written_by_writers(tmp_path, workers):
    """Few records, many bytes: the caller lays out, the writers share the writes."""
    items = sample(tmp_path)
    want = streamed(items)
    got, result = direct(tmp_path / "out.tar", items, workers, fork_records=10**9,
                         piece=64 * 1024)
    assert got == want
    assert result.diff_id == "sha256:" + hashlib.sha256(want).hexdigest()
    assert 1 < result.processes <= workers


def test_cut_pieces_cache_and_digest_never_change_a_byte(tmp_path):
    items = sample(tmp_path, n_small=120)
    want = streamed(items)
    for w in range(1, 12):
        knobs = {"piece": (1 << 20, 4096, 512)[w % 3], "cache_limit": (0, 5000, 1 << 30)[w % 3],
                 "fork_records": (0, 10**9)[w % 2]}
        got, result = direct(tmp_path / f"o{w}.tar", items, w, digest=w % 2 == 0, **knobs)
        assert got == want, knobs  # one set of bytes
        assert result.diff_id == ("sha256:" + hashlib.sha256(want).hexdigest()
                                  if w % 2 == 0 else None)
        assert (result.entries, result.size) == (len(items), len(want))


@pytest.mark.parametrize("workers", [1, 3])
def test_short_pwritev_and_no_pwritev_same_bytes(tmp_path, monkeypatch, workers):
    """A gathered write the kernel takes only part of is finished; without
    ``pwritev`` the pieces are joined and written with ``pwrite``."""
    items = sample(tmp_path, n_small=60)
    want = streamed(items)
    real = os.pwritev
    calls = []

    def short(fd, buffers, offset):
        calls.append(len(buffers))
        return real(fd, buffers[: max(1, len(buffers) // 2)], offset)

    monkeypatch.setattr(os, "pwritev", short)
    monkeypatch.setattr(plain_tar, "_IOV_MAX", 16)  # several batches per run
    got, _ = direct(tmp_path / "short.tar", items, workers)
    assert got == want
    if workers == 1:  # (a forked writer's calls are counted in its own process)
        assert calls and max(calls) == 16
    monkeypatch.setattr(plain_tar, "_PWRITEV", False)
    got, _ = direct(tmp_path / "plain.tar", items, workers)
    assert got == want


def test_sizes_learnt_by_the_writers_same_bytes(tmp_path):
    """A directory walk leaves file sizes unknown (None): the writers fstat."""
    items = sample(tmp_path)
    unknown = [(name, e if e is None or e.kind != FILE or e.source is None
                else Entry(e.path, FILE, e.runfiles_path, e.source, None, None, e.origin))
               for name, e in items]
    want = streamed(items)
    assert streamed(unknown) == want
    for workers in (1, 3):
        got, result = direct(tmp_path / f"o{workers}.tar", unknown, workers)
        assert got == want
        assert result.content_bytes == sum(e.size for _n, e in items
                                           if e is not None and e.kind == FILE)


def test_small_layers_stay_in_process(tmp_path):
    items = sample(tmp_path)
    got, result = direct(tmp_path / "o.tar", items, 8, forked=False)
    assert len(items) < plain_tar.FORK_RECORDS and len(got) < plain_tar.FORK_BYTES
    assert result.processes == 1 and got == streamed(items)


def test_a_fifo_in_place_of_a_file_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    items = layer_items([Entry(path="x/f", kind=FILE, source=str(fifo), size=None)], "")
    for workers in (1, 2):
        with pytest.raises(LayerError, match="is a fifo, not a regular file"):
            direct(tmp_path / f"o{workers}.tar", items, workers)


def test_read_and_write_fallback_without_kernel_copy(tmp_path, monkeypatch):
    items = sample(tmp_path)
    calls = []

    def unsupported(*args):
        calls.append(args)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(plain_tar.os, "copy_file_range", unsupported)
    for workers in (1, 2):
        got, _result = direct(tmp_path / f"o{workers}.tar", items, workers)
        assert got == streamed(items)
    assert calls  # the kernel copy was tried, and refused


def test_big_executable_keeps_its_mode(tmp_path):
    items = sample(tmp_path)
    got, _result = direct(tmp_path / "o.tar", items, 2)
    with tarfile.open(fileobj=io.BytesIO(got)) as t:
        assert t.getmember("app/app.runfiles/ws/big0.so").mode == 0o755
        assert t.getmember("app/app.runfiles/ws/big1.so").mode == 0o644
        assert t.getmember("app/app.runfiles/ws/pkg0/m000.py").mode == 0o755


@pytest.mark.parametrize("workers", [1, 3])
def test_a_vanished_source_is_a_layer_error(tmp_path, workers):
    items = sample(tmp_path)
    victim = next(e for _n, e in items if e is not None and e.kind == FILE and e.size > 100)
    os.unlink(victim.source)
    before = child_pids()
    with pytest.raises(LayerError, match="cannot read .*No such file"):
        direct(tmp_path / "o.tar", items, workers)
    assert child_pids() <= before  # no writer process left behind


@pytest.mark.parametrize("workers", [1, 3])
def test_a_shrunk_source_is_a_layer_error(tmp_path, workers):
    items = sample(tmp_path)
    big = next(e for _n, e in items if e is not None and e.kind == FILE
               and e.size > plain_tar.SMALL_FILE)
    os.truncate(big.source, 10)
    with pytest.raises(LayerError, match="changed size while being read"):
        direct(tmp_path / "o.tar", items, workers)


@pytest.mark.parametrize("workers", [1, 3])
def test_a_full_disk_in_a_writer_is_the_callers_oserror(tmp_path, monkeypatch, workers):
    items = sample(tmp_path)

    def full(self, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(plain_tar._Writer, "pwrite", full)
    monkeypatch.setattr(plain_tar._Writer, "pwritev", full)
    with pytest.raises(OSError) as info:
        direct(tmp_path / "o.tar", items, workers)
    assert info.value.errno == errno.ENOSPC


names = st.text(alphabet=st.sampled_from("abé/_."), min_size=1, max_size=130).filter(
    lambda s: "//" not in s and not s.startswith("/") and not s.endswith("/")
    and all(p not in (".", "..") for p in s.split("/")))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paths=st.lists(names, min_size=1, max_size=12, unique=True),
       sizes=st.lists(st.integers(0, 3000), min_size=12, max_size=12),
       workers=st.integers(1, 4))
def test_any_tree_same_bytes_as_the_stream(tmp_path, paths, sizes, workers):
    by_path: dict[str, Entry] = {}
    for i, (p, size) in enumerate(zip(paths, sizes)):
        if any(q.startswith(p + "/") or p.startswith(q + "/") for q in by_path):
            continue
        src = tmp_path / f"f{i}"
        src.write_bytes((b"#!" + b"x" * 3000)[:size])
        known = size if i % 2 else None  # sizes known before, or learnt by the writers
        by_path[p] = Entry(path=p, kind=FILE, source=str(src) if size else None, size=known)
    items = layer_items(list(by_path.values()), "app")
    got, result = direct(tmp_path / "o.tar", items, workers)
    assert got == streamed(items)
    assert result.size == len(got)


def test_relative_bare_and_absolute_sources(tmp_path, monkeypatch):
    """Sources opened relative to their directory's descriptor, or as given."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.py").write_bytes(b"#!a\n")
    (tmp_path / "b.py").write_bytes(b"bb\n")
    monkeypatch.chdir(tmp_path)
    entries = [Entry(path="x/1", kind=FILE, source="d/a.py", size=4),
               Entry(path="x/2", kind=FILE, source="b.py", size=3),
               Entry(path="x/3", kind=FILE, source=str(tmp_path / "d" / "a.py"), size=4),
               Entry(path="x/4", kind=FILE, source="d/a.py", size=4)]
    items = layer_items(entries, "")
    got, _result = direct(tmp_path / "o.tar", items, 1)
    assert got == streamed(items)
    with tarfile.open(fileobj=io.BytesIO(got)) as t:
        assert [t.extractfile(f"x/{i}").read() for i in range(1, 5)] == [
            b"#!a\n", b"bb\n", b"#!a\n", b"#!a\n"]


def test_diff_id_read_back_without_mmap(tmp_path, monkeypatch):
    import mmap

    items = sample(tmp_path)
    want = "sha256:" + hashlib.sha256(streamed(items)).hexdigest()

    def no_mmap(*args, **kwargs):
        raise OSError(errno.ENODEV, "No such device")

    monkeypatch.setattr(mmap, "mmap", no_mmap)
    for workers in (1, 2):
        _got, result = direct(tmp_path / f"o{workers}.tar", items, workers)
        assert result.diff_id == want


def test_no_fork_while_another_thread_runs(tmp_path, monkeypatch):
    """Forking a threaded process is unsafe: then the caller writes alone, same bytes."""
    import threading

    monkeypatch.setattr(plain_tar, "_can_fork", REAL_CAN_FORK)
    items = sample(tmp_path)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        got, result = direct(tmp_path / "o.tar", items, 3)
    finally:
        stop.set()
        thread.join()
    assert result.processes == 1 and got == streamed(items)


@pytest.mark.parametrize("fail_at", [0, 1])
def test_no_process_to_spare_means_writing_in_process(tmp_path, monkeypatch, fail_at):
    """A pids limit (EAGAIN from fork) or no file descriptor for a pipe: the
    writers already started are reaped, the layer is written by the caller alone,
    with the same bytes."""
    items = sample(tmp_path)
    real_fork, calls = os.fork, []

    def fork():
        calls.append(1)
        if len(calls) > fail_at:
            raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", fork)
    before = child_pids()
    got, result = direct(tmp_path / "o.tar", items, 3)
    assert len(calls) == fail_at + 1  # it really tried, and failed at that writer
    assert result.processes == 1
    assert got == streamed(items)
    assert result.diff_id == "sha256:" + hashlib.sha256(got).hexdigest()
    assert child_pids() == before

