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
from dataclasses import dataclass

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
        real = os.path.realpath(norm)  # a symlinked cache directory, say
        return any(_under(real, r) for r in self.roots)

    def staging(self, target: str, staged: str | None) -> bool:
        """Whether the absolute ``target`` is Bazel staging ``staged`` (a path
        relative to a repository or the execroot), to be read through."""
        if self.inside(target):
            return True
        return bool(staged) and os.path.normpath(target).endswith("/" + staged)

    def chain(self, host: str, staged: str | None, output: bool) -> tuple[str | None, str | None]:
        """Follows Bazel's staging links from ``host``.

        ``output``: whether ``host`` itself is a Bazel output (an exec path under
        ``bazel-out/``, an entry of the runfiles tree being read).

        Returns (the target to keep as a link, or None to read through; the
        last absolute staging target seen, or None when ``host`` is no link).
        """
        current, last, rule = host, None, self
        for hop in range(MAX_HOPS):
            if not os.path.islink(current):
                return None, last
            target = os.readlink(current)
            if not target.startswith("/"):
                return target, last
            if not rule.staging(target, staged):
                held_by_output = output if hop == 0 else _has_bazel_out(current)
                if held_by_output:
                    return target, last
                return None, last  # a source file's link: Bazel reads it through
            if staged and not rule.inside(target):
                # staged from another execroot (a sandbox base elsewhere): its
                # output base is Bazel's too, for the hops that follow
                rule = LinkRule.around(os.path.normpath(target)[:-len(staged) - 1])
                rule = LinkRule(tuple(sorted({*self.roots, *rule.roots})))
            current = last = target
        raise LayerError(f"{host}: too many levels of symlinks")
