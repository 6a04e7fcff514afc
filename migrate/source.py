"""Reading a Starlark file into text libcst can parse, and turning text back into bytes.

Every way a file can be unusable is a :class:`SourceError` with a sentence a user
can act on; nothing here ever modifies a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import libcst as cst

_BOM = b"\xef\xbb\xbf"
_LEGACY_OCTAL = re.compile(r"(?<![\w.])0[0-7]+\b")
_KEYWORD_THEN_POSITIONAL = re.compile(r"\bload\s*\(")


class SourceError(Exception):
    """The file cannot be read, decoded or parsed; the message says why."""


@dataclass(frozen=True)
class Encoding:
    """How the file's text maps back to its bytes."""

    crlf: bool = False
    bom: bool = False


def decode(data: bytes) -> tuple[str, Encoding]:
    """Bytes to text with ``\\n`` line ends (CRLF files are converted back by :func:`encode`)."""
    if b"\x00" in data[:8192]:
        raise SourceError("binary file (contains NUL bytes), not a Starlark file")
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
        raise SourceError("too deeply nested to parse") from None
