"""Write stage: replace files atomically, keeping modes and symlinked BUILD files' links.

Each new file is first written in full to a temporary file in the directory of
the file it replaces (a symlink's target, so the link stays a link); one
``sync`` makes all of them durable; then each is renamed over the original.
A file is therefore either its old bytes or its new bytes, never a mix.

SIGINT and SIGTERM are held off while :func:`write_all` runs and acted on
between two files: before the renames every temporary file is removed and
nothing is replaced; during them the remaining ones are removed. Either way
each file is whole (old or new), no temporary file stays, and the run exits
130 (SIGINT) or 143 (SIGTERM).
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
NEW_FILE_MODE = 0o644


class WriteError(Exception):
    pass


class Interrupted(BaseException):
    """SIGINT or SIGTERM: the run stops; ``code`` is the shell's exit status for it."""

    def __init__(self, signum: int, detail: str = "") -> None:
        self.signum = signum
        self.code = 128 + signum
        self.detail = detail
        self.name = signal.Signals(signum).name
        super().__init__(f"{self.name}: {detail}" if detail else self.name)


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` (SIGTERM would otherwise kill
    the process without any clean-up); the previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _held_signals() -> Iterator[Callable[[], int | None]]:
    """Record SIGINT/SIGTERM instead of acting; yields a function returning the first one."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    old = {s: signal.signal(s, note) for s in STOP_SIGNALS}
    try:
        yield lambda: received[0] if received else None
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


@dataclass
class Written:
    """What :func:`write_all` did: files replaced, and files it could not write with why."""

    changed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Pending:
    """A complete temporary file waiting to be renamed over ``target``."""

    path: Path  # the path the user knows (maybe a symlink)
    target: Path  # the file actually replaced
    tmp: Path


def prepare(path: Path, data: bytes) -> Pending:
    """Write ``data`` next to ``path``'s real file, with its mode; nothing replaced yet."""
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE  # a new file (MODULE.bazel), whatever the umask
    except OSError as exc:
        raise WriteError(f"cannot stat {path}: {exc.strerror}") from None
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".migrate", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
    except BaseException as exc:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return Pending(path, target, Path(tmp))


def commit(pending: Pending) -> None:
    try:
        os.replace(pending.tmp, pending.target)
    except OSError as exc:
        discard(pending)
        raise WriteError(f"cannot replace {pending.path}: {exc.strerror or exc}") from None


def discard(pending: Pending) -> None:
    with contextlib.suppress(OSError):
        os.unlink(pending.tmp)


def sync() -> None:
    """Make every prepared file durable before any rename (one call, not one per file)."""
    if hasattr(os, "sync"):
        os.sync()


def write_all(root: Path, outputs: Mapping[str, bytes]) -> Written:
    """Replace each ``root/path`` with its new bytes: all temporary files, one sync, renames.

    Raises:
        Interrupted: SIGINT or SIGTERM arrived; every file is whole and no
            temporary file is left (see the module docstring).
    """
    done = Written()
    pending: list[tuple[str, Pending]] = []
    with _held_signals() as stop:
        try:
            for path in sorted(outputs):
                if stop():
                    break
                try:
                    pending.append((path, prepare(root / path, outputs[path])))
                except WriteError as exc:
                    done.failed[path] = str(exc)
            if pending and not stop():
                sync()
            while pending and not stop():
                path, item = pending.pop(0)
                try:
                    commit(item)
                except WriteError as exc:
                    done.failed[path] = str(exc)
                    continue
                done.changed.append(path)
        finally:
            for _, item in pending:
                discard(item)
        signum = stop()
    if signum is not None and not done.changed:
        raise Interrupted(signum, "no file was changed")
    if signum is not None:
        raise Interrupted(signum, f"{len(done.changed)} of {len(outputs)} files written, "
                          "the others left as they were; run again to finish")
    return done


def write_atomic(path: Path, data: bytes) -> None:
    pending = prepare(path, data)
    sync()
    commit(pending)
