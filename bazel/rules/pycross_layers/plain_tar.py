"""The uncompressed layer, written straight into its file.

Every record's offset is known before a byte is written (``tarball.plan_tar``:
a header's length depends on the name, the link and the size, never on the
mode that the content decides), so the records can be written in any order,
by any number of writers, with ``pwrite``: the bytes are those of the
streaming writer whatever the writer count.

* Small files (up to ``SMALL_FILE``) are read whole and written together with
  the headers around them in large ``pwrite`` calls.
* Larger files are copied by the kernel (``os.copy_file_range``): a tar
  record is the header, the raw bytes and zero padding, so the bytes do not
  pass through Python. Where the kernel or file system cannot
  (``EXDEV``, ``EINVAL``, ``ENOSYS``, ...) a ``pread``/``pwrite`` loop does.
* Large layers are cut into contiguous segments of records, balanced by
  entries and bytes, each written by its own forked process (the per-entry
  work is Python bytecode, which threads could not run in parallel). The cut
  changes which process writes a byte, never the byte.
* The sha256 of the tar (the diff_id), when the caller wants it, is computed
  by the parent while the writers run, reading each segment back from the
  page cache as far as its writer reports it written, in order.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .entries import FILE
from .errors import LayerError
from .tarball import BLOCK, END, HEAD_BYTES, FileHeaders, TarPlan, TarPolicy, entry_header

#: Files up to this size are read into memory and written with their neighbours.
SMALL_FILE = 256 * 1024
#: Buffered header and small-file bytes written by one ``pwrite``.
FLUSH = 1 << 20
#: A writer process reports its progress (for the parent's hash) this often.
REPORT_EVERY = 8 << 20
#: Per-entry cost in byte equivalents, for balancing segments and deciding
#: whether a layer is worth forking for (about 10 us of Python per entry, or
#: the time to copy 8 KiB).
ENTRY_COST = 8 * 1024
#: Layers cheaper than this are written by the calling process alone.
MIN_PARALLEL_COST = 48 << 20
CHUNK = 1 << 20
_HASH_WINDOW = 64 << 20  # bytes mapped at once to hash them
_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_O_DIR = _O_READ | getattr(os, "O_DIRECTORY", 0)
_DIR_FD = os.open in os.supports_dir_fd
_ERROR = 0xFFFFFFFFFFFFFFFF
#: copy_file_range errors that are the output's (full disk, size limit): never retried.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


@dataclass
class PlainResult:
    """The diff_id (None when not asked for) and how many writer processes ran."""

    diff_id: str | None
    processes: int


class _Writer:
    """Writes records ``[lo, hi)`` of a plan into ``out_fd`` at their offsets."""

    def __init__(self, out_fd: int, plan: TarPlan, policy: TarPolicy,
                 report: Callable[[int], None] | None) -> None:
        self.out_fd = out_fd
        self.plan = plan
        self.policy = policy
        self.report = report
        self.kernel_copy = hasattr(os, "copy_file_range")
        self.reported = 0

    def pwrite(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.pwrite(self.out_fd, view[done:], offset + done)

    def progress(self, offset: int, final: bool = False) -> None:
        if self.report is not None and (final or offset - self.reported >= REPORT_EVERY):
            self.report(offset)
            self.reported = offset

    def run(self, lo: int, hi: int) -> None:
        records = self.plan.records
        policy = self.policy
        headers = FileHeaders(policy)
        opener = _Opener()
        last = len(records) - 1
        pieces: list[bytes] = []
        buffered = 0
        start = records[lo][0]  # offset of pieces[0]
        try:
            for i in range(lo, hi):
                offset, name, entry = records[i]
                if i == last:
                    header = END
                elif entry is None or entry.kind != FILE or not entry.size:
                    header = entry_header(name, entry, policy)
                else:
                    size = entry.size
                    pad = -size % BLOCK
                    fd = opener.open(entry)
                    try:
                        if size <= SMALL_FILE:
                            data = _read(fd, size, entry)
                            header = (headers.file(name, size, data[:HEAD_BYTES])
                                      or entry_header(name, entry, policy, data[:HEAD_BYTES]))
                            pieces += (header, data, bytes(pad)) if pad else (header, data)
                            buffered += len(header) + size + pad
                        else:
                            head = _pread(fd, HEAD_BYTES, 0, entry)
                            header = (headers.file(name, size, head)
                                      or entry_header(name, entry, policy, head))
                            pieces.append(header)
                            self.pwrite(b"".join(pieces), start)
                            data_at = offset + len(header)
                            self.copy(fd, size, data_at, entry)
                            pieces = [bytes(pad)] if pad else []
                            buffered = pad
                            start = data_at + size
                            self.progress(start)
                    finally:
                        os.close(fd)
                    if buffered >= FLUSH:
                        self.pwrite(b"".join(pieces), start)
                        start += buffered
                        pieces, buffered = [], 0
                        self.progress(start)
                    continue
                pieces.append(header)
                buffered += len(header)
        finally:
            opener.close()
        if pieces:
            self.pwrite(b"".join(pieces), start)
            start += buffered
        self.progress(start, final=True)

    def copy(self, fd: int, size: int, dst: int, entry) -> None:
        """Copies ``size`` bytes of ``fd`` to ``dst`` of the output, in the kernel if it can."""
        done = 0
        if self.kernel_copy:
            try:
                while done < size:
                    n = os.copy_file_range(fd, self.out_fd, size - done, done, dst + done)
                    if n == 0:
                        break
                    done += n
            except OSError as e:
                if e.errno in _WRITE_ERRNOS:
                    raise
                self.kernel_copy = False  # not here (EXDEV, EINVAL, ENOSYS, ...): read + write
        while done < size:
            chunk = _pread(fd, min(CHUNK, size - done), done, entry)
            if not chunk:
                break
            self.pwrite(chunk, dst + done)
            done += len(chunk)
        if done < size:
            raise LayerError(f"{entry.origin}: {entry.source} changed size while being read")


class _Opener:
    """Opens source files relative to their directory's descriptor, kept open while
    consecutive files share it (as GNU tar's openat does): the kernel resolves one
    path component per file instead of the whole path."""

    def __init__(self) -> None:
        self._dir = ""
        self._fd: int | None = None

    def open(self, entry) -> int:
        source = entry.source
        head, _sep, base = source.rpartition("/")
        try:
            if head and base and _DIR_FD:
                if head != self._dir:
                    self.close()
                    try:
                        self._fd = os.open(head, _O_DIR)
                    except OSError:  # an unreadable directory, say: the whole path
                        return os.open(source, _O_READ)
                    self._dir = head
                return os.open(base, _O_READ, dir_fd=self._fd)
            return os.open(source, _O_READ)
        except OSError as e:
            raise LayerError(f"{entry.origin}: cannot read {source}: {e.strerror}") from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._dir = ""


def _read(fd: int, size: int, entry) -> bytes:
    """All ``size`` bytes of a small file: one read, unless it comes back short."""
    try:
        data = os.read(fd, size)
    except OSError as e:
        raise LayerError(f"{entry.origin}: cannot read {entry.source}: {e.strerror}") from None
    return data if len(data) == size else _read_exactly(fd, size, entry, data)


def _read_exactly(fd: int, size: int, entry, data: bytes = b"") -> bytes:
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


def _pread(fd: int, n: int, offset: int, entry) -> bytes:
    try:
        return os.pread(fd, n, offset)
    except OSError as e:
        raise LayerError(f"{entry.origin}: cannot read {entry.source}: {e.strerror}") from None


def segments(plan: TarPlan, workers: int,
             min_cost: int = MIN_PARALLEL_COST) -> list[tuple[int, int]]:
    """Contiguous record ranges of about equal cost (entries and bytes), at most
    ``workers`` of them; one range for a layer cheaper than ``min_cost``."""
    records = plan.records
    n = len(records)
    total = plan.size + n * ENTRY_COST
    if workers <= 1 or total < min_cost or n < 2:
        return [(0, n)]
    out: list[tuple[int, int]] = []
    lo = 0
    for k in range(1, workers):
        goal = total * k // workers
        hi = lo
        # first record whose start cost reaches the goal (records' offsets grow)
        while hi < n and records[hi][0] + hi * ENTRY_COST < goal:
            hi += 1
        if lo < hi < n:
            out.append((lo, hi))
            lo = hi
    out.append((lo, n))
    return out


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


def write_plain_tar(out_fd: int, plan: TarPlan, policy: TarPolicy, workers: int,
                    digest: bool, min_cost: int = MIN_PARALLEL_COST) -> PlainResult:
    """Writes the tar of ``plan`` into ``out_fd`` (from offset 0; opened for reading
    too when ``digest``: the diff_id is read back from it).

    ``workers``: writer processes at most; ``digest``: whether to compute the
    diff_id. Neither changes a byte of the output.
    """
    ranges = segments(plan, workers, min_cost)
    if len(ranges) == 1 or not _can_fork():
        _Writer(out_fd, plan, policy, None).run(0, len(plan.records))
        diff_id = None
        if digest:
            h = hashlib.sha256()
            sha256_range(out_fd, h, 0, plan.size)
            diff_id = "sha256:" + h.hexdigest()
        return PlainResult(diff_id, 1)
    try:
        return PlainResult(_run_forked(out_fd, plan, policy, ranges, digest), len(ranges))
    except _ForkFailed:
        # No process to spare (a pids limit, EAGAIN, ENOMEM): the writers that
        # started are gone, and writing in this process gives the same bytes.
        return write_plain_tar(out_fd, plan, policy, 1, digest, min_cost)


class _ForkFailed(Exception):
    """A writer process could not be started."""


def _child(out_fd: int, plan: TarPlan, policy: TarPolicy, lo: int, hi: int, w: int) -> None:
    """A writer process: writes its range, reports progress on ``w``; never returns."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

        def report(offset: int) -> None:
            os.write(w, struct.pack("<Q", offset))

        _Writer(out_fd, plan, policy, report).run(lo, hi)
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
            os.write(w, struct.pack("<QI", _ERROR, len(body)) + body)
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(code)


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = os.read(fd, n - len(data))
        if not more:
            break
        data += more
    return data


def _failure(fd: int) -> BaseException:
    (length,) = struct.unpack("<I", _read_exact(fd, 4))
    error = json.loads(_read_exact(fd, length).decode("utf-8"))
    if "layer" in error:
        return LayerError(error["layer"])
    return OSError(error["errno"], error["strerror"], error["filename"])


def _run_forked(out_fd: int, plan: TarPlan, policy: TarPolicy,
                ranges: Sequence[tuple[int, int]], digest: bool) -> str | None:
    children: list[tuple[int, int, int]] = []  # (pid, read end, end offset)
    reaped: set[int] = set()
    try:
        for lo, hi in ranges:
            try:
                r, w = os.pipe()
            except OSError as e:
                raise _ForkFailed from e
            try:
                pid = os.fork()
            except OSError as e:
                os.close(r)
                os.close(w)
                raise _ForkFailed from e
            if pid == 0:  # pragma: no cover (the child process)
                os.close(r)
                _child(out_fd, plan, policy, lo, hi, w)
            os.close(w)
            end = plan.records[hi][0] if hi < len(plan.records) else plan.size
            children.append((pid, r, end))
        h = hashlib.sha256() if digest else None
        pos = 0
        for pid, r, end in children:
            failure: BaseException | None = None
            done = None
            while True:
                msg = _read_exact(r, 8)
                if len(msg) < 8:
                    break
                (value,) = struct.unpack("<Q", msg)
                if value == _ERROR:
                    failure = _failure(r)
                    break
                done = value
                if h is not None:
                    sha256_range(out_fd, h, pos, value)
                    pos = value
            _pid, status = os.waitpid(pid, 0)
            reaped.add(pid)
            if failure is not None:
                raise failure
            if status != 0 or done != end:
                raise LayerError(f"a layer writer process ended early (wait status {status})")
        return None if h is None else "sha256:" + h.hexdigest()
    finally:
        for pid, r, _end in children:
            if pid not in reaped:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
            os.close(r)
