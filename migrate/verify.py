"""``migrate --verify``: build each selected rules_docker image, migrate, build the new
image, and compare the two with ``imagediff``.

For every ``py3_image`` the run migrates, ``//pkg:name.tar`` (rules_docker's
docker-archive) is built before the migration and ``//pkg:name.tarball``
(``py_image``'s docker-archive) after it. The pair is compared with the
differences a ``py3_image`` migration makes by design taken out:

* paths: rules_docker put the launcher and its runfiles under ``/app/<pkg>``,
  ``py_image`` under ``/app``; the binary the image transition builds is
  ``<name>.image_binary`` in the shim's runfiles and ``y<name>.binary`` in
  ``py_image``'s (``--map``);
* the interpreter entry: the entrypoint ``[launcher]`` becomes
  ``[interpreter, launcher]``;
* the launcher scripts (``<name>.binary``): Bazel's Python stub is compared
  without its ``#!`` line (the interpreter: rules_docker's container toolchain
  against the image platform's toolchain) and without the flag recording that
  ``python_version`` was set explicitly (py3_image set ``PY3``).

Everything else is a difference. The migrated files stay only when every image
is the same, or with ``--keep``; otherwise the originals are written back
byte-for-byte.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import io
import json
import os
import posixpath
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from imagediff import compare, render
from imagediff.errors import BadInput
from imagediff.merge import read_image

EXIT_SAME, EXIT_DIFFERENT, EXIT_ERROR = 0, 1, 2
_STUB_SHEBANG = re.compile(rb"\A#![^\n]*\n")
_STUB_EXPLICIT = re.compile(
    rb"\n  if (True|False):\n    # Mismatch with explicitly declared version")


@dataclass
class Target:
    package: str
    name: str
    before: Path | None = None
    after: Path | None = None
    diffs: list[compare.Difference] = field(default_factory=list)

    def label(self, suffix: str = "") -> str:
        return f"//{self.package}:{self.name}{suffix}"


class VerifyError(Exception):
    pass


class Bazel:
    """``bazel [startup flags] COMMAND [flags] ARGS`` in the workspace root."""

    def __init__(self, root: Path, binary: str, startup: list[str], flags: list[str],
                 stderr: TextIO) -> None:
        self.root, self.binary, self.startup, self.flags = root, binary, startup, flags
        self.stderr = stderr

    def run(self, command: str, *args: str) -> str:
        cmd = [self.binary, *self.startup, command, *self.flags, *args]
        try:
            proc = subprocess.run(cmd, cwd=self.root, capture_output=True, text=True)
        except OSError as exc:
            raise VerifyError(f"cannot run {self.binary}: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            raise VerifyError(f"bazel {command} {' '.join(args)} failed "
                              f"(exit {proc.returncode}):\n{tail}")
        return proc.stdout

    def outputs(self, labels: list[str]) -> dict[str, Path]:
        """The one output file of each label, in the configuration it is built in."""
        self.run("build", *labels)
        expr = ("str(target.label) + '\\t' + "
                "'\\t'.join([f.path for f in target.files.to_list()])")
        query = labels[0] if len(labels) == 1 else f"set({' '.join(labels)})"
        out = self.run("cquery", query, "--universe_scope=" + ",".join(labels),
                       "--output=starlark", "--starlark:expr=" + expr)
        execroot = Path(self.run("info", "execution_root").strip())
        found = {}
        for line in out.splitlines():
            label, *paths = line.split("\t")
            if len(paths) == 1:
                found[label.lstrip("@")] = execroot / paths[0]
        for label in labels:
            if label not in found and f"//{label.lstrip('/')}" not in found:
                raise VerifyError(f"{label}: no single output file found by cquery")
        return found


def workspace_name(root: Path) -> str:
    for name in ("WORKSPACE", "WORKSPACE.bazel"):
        path = root / name
        if path.is_file():
            m = re.search(r'workspace\(\s*name\s*=\s*"([^"]+)"', path.read_text("utf-8", "replace"))
            if m:
                return m.group(1)
    return "_main"


def expected_mapping(target: Target, workspace: str) -> list[tuple[str, str]]:
    """Path prefixes of the rules_docker image and where ``py_image`` puts them."""
    pkg = target.package
    old_root = posixpath.join("/app", pkg) if pkg else "/app"
    old_runfiles = f"{old_root}/{target.name}.binary.runfiles"
    new_runfiles = f"/app/{target.name}.binary.runfiles"
    inner = posixpath.join(workspace, pkg) if pkg else workspace
    mapping = [(f"{old_runfiles}/{inner}/{target.name}.image_binary",
                f"{new_runfiles}/{inner}/y{target.name}.binary")]
    if old_root != "/app":
        mapping.append((old_root, "/app"))
    return compare.parse_map(f"{a}={b}" for a, b in mapping)


def _stub_key(data: bytes) -> bytes:
    return _STUB_EXPLICIT.sub(b"\n  if EXPLICIT:\n    # Mismatch with explicitly declared version",
                              _STUB_SHEBANG.sub(b"", data, count=1))


def compare_pair(target: Target, workspace: str) -> list[compare.Difference]:
    """The differences between the two images that the migration does not explain."""
    mapping = expected_mapping(target, workspace)
    launcher = target.name + ".binary"

    def is_stub(path: str) -> bool:
        return posixpath.basename(path) == launcher

    a = read_image(str(target.before), capture=is_stub)
    b = read_image(str(target.after), capture=is_stub)
    configs = compare.compare_configs(a.config, b.config, mapping)
    files_a = compare.map_files(a.files, mapping)
    captured_a = {compare.map_path(p, mapping): d for p, d in a.captured.items()}
    diffs = []
    for d in configs:
        if (d.what == "entrypoint" and isinstance(d.a, list) and isinstance(d.b, list)
                and len(d.b) == len(d.a) + 1 and d.b[1:] == d.a
                and posixpath.basename(d.b[0]).startswith("python")):
            continue  # the interpreter entry
        diffs.append(d)
    for d in compare.compare_files(files_a, b.files):
        if (d.field == "content" and is_stub(d.what) and d.what in captured_a
                and d.what in b.captured
                and _stub_key(captured_a[d.what]) == _stub_key(b.captured[d.what])):
            continue  # the launcher stub: only its interpreter line differs
        diffs.append(d)
    return diffs


def _migrate(cli_run, args: argparse.Namespace, mode: str) -> tuple[int, dict, str]:
    run_args = copy.copy(args)
    run_args.diff = False
    run_args.check = mode == "check"
    run_args.json = True
    run_args.quiet = True
    out, err = io.StringIO(), io.StringIO()
    code = cli_run(run_args, out, err)
    try:
        report = json.loads(out.getvalue())
    except ValueError:
        report = {}
    return code, report, err.getvalue()


def _targets(report: dict) -> tuple[list[Target], list[str]]:
    targets, skipped = [], []
    for m in report.get("migrated", []):
        if m.get("kind") != "py3_image":
            continue
        path = m.get("path", "")
        if posixpath.basename(path) not in ("BUILD", "BUILD.bazel"):
            skipped.append(f"{path}: {m.get('name')}: in a macro, not verified")
            continue
        targets.append(Target(posixpath.dirname(path), m["name"]))
    return targets, skipped


def run(cli_run, args: argparse.Namespace, root: Path, bazel_flags: list[str],
        stdout: TextIO, stderr: TextIO) -> int:
    """``cli_run`` is migrate.cli.run (the migration itself)."""
    started = time.monotonic()
    if args.to != "oci":
        print("migrate: --verify needs --to oci", file=stderr)
        return EXIT_ERROR
    code, report, err = _migrate(cli_run, args, "check")
    if code == EXIT_ERROR or not report:
        stderr.write(err)
        print("migrate: --verify: the migration reports errors; nothing verified", file=stderr)
        return EXIT_ERROR
    targets, skipped = _targets(report)
    for line in skipped:
        print(f"migrate: {line}", file=stderr)
    if not targets:
        print("migrate: --verify: no py3_image to migrate in the selection", file=stderr)
        return 3
    bazel = Bazel(root, args.bazel, args.bazel_startup_flag, bazel_flags, stderr)
    changed = report.get("files_changed", [])
    originals = {p: (root / p).read_bytes() for p in changed}
    migrated = False
    try:
        print(f"building {len(targets)} rules_docker image(s)...", file=stderr)
        before = bazel.outputs([t.label(".tar") for t in targets])
        for t in targets:
            t.before = _copy_out(before, t.label(".tar"), root, "before")
        code, _report, err = _migrate(cli_run, args, "write")
        migrated = True
        if code not in (0, 3):
            stderr.write(err)
            raise VerifyError("the migration failed")
        print("building the migrated image(s)...", file=stderr)
        after = bazel.outputs([t.label(".tarball") for t in targets])
        workspace = workspace_name(root)
        for t in targets:
            t.after = _copy_out(after, t.label(".tarball"), root, "after")
            t.diffs = compare_pair(t, workspace)
    except (VerifyError, BadInput) as exc:
        print(f"migrate: --verify: {exc}", file=stderr)
        if migrated and not args.keep:
            _restore(root, originals)
            print("migrate: --verify: original files restored", file=stderr)
        return EXIT_ERROR
    finally:
        for t in targets:
            for p in (t.before, t.after):
                if p is not None and p.exists():
                    p.unlink()
    same = all(not t.diffs for t in targets)
    for t in targets:
        if t.diffs:
            stdout.write(f"{t.label()}: different\n")
            body = render.table(t.diffs, t.label(".tar") + " (rules_docker)",
                                t.label(".tarball") + " (migrated)")
            stdout.write("".join("    " + line + "\n" for line in body.splitlines()))
        else:
            stdout.write(f"{t.label()}: same\n")
    if same or args.keep:
        kept = "kept" if same else "kept (--keep)"
        stdout.write(f"migrated files {kept}: {', '.join(changed)}\n")
    else:
        _restore(root, originals)
        stdout.write(f"differences found: original files restored: {', '.join(changed)}\n")
    print(f"migrate: --verify took {time.monotonic() - started:.1f} s", file=stderr)
    return EXIT_SAME if same else EXIT_DIFFERENT


def _copy_out(outputs: dict[str, Path], label: str, root: Path, tag: str) -> Path:
    """A private copy of a Bazel output (the next build may replace it)."""
    src = outputs.get(label) or outputs.get("//" + label.lstrip("/"))
    if src is None:
        raise VerifyError(f"{label}: not built")
    digest = hashlib.sha256(label.encode()).hexdigest()[:12]
    dest = Path(tempfile.gettempdir()) / f"migrate-verify-{os.getpid()}-{tag}-{digest}.tar"
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        while True:
            chunk = fin.read(1 << 20)
            if not chunk:
                break
            fout.write(chunk)
    return dest


def _restore(root: Path, originals: dict[str, bytes]) -> None:
    for path, data in originals.items():
        target = root / path
        tmp = target.with_name(f".{target.name}.verify-restore")
        tmp.write_bytes(data)
        os.chmod(tmp, (target.stat().st_mode if target.exists() else 0o644) & 0o7777)
        os.replace(tmp, target)
