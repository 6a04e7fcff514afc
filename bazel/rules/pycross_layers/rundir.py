"""Reads a runfiles directory (or a tree artifact) on disk into entries.

On disk, a Bazel runfiles tree is made of absolute symlinks into the execroot.
Those are read through: the image gets a regular file, never a host path. A
relative link whose target stays inside the runfiles root is kept as a link.
An absolute link outside Bazel's output base held by an output (the venv's
``bin/python3 -> /usr/bin/python3``) is a path in the image, kept as written
(``links``). Dangling links, links that climb out, fifos, sockets and devices
are errors.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from .entries import DIR, FILE, SYMLINK, Entry, check_link_target, describe_mode, file_entry
from .errors import LayerError
from .links import LinkRule


def _in_repo(rf_path: str) -> str | None:
    """``pkg/x.py`` for ``ws/pkg/x.py``: what a staging link's target ends with."""
    return rf_path.partition("/")[2] or None


def walk_tree(
    host_dir: str, image_prefix: str, rf_prefix: str, *, rule: LinkRule | None = None,
    output: bool = True, staged: Callable[[str], str | None] = _in_repo,
    link_targets: dict[str, str] | None = None,
) -> list[Entry]:
    """The entries for everything below ``host_dir``, parents before children.

    Args:
      host_dir: the directory to read.
      image_prefix: image path (below the root) that ``host_dir`` maps to.
      rf_prefix: runfiles path that ``host_dir`` maps to ('' for the runfiles root).
      rule: the link rule (``links.LinkRule``); by default the one around ``host_dir``.
      output: whether ``host_dir`` is a Bazel output (a runfiles tree, a tree
        artifact), whose absolute links outside the output base are kept.
      staged: maps a runfiles path to the path a staging link's target ends with.
      link_targets: when given, filled with host path -> absolute target for every
        file read through an absolute link (what ``as_their_targets`` needs,
        without a second readlink per entry).
    """
    walk = _Walk(rule or LinkRule.around(host_dir), staged, link_targets)
    walk.directory(host_dir, image_prefix, rf_prefix, None, output)
    return walk.out


def _name(child: os.DirEntry) -> str:
    return child.name


class _Walk:
    """One walk: appends entries to ``out`` (a plain recursion, no generators: a
    tree of tens of thousands of files is walked in one pass of Python calls)."""

    def __init__(self, rule: LinkRule, staged: Callable[[str], str | None],
                 link_targets: dict[str, str] | None) -> None:
        self.rule = rule
        self.staged = staged
        self.link_targets = link_targets
        self.out: list[Entry] = []
        self.stack: list[str] = []  # real paths of the directories being read: cycles

    def directory(self, host_dir: str, image_prefix: str, rf_prefix: str,
                  read_through: str | None, output: bool) -> None:
        """Appends what is below ``host_dir``. ``read_through``: runfiles path of the
        innermost directory read through an absolute link, if any: a relative link
        below it must stay inside it, since above it the host tree and the image
        differ."""
        real = os.path.realpath(host_dir)
        if real in self.stack:
            raise LayerError(f"{host_dir}: symlink cycle (it leads back to {real})")
        self.stack.append(real)
        try:
            with os.scandir(host_dir) as it:
                children = sorted(it, key=_name)
        except OSError as e:
            raise LayerError(f"{host_dir}: cannot list directory: {e.strerror}") from None
        image_dir = image_prefix + "/" if image_prefix else ""
        rf_dir = rf_prefix + "/" if rf_prefix else ""
        append = self.out.append
        for child in children:
            name, host = child.name, child.path
            # The kind comes from the directory listing (d_type): no stat per file. A
            # file's size is learnt by the writer from the descriptor it reads.
            if child.is_file(follow_symlinks=False):  # the common case first
                append(Entry(image_dir + name, FILE, rf_dir + name, host, None, None, host))
            elif child.is_symlink():
                self.link(host, image_dir + name, rf_dir + name, read_through, output)
            elif child.is_dir(follow_symlinks=False):
                append(Entry(image_dir + name, DIR, rf_dir + name, None, None, 0, host))
                self.directory(host, image_dir + name, rf_dir + name, read_through, output)
            else:
                try:
                    what = describe_mode(child.stat(follow_symlinks=False).st_mode)
                except OSError as e:
                    raise LayerError(f"{host}: cannot read: {e.strerror}") from None
                raise LayerError(f"{host}: is {what}; only files, "
                                 "directories and symlinks can go into a layer")
        self.stack.pop()

    def link(self, host: str, image_path: str, rf_path: str, read_through: str | None,
             output: bool) -> None:
        target = os.readlink(host)
        if target.startswith("/"):
            kept, _last = self.rule.chain(host, self.staged(rf_path), output, target)
            if kept is not None and kept.startswith("/"):  # a path in the image: kept
                self.out.append(Entry(path=image_path, kind=SYMLINK, runfiles_path=rf_path,
                                      target=kept, origin=host))
                return
        try:
            st = os.stat(host)
        except OSError:
            raise LayerError(f"{host}: dangling symlink (-> {target})") from None
        if not target.startswith("/"):
            check_link_target(rf_path, target, origin=host)
            if read_through is not None:  # checked against the directory read through, too
                check_link_target(rf_path[len(read_through) + 1:], target,
                                  origin=f"{host} (below {read_through}, read through an "
                                         "absolute link; it must stay inside that directory)")
            self.out.append(Entry(path=image_path, kind=SYMLINK, runfiles_path=rf_path,
                                  target=target, origin=host))
            return
        # An absolute link points into the execroot or a cache: read through it.
        if stat.S_ISDIR(st.st_mode):
            self.out.append(Entry(path=image_path, kind=DIR, runfiles_path=rf_path,
                                  origin=host))
            real = os.path.realpath(host)
            self.directory(host, image_path, rf_path, rf_path, "bazel-out" in real.split("/"))
        else:
            if self.link_targets is not None:
                self.link_targets[host] = target
            self.out.append(file_entry(image_path, rf_path, host, origin=host, st=st))


