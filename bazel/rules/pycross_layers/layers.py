"""Groups entries into layers and writes one deterministic tar per layer."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import BinaryIO

from . import compress
from .classify import Classifier
from .entries import DIR, Entry
from .errors import LayerError
from .plain_tar import write_plain_tar
from .tarball import TarPolicy, TarStats, write_tar


@dataclass
class LayerResult:
    """One written layer, as recorded in ``layers.json``."""

    name: str
    file: str
    entries: int
    bytes: int
    tar_bytes: int
    diff_id: str
    digest: str
    size: int
    media_type: str


def normalise_root(root: str) -> str:
    """``/app`` -> ``app``; ``/`` -> ``''``. Rejects relative or climbing roots."""
    if not root.startswith("/"):
        raise LayerError(f"--root {root!r} must be an absolute path in the image, like /app")
    parts = [p for p in root.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise LayerError(f"--root {root!r} must not contain '.' or '..'")
    return "/".join(parts)


def assign(entries: Iterable[Entry], classifier: Classifier) -> dict[str, list[Entry]]:
    """Every entry in exactly one group; all groups present, possibly empty.

    The entries are free of conflicts (``check_tree``): a walked directory cannot
    have any, and ``parse_manifest`` checks the paths a manifest declares.
    """
    groups: dict[str, list[Entry]] = {name: [] for name in classifier.order}
    for e in entries:
        groups[classifier.classify(e.runfiles_path)].append(e)
    return groups


def layer_items(entries: Sequence[Entry], root: str) -> list[tuple[str, Entry | None]]:
    """The (name in tar, entry) pairs of one layer: entries plus all their parent
    directories (written in this same layer), sorted by path bytes."""
    items: dict[str, Entry | None] = {}
    for e in entries:
        name = f"{root}/{e.path}" if root else e.path
        if e.kind != DIR or name not in items:
            items[name] = None if e.kind == DIR else e
        parent = name.rpartition("/")[0]
        while parent and parent not in items:
            items[parent] = None
            parent = parent.rpartition("/")[0]
    if all(name.isascii() for name in items):  # str order is byte order: no encoding
        return sorted(items.items())  # names are unique: entries are never compared
    return sorted(items.items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))


class _CountingFile:
    """Counts (and, for compressed layers, hashes) the bytes written to a file."""

    def __init__(self, f, hashing: bool) -> None:
        self._f = f
        self._hash = hashlib.sha256() if hashing else None
        self.size = 0

    def write(self, data) -> None:
        if self._hash is not None:
            self._hash.update(data)
        self._f.write(data)
        self.size += len(data)

    def digest(self, diff_id: str) -> str:
        """The file's sha256; an uncompressed layer's is its diff_id, not hashed twice."""
        return diff_id if self._hash is None else "sha256:" + self._hash.hexdigest()


@contextlib.contextmanager
def atomic_output(path: str, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` (with ``mode``) only once complete.

    It is written under a temporary name in the same directory and renamed;
    on any error the temporary file is removed and ``path`` is untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=directory)
    except OSError as e:
        raise write_error(directory, e) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_error(path: str, e: OSError) -> LayerError:
    """One line for a failed write: what, where, and the fix for a full disk."""
    what = e.strerror or str(e)
    hint = ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT if hasattr(errno, "EDQUOT") else -1):
        hint = "; free space on that file system or write elsewhere"
    elif e.errno == errno.EFBIG:
        hint = "; the file system or a ulimit (ulimit -f) caps the file size"
    elif e.errno == errno.ENAMETOOLONG:
        hint = "; choose a shorter output path"
    return LayerError(f"cannot write {path}: {what}{hint}")


def write_layer(path: str, name: str, entries: Sequence[Entry], root: str, policy: TarPolicy,
                method: str, level: int | None = None,
                threads: int | None = None, shown: str | None = None,
                digest: bool = True) -> LayerResult:
    """Writes one layer to ``path`` atomically (temporary name, then rename).

    ``digest``: whether to compute the diff_id and the file's digest (the
    Bazel action does not: the image rules hash the layer themselves); when
    False both are empty strings. Neither ``digest`` nor ``threads`` changes
    a byte of the layer. A failed write (full disk, file too large, name too
    long) is a LayerError naming ``shown`` (default: ``path``).
    """
    _level, workers = compress.check_options(method, level, threads)
    try:
        with atomic_output(path) as raw:
            if method == "none":  # straight into the file: no stream, no second hash
                raw.flush()
                plain = write_plain_tar(raw.fileno(), layer_items(entries, root), policy,
                                        workers, digest)
                stats = TarStats(plain.entries, plain.content_bytes, plain.size,
                                 plain.diff_id or "")
                size, file_digest = plain.size, stats.diff_id
            else:
                out = _CountingFile(raw, hashing=digest)
                stream = compress.open_writer(out, method, level, threads)
                stats = write_tar(stream, layer_items(entries, root), policy, digest=digest)
                stream.close()
                size, file_digest = out.size, out.digest(stats.diff_id) if digest else ""
    except OSError as e:
        raise write_error(shown or path, e) from None
    return LayerResult(
        name=name,
        file=os.path.basename(path),
        entries=stats.entries,
        bytes=stats.content_bytes,
        tar_bytes=stats.tar_bytes,
        diff_id=stats.diff_id,
        digest=file_digest,
        size=size,
        media_type=compress.MEDIA_TYPES[method],
    )


def write_json_atomically(path: str, data) -> None:
    """Writes ``data`` as sorted, indented JSON via a temporary file."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    with atomic_output(path) as f:
        f.write(text.encode("utf-8"))


