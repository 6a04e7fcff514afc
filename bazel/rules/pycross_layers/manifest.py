"""Reads the manifest that the ``py_image_layers`` rule writes.

One record per line, fields separated by a tab::

    pycross-image-manifest<TAB>1
    workspace<TAB><main repository name>
    launcher<TAB><basename><TAB><exec path>
    file<TAB><short path><TAB><exec path>       a file, or a tree artifact (a directory)
    link<TAB><short path><TAB><exec path>       a declared symlink, kept as a link
    rootfile<TAB><path><TAB><exec path>         a root_symlinks entry (for example _repo_mapping)
    rootlink<TAB><path><TAB><exec path>         a root_symlinks entry that is a declared symlink
    empty<TAB><short path>                      an empty file (runfiles.empty_filenames)
    member<TAB><group><TAB><short path>         a file a dependency group's dependencies
                                                bring into the runfiles

A ``rootfile``/``rootlink``, or a line in the main repository, whose exec path
is the input of another repository's runfile (or lies inside one, a tree
artifact) is classified by that runfile's path, so it lands
in that runfile's layer (rules_python ``venvs_site_packages`` links pip files
into ``_main/<pkg>/_<name>.venv/lib/pythonX.Y/site-packages/``); its bytes are
kept, as a regular file at its own path.

A short path is the one Bazel reports: ``pkg/x.py`` for the main repository,
``../repo/x.py`` for an external one. ``symlinks`` entries are written like
short paths (they live under the main repository's directory).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from . import contract
from .entries import (
    SYMLINK,
    Collector,
    Entry,
    check_link_target,
    check_relative_path,
    check_tree,
    empty_entry,
    file_entry,
)
from .errors import LayerError
from .links import LinkRule
from .rundir import walk_tree

MAGIC = contract.MANIFEST_MAGIC
_FIELDS = {**contract.MANIFEST_FIELDS, MAGIC: 2}


@dataclass
class Manifest:
    """What a manifest describes, entries resolved against the execroot."""

    workspace: str
    launcher: str | None
    entries: list[Entry] = field(default_factory=list)
    # dependency group name -> runfiles paths of its members
    members: dict[str, set[str]] = field(default_factory=dict)

    def inputs(self) -> list[str]:
        """Exec paths of every input the manifest names, sorted."""
        return sorted({e.input for e in self.entries if e.input})


def runfiles_path(short_path: str, workspace: str) -> str:
    """Maps a short path to its path relative to the runfiles root."""
    if short_path.startswith("../"):
        return short_path[3:]
    return f"{workspace}/{short_path}"


def link_chain(host: str, rule: LinkRule | None = None, exec_path: str | None = None,
               found: list[os.stat_result] | None = None) -> tuple[str | None, str | None]:
    """Follows Bazel's staging links from ``host`` (``links.LinkRule.chain``).

    Returns (the target to keep as a link, or None to read through; the last
    absolute staging target seen); both None when ``host`` is not a link. A
    relative target is a declared (unresolved) symlink's own: this finds
    declared symlinks even on Bazel versions whose ``File`` has no
    ``is_symlink``. An absolute target outside the output base held by an
    output is a path in the image (``/usr/bin/python3``), kept as written.
    """
    rule = rule or LinkRule.around(".")
    output = exec_path is not None and exec_path.startswith("bazel-out/")
    return rule.chain(host, exec_path, output, found=found)


def parse_manifest(path: str, execroot: str = ".", output_base: str | None = None) -> Manifest:
    """Parses ``path``; exec paths are resolved against ``execroot``.

    ``output_base``: Bazel's output base, when it is not the outermost
    ancestor of ``execroot`` holding an ``execroot/`` directory.
    """
    rule = LinkRule.around(execroot, output_base=output_base)
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            lines = f.read().split("\n")
    except OSError as e:
        raise LayerError(f"--manifest {path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise LayerError(f"--manifest {path}: not UTF-8 text") from None
    if lines and lines[-1] == "":
        lines.pop()
    records = []
    for number, line in enumerate(lines, 1):
        origin = f"{path}:{number}"
        if "\0" in line:
            raise LayerError(f"{origin}: a manifest line must not contain a NUL character")
        parts = line.split("\t")
        if parts[0] not in _FIELDS or len(parts) != _FIELDS[parts[0]] or not all(parts):
            raise LayerError(f"{origin}: cannot parse manifest line {line!r}")
        records.append((origin, parts))
    if not records or records[0][1] != [MAGIC, contract.MANIFEST_VERSION]:
        raise LayerError(f"{path}: not a pycross-image manifest (first line must be "
                         f"'{MAGIC}\\t1')")
    workspace = next((p[1] for _, p in records if p[0] == "workspace"), None)
    if workspace is None:
        raise LayerError(f"{path}: no 'workspace' line")
    launcher = next((p[1] for _, p in records if p[0] == "launcher"), None)
    rf_dir = f"{launcher or 'bin'}.runfiles"

    runfile_of = _runfiles_by_input(records, workspace)
    collector = Collector()
    empties = []
    members: dict[str, set[str]] = {}
    for origin, parts in records[1:]:
        kind = parts[0]
        if kind == "workspace":
            continue
        if kind == "member":
            short = parts[2]
            check_relative_path(short[3:] if short.startswith("../") else short,
                                f"{origin} ({short})")
            members.setdefault(parts[1], set()).add(runfiles_path(short, workspace))
            continue
        where = f"{origin} ({parts[1]})"
        if kind == "launcher":
            check_relative_path(parts[1], where)
            if "/" in parts[1]:
                raise LayerError(f"{where}: launcher must be a plain file name")
            collector.add(_from_input(parts[1], None, parts[2], _host(execroot, parts[2]),
                                      where))
            continue
        rel = check_relative_path(parts[1], where) if kind.startswith("root") else None
        if rel is None:
            short = parts[1]
            check_relative_path(short[3:] if short.startswith("../") else short, where)
            rel = runfiles_path(short, workspace)
        if kind == "empty":
            empties.append(empty_entry(f"{rf_dir}/{rel}", rel, where))
            continue
        image_path = f"{rf_dir}/{rel}"
        # A root symlink (rules_python venvs_site_packages) or a main-repository
        # path whose input is another repository's runfile is classified as that
        # runfile: it lands in the target's layer, not in app.
        as_path = (runfile_of(parts[2])
                   if kind.startswith("root") or rel.startswith(workspace + "/") else None)
        host = _host(execroot, parts[2])
        found: list[os.stat_result] = []  # the stat of the file the links end on
        target, last = link_chain(host, rule, parts[2], found)
        if kind in ("link", "rootlink") and target is None and last is None:
            if not os.path.lexists(host):
                raise LayerError(f"{where}: {parts[2]} does not exist")
            raise LayerError(f"{where}: {parts[2]} is declared a symlink but is not one")
        if target is not None:
            if not target.startswith("/"):
                check_link_target(rel, target, where)
            collector.add(Entry(path=image_path, kind=SYMLINK, runfiles_path=as_path or rel,
                                target=target, origin=where, input=parts[2]))
        else:
            for entry in _expand(image_path, rel, parts[2], host, where, rule,
                                 found[0] if found else None):
                if as_path:
                    entry = entry._replace(runfiles_path=as_path + entry.runfiles_path[len(rel):])
                collector.add(entry)
    for e in empties:  # Bazel creates an empty file only where no file is
        if e.path not in collector.entries:
            collector.add(e)
    collector.check_links()
    entries = list(collector.entries.values())
    check_tree(entries)  # declared paths may clash; a walked directory cannot
    return Manifest(workspace=workspace, launcher=launcher, entries=entries, members=members)


def _runfiles_by_input(records, workspace):
    """A function from an exec path to the runfiles path of another repository's
    runfile (a ``file`` or ``link`` line outside the main repository) that is
    that input, or holds it (a tree artifact); None when none is. Several: the
    first in sorted order."""
    best: dict[str, str] = {}
    for _origin, parts in records[1:]:
        if parts[0] in ("file", "link") and parts[1].startswith("../"):
            rel = runfiles_path(parts[1], workspace)
            if parts[2] not in best or rel < best[parts[2]]:
                best[parts[2]] = rel

    def runfile_of(exec_path: str) -> str | None:
        if not best:  # no other repository's runfile: nothing to look up
            return None
        prefix, rest = exec_path, ""
        while prefix:
            if prefix in best:
                return best[prefix] + rest
            prefix, _, last = prefix.rpartition("/")
            rest = f"/{last}{rest}"
        return None

    return runfile_of


def _host(execroot: str, exec_path: str) -> str:
    """The host path of an input (the action's working directory is the execroot)."""
    return exec_path if execroot == "." else os.path.join(execroot, exec_path)


def _from_input(image_path, rel, exec_path, host, where, st=None) -> Entry:
    return file_entry(image_path, rel, host, where, st, input=exec_path)


def _expand(image_path, rel, exec_path, host, where, rule, st=None):
    """``st``: ``os.stat(host)`` when the caller has it (the end of its link chain)."""
    if st is None:
        try:
            st = os.stat(host)  # one stat: a directory, or the file's kind and size
        except OSError:
            st = None  # file_entry names the problem
    if st is not None and stat.S_ISDIR(st.st_mode):  # a tree artifact: its files, read through
        for e in walk_tree(host, image_path, rel, rule=rule,
                           output=exec_path.startswith("bazel-out/"),
                           staged=lambda p: exec_path + p[len(rel):]):
            yield e._replace(origin=f"{where}: {e.origin}", input=exec_path)
    else:
        yield _from_input(image_path, rel, exec_path, host, where, st)
