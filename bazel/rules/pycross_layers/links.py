"""The link rule: which absolute symlinks are read through, which are kept.

The same rule in directory mode (``rundir``) and manifest mode (``manifest``):

* A relative link is a declared symlink: kept as a link (it must stay inside
  the runfiles, ``entries.check_link_target``).
* An absolute link is Bazel's own staging -- a runfiles tree, a sandbox or the
  execroot's symlink forest pointing at the real file -- and is read through
  when its target lies inside Bazel's output base (or the tree being read), or
  when the target ends with the path being staged (``/home/u/ws/pkg/x.py`` for
  ``pkg/x.py``: a source file linked from where it lives in the workspace).
* Any other absolute link held by a Bazel output (a runfiles tree, a path with
  a ``bazel-out`` component, an exec path under ``bazel-out/``) is a path in
  the image, such as the venv's ``bin/python3 -> /usr/bin/python3`` that
  rules_python writes for an ``interpreter_path`` runtime (py_executable.bzl):
  kept as a link, its target as written, never followed on the build host.
* The same link held by a source file (a repository under
  ``<output base>/external/``, the workspace) is read through: Bazel itself
  treats a symlinked source file as the file it points to.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .errors import LayerError

MAX_HOPS = 40


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def find_output_base(path: str) -> str | None:
    """The outermost ancestor of ``path`` that holds an ``execroot/`` directory.

    Outermost, so that a sandbox (``<ob>/sandbox/linux-sandbox/N/execroot/ws``)
    yields the output base and not the sandbox directory. None outside Bazel.
    """
    found = None
    current = os.path.abspath(path)
    while True:
        if os.path.isdir(os.path.join(current, "execroot")):
            found = current
        parent = os.path.dirname(current)
        if parent == current:
            return found
        current = parent


def _has_bazel_out(path: str) -> bool:
    return "bazel-out" in path.split("/")


@dataclass(frozen=True)
class LinkRule:
    """Where Bazel stages files: targets inside ``roots`` are read through."""

    roots: tuple[str, ...]
    #: Rules derived for other execroots (``chain``), by base: every file of one
    #: repository shares its base, and deriving one costs a walk up the tree.
    _derived: dict[str, LinkRule] = field(default_factory=dict, compare=False, repr=False,
                                          hash=False)
    #: realpath of directories already resolved (targets share few directories).
    _real_dirs: dict[str, str] = field(default_factory=dict, compare=False, repr=False,
                                       hash=False)

    @classmethod
    def around(cls, *paths: str | None, output_base: str | None = None) -> LinkRule:
        """The rule for a tree at ``paths`` (an execroot, a runfiles directory):
        those paths, resolved, and the output base they live in (or the one given)."""
        roots: list[str] = []
        for p in (*paths, output_base):
            if not p:
                continue
            for q in (os.path.abspath(p), os.path.realpath(p)):
                roots.append(q)
                if p is not output_base:
                    ob = find_output_base(q)
                    if ob:
                        roots.extend((ob, os.path.realpath(ob)))
        return cls(tuple(sorted(set(roots))))

    def inside(self, target: str) -> bool:
        """Whether an absolute target lies inside the output base or the tree read."""
        norm = os.path.normpath(target)
        if any(_under(norm, r) for r in self.roots):
            return True
        real = self._realpath(norm)  # a symlinked cache directory, say
        return any(_under(real, r) for r in self.roots)

    def _realpath(self, path: str) -> str:
        """``os.path.realpath(path)`` for a normalised absolute path, resolving each
        directory once: unless the last component is itself a link, the result is
        the resolved directory plus that component."""
        head, base = os.path.split(path)
        if not base or os.path.islink(path):
            return os.path.realpath(path)
        real_head = self._real_dirs.get(head)
        if real_head is None:
            real_head = self._real_dirs[head] = os.path.realpath(head)
        return os.path.join(real_head, base)

    def staging(self, target: str, staged: str | None, inside: bool | None = None) -> bool:
        """Whether the absolute ``target`` is Bazel staging ``staged`` (a path
        relative to a repository or the execroot), to be read through.
        ``inside``: ``self.inside(target)``, when the caller has it."""
        if self.inside(target) if inside is None else inside:
            return True
        return bool(staged) and os.path.normpath(target).endswith("/" + staged)

    def derived(self, base: str) -> LinkRule:
        """This rule plus the one around ``base`` (another execroot), computed once."""
        rule = self._derived.get(base)
        if rule is None:
            rule = LinkRule(tuple(sorted({*self.roots, *LinkRule.around(base).roots})))
            self._derived[base] = rule
        return rule

    def chain(self, host: str, staged: str | None, output: bool,
              first: str | None = None,
              found: list[os.stat_result] | None = None) -> tuple[str | None, str | None]:
        """Follows Bazel's staging links from ``host``.

        ``output``: whether ``host`` itself is a Bazel output (an exec path under
        ``bazel-out/``, an entry of the runfiles tree being read). ``first``:
        ``host``'s link target, when the caller has read it already. ``found``:
        when given, receives the ``lstat`` of the path the chain ends on when
        that is no link (what ``os.stat(host)`` would say), saving the caller
        a second stat.

        Returns (the target to keep as a link, or None to read through; the
        last absolute staging target seen, or None when ``host`` is no link).
        """
        current, last, rule = host, None, self
        for hop in range(MAX_HOPS):
            if hop == 0 and first is not None:
                target = first
            else:
                try:
                    st = os.lstat(current)
                except OSError:  # missing: the caller's stat names the problem
                    return None, last
                if not stat.S_ISLNK(st.st_mode):
                    if found is not None:
                        found.append(st)
                    return None, last
                target = os.readlink(current)
            if not target.startswith("/"):
                return target, last
            inside = rule.inside(target)
            if not rule.staging(target, staged, inside):
                held_by_output = output if hop == 0 else _has_bazel_out(current)
                if held_by_output:
                    return target, last
                return None, last  # a source file's link: Bazel reads it through
            if staged and not inside:
                # staged from another execroot (a sandbox base elsewhere): its
                # output base is Bazel's too, for the hops that follow
                rule = self.derived(os.path.normpath(target)[:-len(staged) - 1])
            current = last = target
        raise LayerError(f"{host}: too many levels of symlinks")