#: Files of a complete output set: layers and layers.json. A directory holding
#: anything else is not replaced (it is not ours to delete).
_EXT = "|".join(re.escape(x) for x in compress.EXTENSIONS.values())
_OUR_FILE = re.compile(rf"(?:[A-Za-z_][A-Za-z0-9_]*(?:{_EXT})|layers\.json)\Z")
_STAGING = ".pycross-staging-"
_OLD = ".pycross-old-"


def _check_replaceable(out_dir: str, shown: str) -> bool:
    """Whether ``out_dir`` exists; fails if it holds files this tool did not write."""
    try:
        names = os.listdir(out_dir)
    except FileNotFoundError:
        return False
    except NotADirectoryError:
        raise LayerError(f"--out {shown}: not a directory") from None
    except OSError as e:
        raise LayerError(f"--out {shown}: cannot read directory: {e.strerror}") from None
    foreign = sorted(n for n in names if not _OUR_FILE.match(n))
    if foreign:
        raise LayerError(
            f"--out {shown}: holds files pycross-image did not write ({', '.join(foreign[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); it replaces the whole directory, so give "
            "an empty or new one")
    return True


def _exchange(a: str, b: str) -> bool:
    """Swaps two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, ImportError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # file system or kernel lacks it
        return False
    raise OSError(err, os.strerror(err), b)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (are blocked) while the finished set is swapped in."""
    held = (signal.SIGINT, signal.SIGTERM)
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not \
            threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _parent_lock(parent: str) -> Iterator[None]:
    """An exclusive flock on the output's parent directory: swaps never interleave."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the renames alone
        yield
        return
    fd = os.open(parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _swap_in(staging: str, out_dir: str) -> None:
    """Makes ``staging`` the new ``out_dir``: the old complete set, or the new one, never
    a mix. With RENAME_EXCHANGE there is no moment without ``out_dir``."""
    parent = os.path.dirname(out_dir)
    with _signals_held(), _parent_lock(parent):
        if not _check_replaceable(out_dir, out_dir):
            os.rename(staging, out_dir)
            return
        if _exchange(staging, out_dir):
            shutil.rmtree(staging)  # now holds the previous set
            return
        old = tempfile.mkdtemp(prefix=_OLD, dir=parent)
        try:
            os.rename(out_dir, os.path.join(old, "set"))
            try:
                os.rename(staging, out_dir)
            except OSError:
                os.rename(os.path.join(old, "set"), out_dir)  # put the previous set back
                raise
        finally:
            shutil.rmtree(old, ignore_errors=True)


def build_layers(entries: Sequence[Entry], classifier: Classifier, out_dir: str, root: str,
                 policy: TarPolicy, method: str, level: int | None = None,
                 threads: int | None = None) -> list[LayerResult]:
    """Writes ``<group>.tar[.gz|.zst]`` for every group and ``layers.json`` as ``out_dir``.

    All or nothing: the set is written into a staging directory next to ``out_dir``
    and swapped in whole, so a failed or interrupted run leaves the previous
    complete set (or no directory) and no temporary files. Concurrent runs into one
    directory each stage on their own; their swaps are serialised by a lock.
    """
    if method not in compress.METHODS:
        raise LayerError(f"unknown compression {method!r}: choose one of "
                         f"{', '.join(compress.METHODS)}")
    shown, out_dir = out_dir, os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    _check_replaceable(out_dir, shown)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise LayerError(f"--out {shown}: cannot create directory: {e.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise LayerError(f"--out {shown}: its parent directory is not writable")
    groups = assign(entries, classifier)
    try:
        staging = tempfile.mkdtemp(prefix=_STAGING, dir=parent)
    except OSError as e:
        raise LayerError(f"--out {shown}: cannot create directory: {e.strerror}") from None
    try:
        results = []
        for name in classifier.order:
            path = os.path.join(staging, name + compress.EXTENSIONS[method])
            results.append(write_layer(path, name, groups[name], root, policy, method, level,
                                       threads, shown=os.path.join(shown, os.path.basename(path))))
        try:
            write_json_atomically(os.path.join(staging, "layers.json"),
                                  {"layers": [asdict(r) for r in results]})
            os.chmod(staging, 0o755)
            _swap_in(staging, out_dir)
        except OSError as e:
            raise write_error(shown, e) from None
    finally:
        with _signals_held():  # a second Ctrl-C must not leave half a staging directory
            if os.path.lexists(staging):
                shutil.rmtree(staging, ignore_errors=True)
    return results
