"""Reading a Starlark file into text libcst can parse, and turning text back into bytes.

Every way a file can be unusable is a :class:`SourceError` with a sentence a user
can act on; nothing here ever modifies a file.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

_BOM = b"\xef\xbb\xbf"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # a generated BUILD file of a big monorepo is < 1 MB
_CHUNK = 1 << 20
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_LEGACY_OCTAL = re.compile(r"(?<![\w.])0[0-7]+\b")
_KEYWORD_THEN_POSITIONAL = re.compile(r"\bload\s*\(")


class SourceError(Exception):
    """The file cannot be read, decoded or parsed; the message says why."""


@dataclass(frozen=True)
class Encoding:
    """How the file's text maps back to its bytes."""

    crlf: bool = False
    bom: bool = False


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def size_text(size: int) -> str:
    """``10485760`` -> ``10 MiB``: sizes in messages, as --max-file-size takes them."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"


def read_regular(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a regular file (or of a link to one) of at most ``max_bytes``.

    A FIFO, a device, a socket or a directory named like a Starlark file is
    never opened for reading (a FIFO would block, ``/dev/zero`` never ends);
    the file is opened non-blocking and checked again on its descriptor, so a
    file swapped for something else in between is caught too. A NUL byte
    anywhere marks a binary file.

    Raises:
        SourceError: what the file is instead, or why it cannot be read.
    """
    try:
        link = os.lstat(path)
        info = os.stat(path) if stat.S_ISLNK(link.st_mode) else link
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    _check_regular(info, link, max_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    try:
        _check_regular(os.fstat(fd), link, max_bytes)
        chunks = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > max_bytes:  # it grew while being read
        raise SourceError(_too_large(total, max_bytes, grew=True))
    data = b"".join(chunks)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise SourceError(_binary(data, nul))
    return data


def _check_regular(info: os.stat_result, link: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        what = _kind(info.st_mode)
        if stat.S_ISLNK(link.st_mode):
            what = f"a symbolic link to {what}"
        raise SourceError(f"{what}, not a regular file: not read")
    if info.st_size > max_bytes:
        raise SourceError(_too_large(info.st_size, max_bytes))


def _too_large(size: int, max_bytes: int, grew: bool = False) -> str:
    more = "more than " if grew else ""
    return (f"{more}{size} bytes, over the size cap of {size_text(max_bytes)}: not read "
            "(--max-file-size to raise it)")


def _binary(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"binary file (a NUL byte at line {line}), not a Starlark file"


def decode(data: bytes) -> tuple[str, Encoding]:
    """Bytes to text with ``\\n`` line ends (CRLF files are converted back by :func:`encode`)."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise SourceError(_binary(data, nul))
    bom = data.startswith(_BOM)
    if bom:
        data = data[len(_BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"not UTF-8: byte 0x{data[exc.start]:02x} at line {line} (Starlark files are UTF-8)"
        ) from None
    crlf = "\r\n" in text and text.count("\n") == text.count("\r\n")
    if crlf:
        text = text.replace("\r\n", "\n")
    return text, Encoding(crlf=crlf, bom=bom)


def encode(text: str, encoding: Encoding) -> bytes:
    if encoding.crlf:
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    return _BOM + data if encoding.bom else data


def parse(text: str) -> cst.Module:
    """Parse Starlark text with libcst, explaining the known gaps when it fails."""
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        line_no = exc.raw_line
        lines = text.splitlines()
        line = lines[line_no - 1] if 0 < line_no <= len(lines) else ""
        detail = str(exc).splitlines()
        reason = next((d.strip() for d in detail[1:] if d.strip()), detail[0] if detail else "")
        hint = ""
        if "leading zeros" in reason or _LEGACY_OCTAL.search(line):
            hint = " (legacy octal literal such as 0755: write 0o755)"
        elif _KEYWORD_THEN_POSITIONAL.search(line) or "expected one of *, **, NAME" in reason:
            hint = (
                " (a positional argument after a keyword one, as in"
                ' load("x", a = "b", "c"): put the positional ones first)'
            )
        raise SourceError(f"does not parse at line {line_no}: {reason}{hint}") from None
    except RecursionError:
        raise SourceError("too deeply nested to parse (RecursionError)") from None
    except MemoryError:
        raise SourceError("out of memory while parsing") from None
