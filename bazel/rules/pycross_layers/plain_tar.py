"""The uncompressed layer, written straight into its file.

A tar record is a header, the file's bytes and zero padding; a header's
bytes depend on the name, the link, the size and the first bytes of the file
(which decide its mode). So the layer is written in two passes, each split
over forked writer processes (the per-entry work is Python bytecode, which
threads could not run in parallel):

1. *Layout.* Each writer takes a contiguous range of the sorted records
   (equal counts). It opens every file of its range once (relative to the
   directory's descriptor, as GNU tar's ``openat`` does), learns its size
   (``fstat``: the directory walk does not stat files) and its first bytes,
   builds the headers, and reads small files (up to ``SMALL_FILE``) whole
   while its memory allows (``CACHE_LIMIT``). The range's length is then
   known; the parent adds the lengths up into each range's offset.
2. *Write.* Each writer writes its headers and small files at its range's
   offset, gathered (``pwritev``: the pieces are never joined). The bodies
   of the other files are shared out by the parent among all writers by
   bytes, in pieces of at most ``PIECE`` (so one huge file is copied by
   every writer), each copied by the kernel (``os.copy_file_range``; a
   ``pread``/``pwrite`` loop where the kernel or file system cannot:
   ``EXDEV``, ``EINVAL``, ``ENOSYS``, ...).

A layer with few records is laid out by the calling process, which forks
writers for the second pass only when there are enough bytes to share. The
cut changes which process writes a byte, never the byte: the bytes are those
of the streaming writer (``tarball.write_tar``). The sha256 of the tar (the
diff_id), when the caller wants it, is computed by the parent while the
writers run, over the regions they report written, in order.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import marshal
import os
import select
import signal
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .entries import Entry
from .errors import LayerError
from .tarball import (
    BLOCK,
    END,
    HEAD_BYTES,
    SOURCE_FLAGS,
    FileHeaders,
    TarPolicy,
    entry_header,
    header_only,
    source_size,
)

#: Files up to this size are read in the layout pass and written with their neighbours.
SMALL_FILE = 256 * 1024
#: Small-file bytes one writer holds between the passes; later files are copied.
CACHE_LIMIT = 64 << 20
#: Header and small-file bytes gathered into one run (one ``pwritev``, or a few).
FLUSH = 1 << 20
#: File bodies are shared out among the writers in pieces of at most this size.
PIECE = 16 << 20
#: A layer of at least this many records is laid out by forked writers...
FORK_RECORDS = 2048
#: ...and one with at least this many bytes is written by forked writers.
FORK_BYTES = 48 << 20
CHUNK = 1 << 20
_HASH_WINDOW = 64 << 20  # bytes mapped at once to hash them
_O_DIR = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_DIRECTORY", 0)
_DIR_FD = os.open in os.supports_dir_fd
#: copy_file_range errors that are the output's (full disk, size limit): never retried.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_ZEROS = bytes(BLOCK)
_PWRITEV = hasattr(os, "pwritev")


def _iov_max() -> int:
    """Buffers one ``pwritev`` may take (at least POSIX's 16, at most Linux's 1024)."""
    try:
        return max(16, min(os.sysconf("SC_IOV_MAX"), 1024))
    except (AttributeError, ValueError, OSError):
        return 16


_IOV_MAX = _iov_max()

# Frames from a writer to the parent: (kind, a, b), then a payload of ``a`` bytes
# for LAYOUT and ERROR.
_FRAME = struct.Struct("<QQQ")
_LAYOUT, _DONE, _FINISHED, _ERROR = 1, 2, 3, 4
# What the parent sends a writer after the layout pass: a length, then the payload.
_LENGTH = struct.Struct("<Q")

#: One write of the second pass: (offset in the layer, length, the pieces of bytes
#: to write or None, record index of the file to copy from, offset in that file).
Job = tuple[int, int, "list[bytes] | None", int, int]
#: Headers and small files, written as they are: (offset, length, pieces). The
#: pieces go to the kernel as they are (``pwritev``), never joined into one
#: buffer: that would copy every byte once more into freshly allocated memory.
Run = tuple[int, int, list[bytes]]
Items = Sequence[tuple[str, "Entry | None"]]


@dataclass
class PlainResult:
    """The written tar: its diff_id (None when not asked for), size, records and
    content bytes, and how many writer processes ran."""

    diff_id: str | None
    processes: int
    size: int
    entries: int
    content_bytes: int


@dataclass
class _Layout:
    """A range of records laid out from offset 0 of the range."""

    length: int  # headers, bodies and padding (and the end blocks, for the last range)
    entries: int
    content: int  # bytes of file content
    runs: list[Run]  # headers and small files
    copies: list[tuple[int, int, int]]  # (offset, record index, size): bodies copied from files

    @property
    def run_bytes(self) -> int:
        """Bytes of the runs: what the writer of this layout writes before any copy."""
        return sum(length for _offset, length, _pieces in self.runs)


class _Opener:
    """Opens source files relative to their directory's descriptor, kept open while
    consecutive files share it (as GNU tar's openat does): the kernel resolves one
    path component per file instead of the whole path."""

    def __init__(self) -> None:
        self._dir = ""
        self._fd: int | None = None

    def open(self, entry: Entry) -> int:
        source = entry.source
        assert source is not None
        head, _sep, base = source.rpartition("/")
        try:
            if head and base and _DIR_FD:
                if head != self._dir:
                    self.close()
                    try:
                        self._fd = os.open(head, _O_DIR)
                    except OSError:  # an unreadable directory, say: the whole path
                        return os.open(source, SOURCE_FLAGS)
                    self._dir = head
                return os.open(base, SOURCE_FLAGS, dir_fd=self._fd)
            return os.open(source, SOURCE_FLAGS)
        except OSError as e:
            raise LayerError(f"{entry.origin}: cannot read {source}: {e.strerror}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._dir = ""


def _read(fd: int, size: int, entry: Entry, data: bytes = b"") -> bytes:
    """All ``size`` bytes of a small file, ``data`` being what a first read gave."""
    try:
        while len(data) < size:
            more = os.read(fd, size - len(data))
            if not more:
                break
            data += more
    except OSError as e:
        raise LayerError(f"{entry.origin}: cannot read {entry.source}: {e.strerror}") from None
    if len(data) < size:
        raise LayerError(f"{entry.origin}: {entry.source} changed size while being read")
    return data


def _pread(fd: int, n: int, offset: int, entry: Entry) -> bytes:
    try:
        return os.pread(fd, n, offset)
    except OSError as e:
        raise LayerError(f"{entry.origin}: cannot read {entry.source}: {e.strerror}") from None


def lay_out(items: Items, lo: int, hi: int, policy: TarPolicy, last: bool,
            cache_limit: int = CACHE_LIMIT) -> _Layout:
    """The first pass over records ``[lo, hi)``: headers, small files read whole,
    larger ones (and small ones beyond ``cache_limit``) left to copy. ``last``:
    the range ends the archive (the end blocks follow it)."""
    file_header = FileHeaders(policy).file
    opener = _Opener()
    runs: list[Run] = []
    copies: list[tuple[int, int, int]] = []
    pieces: list[bytes] = []
    start = pos = cached = content = 0  # start: offset of pieces[0]
    read, close = os.read, os.close
    try:
        for i in range(lo, hi):
            name, entry = items[i]
            if header_only(entry):
                header = entry_header(name, entry, policy)
                pieces.append(header)
                pos += len(header)
            else:
                fd = opener.open(entry)
                try:
                    size = source_size(fd, entry)
                    small = size <= SMALL_FILE and cached < cache_limit
                    if small:
                        data = read(fd, size)
                        if len(data) != size:
                            data = _read(fd, size, entry, data)
                    else:
                        data = _pread(fd, HEAD_BYTES, 0, entry)
                except OSError as e:
                    raise LayerError(f"{entry.origin}: cannot read {entry.source}: "
                                     f"{e.strerror}") from None
                finally:
                    close(fd)
                head = data[:HEAD_BYTES]
                header = (file_header(name, size, head)
                          or entry_header(name, entry, policy, head, size))
                pad = _ZEROS[:-size % BLOCK]
                content += size
                if small:
                    pieces += (header, data, pad)
                    pos += len(header) + size + len(pad)
                    cached += size
                else:
                    pieces.append(header)
                    pos += len(header)
                    runs.append((start, pos - start, pieces))
                    copies.append((pos, i, size))
                    pos += size
                    pieces, start = [pad], pos
                    pos += len(pad)
            if pos - start >= FLUSH:
                runs.append((start, pos - start, pieces))
                pieces, start = [], pos
        if last:
            pieces.append(END)
            pos += len(END)
        if pos > start:
            runs.append((start, pos - start, pieces))
    finally:
        opener.close()
    return _Layout(pos, hi - lo, content, runs, copies)


def share(loads: Sequence[int], copies: Sequence[tuple[int, int, int]],
          piece: int = PIECE) -> list[list[Job]]:
    """Each writer's pieces of the file bodies to copy, in ascending offsets:
    the largest piece first to the writer with the fewest bytes so far
    (``loads``: the bytes each writes already, its own runs)."""
    loads = list(loads)
    shares: list[list[Job]] = [[] for _ in loads]
    pieces: list[Job] = []
    for offset, index, size in copies:
        for at in range(0, size, piece):
            pieces.append((offset + at, min(piece, size - at), None, index, at))
    pieces.sort(key=lambda job: (-job[1], job[0]))
    for job in pieces:
        k = loads.index(min(loads))
        shares[k].append(job)
        loads[k] += job[1]
    for jobs in shares:
        jobs.sort(key=_offset)
    return shares


def _offset(job: Job) -> int:
    return job[0]


class _Writer:
    """Runs the second pass's jobs: gathered writes of runs, kernel copies of bodies."""

    def __init__(self, out_fd: int, items: Items,
                 report: Callable[[int, int], None] | None) -> None:
        self.out_fd = out_fd
        self.items = items
        self.report = report
        self.kernel_copy = hasattr(os, "copy_file_range")

    def pwrite(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.pwrite(self.out_fd, view[done:], offset + done)

    def pwritev(self, pieces: list[bytes], offset: int) -> None:
        """Writes ``pieces`` one after another from ``offset``, as they are."""
        if not _PWRITEV:
            self.pwrite(b"".join(pieces), offset)
            return
        for i in range(0, len(pieces), _IOV_MAX):
            batch = pieces[i:i + _IOV_MAX]
            want = sum(map(len, batch))
            done = os.pwritev(self.out_fd, batch, offset)
            if done < want:  # a short write (a signal, a nearly full disk): the rest plainly
                self.pwrite(b"".join(batch)[done:], offset + done)
            offset += want

    def run(self, jobs: Sequence[Job]) -> None:
        for offset, length, data, index, at in jobs:
            if data is not None:
                self.pwritev(data, offset)
            else:
                self.copy(index, at, length, offset)
            if self.report is not None:
                self.report(offset, length)

    def copy(self, index: int, at: int, length: int, dst: int) -> None:
        """Copies ``length`` bytes from offset ``at`` of record ``index``'s file to
        ``dst`` of the output, in the kernel if it can."""
        entry = self.items[index][1]
        assert entry is not None and entry.source is not None
        try:
            fd = os.open(entry.source, SOURCE_FLAGS)
        except OSError as e:
            raise LayerError(f"{entry.origin}: cannot read {entry.source}: {e.strerror}") from None
        try:
            done = 0
            if self.kernel_copy:
                try:
                    while done < length:
                        n = os.copy_file_range(fd, self.out_fd, length - done, at + done,
                                               dst + done)
                        if n == 0:
                            break
                        done += n
                except OSError as e:
                    if e.errno in _WRITE_ERRNOS:
                        raise
                    self.kernel_copy = False  # not here (EXDEV, EINVAL, ENOSYS, ...)
            while done < length:
                chunk = _pread(fd, min(CHUNK, length - done), at + done, entry)
                if not chunk:
                    break
                self.pwrite(chunk, dst + done)
                done += len(chunk)
        finally:
            os.close(fd)
        if done < length:
            raise LayerError(f"{entry.origin}: {entry.source} changed size while being read")


def _runs_as_jobs(runs: Sequence[Run], base: int) -> list[Job]:
    return [(base + offset, length, pieces, -1, 0) for offset, length, pieces in runs]


def sha256_range(fd: int, h, start: int, end: int) -> None:
    """Feeds bytes ``[start, end)`` of ``fd`` to ``h``, mapped from the page cache
    (no copy into Python; hashlib releases the GIL on large buffers)."""
    import mmap

    gran = mmap.ALLOCATIONGRANULARITY
    pos = start
    while pos < end:
        base = pos - pos % gran
        length = min(end - base, _HASH_WINDOW)
        try:
            m = mmap.mmap(fd, length, prot=mmap.PROT_READ, offset=base)
        except (OSError, ValueError, AttributeError):  # no mmap here: read it
            _sha256_read(fd, h, pos, end)
            return
        try:
            with memoryview(m) as view:
                h.update(view[pos - base:])
        finally:
            m.close()
        pos = base + length


def _sha256_read(fd: int, h, start: int, end: int) -> None:
    buf = bytearray(min(4 << 20, max(end - start, 1)))
    view = memoryview(buf)
    pos = start
    while pos < end:
        n = os.preadv(fd, [view[:min(len(buf), end - pos)]], pos)
        if n <= 0:
            raise OSError(errno.EIO, "layer file shorter than written", None)
        h.update(view[:n])
        pos += n


def _can_fork() -> bool:
    """Forking is safe only while this process runs no other thread."""
    return hasattr(os, "fork") and threading.active_count() == 1


def _ranges(n: int, workers: int) -> list[tuple[int, int]]:
    """``workers`` contiguous ranges of about equal counts over ``n`` records."""
    k = max(1, min(workers, n))
    return [(n * j // k, n * (j + 1) // k) for j in range(k)]


def write_plain_tar(out_fd: int, items: Items, policy: TarPolicy, workers: int, digest: bool,
                    *, fork_records: int = FORK_RECORDS, fork_bytes: int = FORK_BYTES,
                    piece: int = PIECE, cache_limit: int = CACHE_LIMIT) -> PlainResult:
    """Writes the tar of ``items`` (sorted ``(name, entry)`` pairs) into ``out_fd``
    from offset 0 (opened for reading too when ``digest``: the diff_id is read back).

    ``workers``: writer processes at most; ``digest``: whether to compute the
    diff_id. The keyword arguments set when forking pays and how work is cut.
    None of them changes a byte of the output.
    """
    n = len(items)
    parallel = workers > 1 and n > 0 and _can_fork()
    if parallel and n >= max(fork_records, 2):
        try:
            return _run_forked(out_fd, items, policy, digest, _ranges(n, workers), None,
                               piece, cache_limit)
        except _ForkFailed:  # no process to spare (a pids limit, EAGAIN, ENOMEM)
            parallel = False  # the writers that started are gone: on in this one
    layout = lay_out(items, 0, n, policy, True, cache_limit)
    runs = _runs_as_jobs(layout.runs, 0)
    if parallel and layout.length >= fork_bytes:
        pieces = share([layout.run_bytes] + [0] * (workers - 1), layout.copies, piece)
        pieces[0] = sorted(runs + pieces[0], key=_offset)  # the runs stay with this layout
        shares = [jobs for jobs in pieces if jobs]
        if len(shares) > 1:
            try:
                return _run_forked(out_fd, items, policy, digest, None, (layout, shares),
                                   piece, cache_limit)
            except _ForkFailed:
                pass
    jobs = sorted(runs + share([0], layout.copies, max(layout.length, 1))[0], key=_offset)
    _Writer(out_fd, items, None).run(jobs)
    diff_id = None
    if digest:
        h = hashlib.sha256()
        sha256_range(out_fd, h, 0, layout.length)
        diff_id = "sha256:" + h.hexdigest()
    return PlainResult(diff_id, 1, layout.length, layout.entries, layout.content)


class _ForkFailed(Exception):
    """A writer process could not be started."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _send_frame(w: int, kind: int, a: int = 0, b: int = 0, payload: bytes = b"") -> None:
    _write_all(w, _FRAME.pack(kind, a, b) + payload)


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = os.read(fd, n - len(data))
        if not more:
            break
        data += more
    return data


def _child(out_fd: int, items: Items, policy: TarPolicy, w: int, r: int | None,
           rng: tuple[int, int] | None, jobs: list[Job] | None, digest: bool,
           cache_limit: int) -> None:
    """A writer process; never returns. With ``rng``: lays the range out, sends the
    layout, reads its base offset and copy jobs on ``r``, writes. With ``jobs``:
    writes them. Reports written regions (when ``digest``) and the end on ``w``."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if rng is not None:
            assert r is not None
            lo, hi = rng
            layout = lay_out(items, lo, hi, policy, hi == len(items), cache_limit)
            body = marshal.dumps((layout.length, layout.entries, layout.content,
                                  layout.run_bytes, layout.copies))
            _send_frame(w, _LAYOUT, len(body), 0, body)
            (length,) = _LENGTH.unpack(_read_exact(r, _LENGTH.size))
            base, copies = marshal.loads(_read_exact(r, length))
            jobs = sorted(_runs_as_jobs(layout.runs, base) + [tuple(job) for job in copies],
                          key=_offset)
        assert jobs is not None

        def report(offset: int, length: int) -> None:
            _send_frame(w, _DONE, offset, length)

        _Writer(out_fd, items, report if digest else None).run(jobs)
        _send_frame(w, _FINISHED)
    except BaseException as e:  # noqa: BLE001 -- every failure goes to the parent
        code = 2
        if isinstance(e, LayerError):
            error = {"layer": str(e)}
        elif isinstance(e, OSError):
            error = {"errno": e.errno, "strerror": e.strerror, "filename": e.filename}
        else:
            error = {"layer": f"layer writer failed: {type(e).__name__}: {e}"}
        try:
            body = json.dumps(error, default=str).encode("utf-8")
            _send_frame(w, _ERROR, len(body), 0, body)
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _failure(body: bytes) -> BaseException:
    error = json.loads(body.decode("utf-8"))
    if "layer" in error:
        return LayerError(error["layer"])
    return OSError(error["errno"], error["strerror"], error["filename"])


class _Children:
    """The forked writers: their pipes, and clean-up of any left (killed and reaped)."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.reads: list[int] = []  # from each writer
        self.writes: list[int] = []  # to each writer (layout mode)
        self.reaped: set[int] = set()

    def close(self) -> None:
        for pid in self.pids:
            if pid not in self.reaped:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
        for fd in self.reads + self.writes:
            with contextlib.suppress(OSError):
                os.close(fd)


def _frame(r: int) -> tuple[int, int, int, bytes]:
    """The next frame from a writer; kind 0 when it is gone."""
    head = _read_exact(r, _FRAME.size)
    if len(head) < _FRAME.size:
        return 0, 0, 0, b""
    kind, a, b = _FRAME.unpack(head)
    payload = _read_exact(r, a) if kind in (_LAYOUT, _ERROR) else b""
    return kind, a, b, payload


def _run_forked(out_fd: int, items: Items, policy: TarPolicy, digest: bool,
                ranges: list[tuple[int, int]] | None,
                planned: tuple[_Layout, list[list[Job]]] | None,
                piece: int, cache_limit: int) -> PlainResult:
    """Runs the writers: one per range (layout and write), or one per share of a
    layout done here (write only)."""
    kids = _Children()
    count = len(ranges) if ranges is not None else len(planned[1])  # type: ignore[index]
    try:
        for k in range(count):
            try:
                r, w = os.pipe()
            except OSError as e:
                raise _ForkFailed from e
            kids.reads.append(r)
            cr = cw = None
            if ranges is not None:
                try:
                    cr, cw = os.pipe()
                except OSError as e:
                    os.close(w)
                    raise _ForkFailed from e
            try:
                pid = os.fork()
            except OSError as e:
                for fd in (w, cr, cw):
                    if fd is not None:
                        os.close(fd)
                raise _ForkFailed from e
            if pid == 0:  # pragma: no cover (the child process)
                for fd in kids.reads + kids.writes + ([cw] if cw is not None else []):
                    os.close(fd)
                _child(out_fd, items, policy, w, cr,
                       ranges[k] if ranges is not None else None,
                       planned[1][k] if planned is not None else None, digest, cache_limit)
            kids.pids.append(pid)
            os.close(w)
            if cr is not None and cw is not None:
                os.close(cr)
                kids.writes.append(cw)
        if ranges is not None:
            size, entries, content = _hand_out(kids, piece)
        else:
            assert planned is not None
            layout = planned[0]
            size, entries, content = layout.length, layout.entries, layout.content
        diff_id = _await(kids, out_fd, size, digest)
        return PlainResult(diff_id, count, size, entries, content)
    finally:
        kids.close()


def _hand_out(kids: _Children, piece: int) -> tuple[int, int, int]:
    """Reads every writer's layout, sends each its base offset and its share of the
    copies; returns the layer's size, records and content bytes."""
    bases: list[int] = []
    loads: list[int] = []  # bytes of each writer's own runs
    copies: list[tuple[int, int, int]] = []
    size = entries = content = 0
    for r in kids.reads:
        kind, _a, _b, payload = _frame(r)
        if kind == _ERROR:
            raise _failure(payload)
        if kind != _LAYOUT:
            raise LayerError("a layer writer process ended early")
        length, n, c, run_bytes, mine = marshal.loads(payload)
        bases.append(size)
        loads.append(run_bytes)
        copies += [(size + offset, index, length_) for offset, index, length_ in mine]
        size += length
        entries += n
        content += c
    shares = share(loads, copies, piece)
    for k, w in enumerate(kids.writes):
        body = marshal.dumps((bases[k], shares[k]))
        with contextlib.suppress(BrokenPipeError):  # that writer is gone: its frames say why
            _write_all(w, _LENGTH.pack(len(body)) + body)
    return size, entries, content


def _await(kids: _Children, out_fd: int, size: int, digest: bool) -> str | None:
    """Waits for every writer to finish, hashing the written prefix as it grows."""
    h = hashlib.sha256() if digest else None
    done: dict[int, int] = {}  # start -> end of regions written, not yet hashed
    mark = 0
    pending = dict(zip(kids.reads, kids.pids))
    poller = select.poll()
    for r in pending:
        poller.register(r, select.POLLIN)
    failure: BaseException | None = None
    while pending and failure is None:
        for r, _event in poller.poll():
            kind, a, b, payload = _frame(r)
            if kind == _DONE:
                done[a] = a + b
                while h is not None and mark in done:
                    end = done.pop(mark)
                    sha256_range(out_fd, h, mark, end)
                    mark = end
                continue
            pid = pending.pop(r)
            poller.unregister(r)
            if kind == _ERROR:
                failure = _failure(payload)
            _pid, status = os.waitpid(pid, 0)
            kids.reaped.add(pid)
            if failure is None and (kind != _FINISHED or status != 0):
                failure = LayerError(f"a layer writer process ended early (wait status {status})")
    if failure is not None:
        raise failure
    if h is None:
        return None
    if mark != size:
        raise LayerError("layer writers left part of the layer unwritten")
    return "sha256:" + h.hexdigest()