def guess_workspace(runfiles_dir: str, launcher: str | None) -> str:
    """The main repository's directory name inside a runfiles tree.

    ``_main`` under bzlmod; otherwise the top-level directory that holds the
    launcher's own copy, or the only top-level directory there is.
    """
    tops = sorted(
        n for n in os.listdir(runfiles_dir) if os.path.isdir(os.path.join(runfiles_dir, n))
    )
    if "_main" in tops:
        return "_main"
    if launcher:
        base = os.path.basename(launcher)
        holders = []
        for top in tops:
            for _dirpath, _dirs, files in os.walk(os.path.join(runfiles_dir, top)):
                if base in files:
                    holders.append(top)
                    break
        if len(holders) == 1:
            return holders[0]
    if len(tops) == 1:
        return tops[0]
    raise LayerError(
        f"{runfiles_dir}: cannot tell which directory is the main repository "
        f"(candidates: {', '.join(tops) or 'none'}); pass --workspace-name"
    )


def read_runfiles_dir(runfiles_dir: str, workspace: str | None = None,
                     output_base: str | None = None):
    """Reads ``DIR`` (usually ``<bin>.runfiles``) and the launcher beside it, if any.

    ``output_base``: Bazel's output base, when it is not the outermost ancestor
    of ``DIR`` (resolved) holding an ``execroot/`` directory.

    Returns (workspace name, launcher name or None, entries).
    """
    runfiles_dir = runfiles_dir.rstrip("/") or "/"
    if not os.path.isdir(runfiles_dir):
        raise LayerError(f"--runfiles {runfiles_dir}: not a directory")
    base = os.path.basename(runfiles_dir)
    launcher = None
    entries: list[Entry] = []
    if base.endswith(".runfiles") and len(base) > len(".runfiles"):
        name = base[: -len(".runfiles")]
        host_launcher = os.path.join(os.path.dirname(runfiles_dir), name)
        if os.path.isfile(host_launcher):
            launcher = name
            entries.append(file_entry(name, None, host_launcher, origin=host_launcher))
    ws = workspace or guess_workspace(runfiles_dir, launcher)
    rule = LinkRule.around(runfiles_dir, output_base=output_base)
    link_targets: dict[str, str] = {}
    walked = walk_tree(runfiles_dir, base, "", rule=rule, link_targets=link_targets)
    entries.extend(as_their_targets(walked, ws, link_targets))
    return ws, launcher, entries


def as_their_targets(entries: list[Entry], workspace: str,
                     link_targets: dict[str, str]) -> list[Entry]:
    """Classifies a file of the main repository that is a second path to another
    repository's runfile (a root symlink: rules_python ``venvs_site_packages``)
    as that runfile, so it lands in that runfile's layer. Bazel links both paths
    to the same file: the same link target names the same input. Bytes are
    kept, as a regular file at its own path. ``link_targets``: host path ->
    absolute link target of each file read through a link (``walk_tree``)."""
    entries = list(entries)
    if not link_targets:  # nothing was read through a link: nothing to reclassify
        return entries
    ws_prefix = workspace + "/"
    targets: dict[str, str] = {}
    mine: list[tuple[int, str]] = []
    for i, e in enumerate(entries):
        if e.kind != FILE or not e.runfiles_path or not e.source:
            continue
        target = link_targets.get(e.source)
        if target is None:  # not a link itself (or inside a directory read through)
            continue
        if e.runfiles_path.startswith(ws_prefix):
            mine.append((i, target))
        elif target not in targets or e.runfiles_path < targets[target]:
            targets[target] = e.runfiles_path
    for i, target in mine:
        if target in targets:
            entries[i] = entries[i]._replace(runfiles_path=targets[target])
    return entries
