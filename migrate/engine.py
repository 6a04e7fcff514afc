"""One file through the pipeline: read -> plan -> render -> check, a pure function of its bytes.

BUILD files, macros in .bzl files and the WORKSPACE take the same path;
:func:`migrate_file` is what the process pool runs, and it never writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from migrate import read, rules
from migrate.model import CallPlan, FileRecord, ImplicitRef, Left, Options
from migrate.plan import plan_file
from migrate.render import RenderError, apply_edits
from migrate.source import SourceError, decode, encode
from migrate.workspace import WorkspacePlan, plan_workspace


@dataclass(frozen=True)
class Job:
    path: str  # workspace-relative
    data: bytes
    options: Options
    targets: frozenset[str] | None = None
    refs: Mapping[str, tuple[ImplicitRef, ...]] = field(default_factory=dict)
    still_used: Mapping[str, tuple[str, ...]] | None = None
    ignore_kinds: frozenset[str] = frozenset()
    strings: Mapping[str, str] = field(default_factory=dict)  # label literals to rewrite
    block: Mapping[str, Left] = field(default_factory=dict)  # calls kept, by name, and why


@dataclass
class FileResult:
    path: str
    output: bytes | None = None  # the new bytes; None when nothing changes
    plans: list[CallPlan] = field(default_factory=list)
    left: list[Left] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    deferred: bool = False  # container_pull calls wait for the repository's use data
    parsed: bool = False
    record: FileRecord | None = None


def prefilter(data: bytes) -> bool:
    return any(marker in data for marker in rules.PREFILTER)


def _read(path: str, data: bytes, result: FileResult, ignore_kinds: frozenset[str] = frozenset()
          ) -> tuple[read.Parsed, FileRecord, str, object] | None:
    try:
        text, encoding = decode(data)
        parsed = read.parse(text)
    except SourceError as exc:
        result.error = str(exc)
        return None
    result.parsed = True
    record = read.read(parsed, ignore_kinds)
    return parsed, record, text, encoding


def migrate_file(job: Job) -> FileResult:
    result = FileResult(job.path)
    if not job.strings and not prefilter(job.data):
        return result
    got = _read(job.path, job.data, result, job.ignore_kinds)
    if got is None:
        return result
    parsed, record, text, encoding = got
    # what the run needs of the record across files (sent back from a worker process)
    result.record = dataclasses.replace(
        record, calls=tuple(c for c in record.calls if c.kind == "container_pull"))
    planned = plan_file(record, job.path, job.options, job.targets, job.refs, job.still_used,
                        job.strings, job.block)
    result.left, result.notes, result.deferred = planned.left, planned.notes, planned.deferred
    if not planned.edits:
        return result
    try:
        new_text = apply_edits(parsed, record.loads, planned.edits)
    except RenderError as exc:  # pragma: no cover - a bug in the renderer
        result.error = str(exc)
        return result
    if new_text != text:
        result.output = encode(new_text, encoding)  # type: ignore[arg-type]
        result.plans = [dataclasses.replace(p, call=None) for p in planned.plans]
    return result


def migrate_workspace(path: str, data: bytes, bases: Iterable[str],
                      still_used: Mapping[str, tuple[str, ...]], options: Options,
                      default_image: str | None) -> WorkspacePlan:
    """The WORKSPACE file: rules_oci set-up and an ``oci_pull`` per base (``--workspace``)."""
    result = FileResult(path)
    got = _read(path, data, result)
    if got is None:
        return WorkspacePlan(path, error=result.error)
    parsed, record, _, encoding = got
    planned = plan_workspace(path, record, bases, still_used, options, default_image)
    if options.workspace and planned.edits:
        try:
            planned.output = encode(apply_edits(parsed, record.loads, planned.edits),
                                    encoding)  # type: ignore[arg-type]
        except RenderError as exc:  # pragma: no cover - a bug in the renderer
            planned.error = str(exc)
    return planned
