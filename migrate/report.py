"""The run's report: a JSON-ready record, and the human summary printed at the end."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any

from migrate.model import CallPlan, ImplicitRef, Left

EXIT_CHANGED = 0
EXIT_CHECK_FOUND_WORK = 1
EXIT_NOT_MIGRATED = 2
EXIT_NOTHING_TO_DO = 3


@dataclass
class FileError:
    path: str
    reason: str


@dataclass
class Report:
    root: str
    mode: str
    to: str
    files_scanned: int = 0
    files_changed: list[str] = field(default_factory=list)
    migrated: list[tuple[str, CallPlan]] = field(default_factory=list)
    left: list[tuple[str, Left]] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    workspace_file: str | None = None
    workspace_lines: str = ""
    workspace_written: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(not item.skipped for _, item in self.left)

    def exit_code(self) -> int:
        if self.failed:
            return EXIT_NOT_MIGRATED
        if self.files_changed:
            return EXIT_CHECK_FOUND_WORK if self.mode == "check" else EXIT_CHANGED
        return EXIT_NOTHING_TO_DO

    def references(self) -> list[ImplicitRef]:
        refs = [r for _, p in self.migrated for r in p.references]
        refs += [r for _, item in self.left for r in item.references]
        return refs

    def to_json(self) -> dict[str, Any]:
        def plan_dict(path: str, plan: CallPlan) -> dict[str, Any]:
            data = dataclasses.asdict(dataclasses.replace(plan, call=None))
            data.pop("call", None)
            data.pop("open_comment", None)
            data.pop("closing", None)
            data["path"] = path
            data["calls"] = [
                {"rule": c.kind, "called_as": c.rule,
                 "attrs": [a.name for a in c.attrs]} for c in plan.calls
            ]
            return data

        def left_dict(path: str, item: Left) -> dict[str, Any]:
            data = dataclasses.asdict(item)
            data["path"] = path
            return data

        return {
            "root": self.root,
            "mode": self.mode,
            "to": self.to,
            "files_scanned": self.files_scanned,
            "files_changed": self.files_changed,
            "migrated": [plan_dict(p, plan) for p, plan in self.migrated],
            "left": [left_dict(p, item) for p, item in self.left],
            "errors": [dataclasses.asdict(e) for e in self.errors],
            "references": [dataclasses.asdict(r) for r in self.references()],
            "notes": [{"path": p, "note": n} for p, n in self.notes],
            "workspace": {
                "file": self.workspace_file,
                "lines": self.workspace_lines,
                "written": self.workspace_written,
            },
            "exit_code": self.exit_code(),
        }

    def summary(self) -> str:
        out = []
        verb = {"write": "changed", "diff": "would change", "check": "would change"}[self.mode]
        out.append(
            f"migrate: {self.files_scanned} files scanned, {len(self.migrated)} targets migrated, "
            f"{len(self.files_changed)} files {verb}, "
            f"{sum(1 for _, item in self.left if not item.skipped)} targets left, "
            f"{sum(1 for _, item in self.left if item.skipped)} skipped, "
            f"{len(self.errors)} files not readable"
        )
        for path, plan in self.migrated:
            targets = " + ".join(f"{c.kind}" for c in plan.calls) or "load moved"
            out.append(f"  migrated {path}:{plan.line} {plan.name} ({plan.kind}) -> {targets}")
            for note in plan.notes:
                out.append(f"      note: {note}")
        for path, item in self.left:
            what = "skipped" if item.skipped else "left"
            out.append(f"  {what} {path}:{item.line} {item.name} ({item.kind}): {item.reason}")
        for error in self.errors:
            out.append(f"  not migrated {error.path}: {error.reason}")
        refs = self.references()
        if refs:
            out.append("references to implicit targets:")
            for ref in refs:
                status = f"kept: {ref.equivalent}" if ref.equivalent else "no equivalent"
                out.append(f"  {ref.path}:{ref.line} {ref.text} ({status})")
        for path, note in self.notes:
            out.append(f"  note {path}: {note}")
        if self.workspace_lines and not self.workspace_written:
            where = self.workspace_file or "WORKSPACE"
            flag = "--module" if where == "MODULE.bazel" else "--workspace"
            out.append(f"lines to add to {where} (or rerun with {flag}):")
            out.extend("  " + line if line else "" for line in self.workspace_lines.splitlines())
        return "\n".join(out) + "\n"


def unified_diff(path: str, old: bytes, new: bytes) -> str:
    a = old.decode("utf-8", errors="replace").splitlines(keepends=True)
    b = new.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = list(difflib.unified_diff(a, b, f"a/{path}", f"b/{path}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
                   for line in lines)
