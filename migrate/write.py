"""Write stage: replace files atomically, keeping modes and symlinked BUILD files' links.

Each new file is first written in full to a temporary file in the directory of
the file it replaces (a symlink's target, so the link stays a link); one
``sync`` makes all of them durable; then each is renamed over the original.
A file is therefore either its old bytes or its new bytes, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path


class WriteError(Exception):
    pass


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
    except OSError as exc:
        raise WriteError(f"cannot stat {path}: {exc.strerror}") from None
    tmp = ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".migrate", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
    except OSError as exc:
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
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


def write_atomic(path: Path, data: bytes) -> None:
    pending = prepare(path, data)
    sync()
    commit(pending)
