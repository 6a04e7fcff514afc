"""qemu-aarch64 in binfmt_misc for the length of a test run, so arm64 images run here.

Debian's qemu-user-static runs arm64 ELF binaries on an x86_64 kernel once
binfmt_misc hands them to it. `aarch64_binfmt()` mounts binfmt_misc when it is
not mounted, registers its own entry for the aarch64 ELF magic with flag `F`
(the kernel opens the interpreter at registration, so it works inside the
image's root) and, on exit, removes that entry and unmounts what it mounted.
The entry is named after the process id; entries of runs whose process is
gone (SIGKILL: no clean-up ran) are removed by the next registration.
Magic and mask come from the package's update-binfmts file; the kernel tries
the newest entry first, so ours wins over a system entry for the same magic.

Where it cannot be registered (not root, no binfmt_misc in this kernel or
container), it raises `BinfmtUnavailable` with the reason; a missing qemu is a
set-up problem (`bash .ci/setup`) and raises `BinfmtSetupError`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU = Path("/usr/bin/qemu-aarch64-static")
FORMAT = Path("/usr/share/binfmts/qemu-aarch64")  # update-binfmts format (qemu-user-static)
PREFIX = "pycross-qemu-aarch64-"  # + the registering process id


class BinfmtUnavailable(RuntimeError):
    """binfmt_misc cannot be registered on this machine (the reason is the message)."""


class BinfmtSetupError(RuntimeError):
    """The machine lacks what `bash .ci/setup` installs."""


@dataclass(frozen=True)
class Registration:
    """An entry this process registered, and whether it mounted binfmt_misc."""

    entry: Path
    mounted: bool


def _format_fields(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            fields[key] = value.strip()
    return fields


def register_line(name: str, fields: dict[str, str], interpreter: Path) -> str:
    """The `:name:M:offset:magic:mask:interpreter:flags` line binfmt_misc's register takes."""
    for key in ("magic", "mask"):
        if not fields.get(key):
            raise BinfmtSetupError(f"{FORMAT} has no {key} line")
    return ":{}:M:{}:{}:{}:{}:F".format(
        name, fields.get("offset", "0"), fields["magic"], fields["mask"], interpreter)


def _mount() -> bool:
    """Mounts binfmt_misc unless it is; True if this call mounted it."""
    if (BINFMT / "register").exists():
        return False
    proc = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise BinfmtUnavailable(f"cannot mount binfmt_misc on {BINFMT}: "
                                f"{proc.stderr.strip() or proc.returncode}")
    return True


def _umount() -> None:
    subprocess.run(["umount", str(BINFMT)], check=True, capture_output=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def stale_entries(directory: Path) -> list[Path]:
    """Entries `register` made for test runs whose process is gone (SIGKILL, a
    crash), so nothing removed them; a live run's entry is kept."""
    stale = []
    for entry in sorted(directory.glob(PREFIX + "*")):
        pid = entry.name[len(PREFIX):]
        if pid.isdigit() and not _alive(int(pid)):
            stale.append(entry)
    return stale


def remove_stale(directory: Path) -> list[Path]:
    """Removes `stale_entries(directory)` (writing -1 removes an entry); returns them."""
    stale = stale_entries(directory)
    for entry in stale:
        entry.write_text("-1")
    return stale


def register() -> Registration:
    """Registers qemu-aarch64-static for aarch64 ELF binaries; see `aarch64_binfmt`."""
    if not QEMU.is_file() or not FORMAT.is_file():
        raise BinfmtSetupError(f"{QEMU} or {FORMAT} missing: run `bash .ci/setup` "
                               "(it installs qemu-user-static)")
    if os.geteuid() != 0:
        raise BinfmtUnavailable("registering qemu-aarch64 in binfmt_misc needs root")
    line = register_line(f"{PREFIX}{os.getpid()}", _format_fields(FORMAT), QEMU)
    mounted = _mount()
    entry = BINFMT / line.split(":")[1]
    try:
        remove_stale(BINFMT)
        if entry.exists():  # left by a killed run of this same process id
            entry.write_text("-1")
        with open(BINFMT / "register", "w") as f:
            f.write(line)
    except OSError as exc:
        if mounted:
            _umount()
        raise BinfmtUnavailable(f"cannot register qemu-aarch64 in binfmt_misc: {exc}") from None
    return Registration(entry, mounted)


def unregister(reg: Registration) -> None:
    """Removes the entry, then unmounts binfmt_misc if `register` mounted it."""
    try:
        if reg.entry.exists():
            reg.entry.write_text("-1")
    finally:
        if reg.mounted:
            _umount()


@contextmanager
def aarch64_binfmt() -> Iterator[Registration]:
    """qemu-aarch64 registered for the block; nothing left behind afterwards."""
    reg = register()
    try:
        yield reg
    finally:
        unregister(reg)
