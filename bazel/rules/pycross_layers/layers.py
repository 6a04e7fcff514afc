"""Groups entries into layers and writes one deterministic tar per layer."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import BinaryIO

from . import compress
from .classify import Classifier
from .entries import DIR, Entry
from .errors import LayerError
from .tarball import TarPolicy, write_tar


@dataclass
class LayerResult:
    """One written layer, as recorded in ``layers.json``."""

    name: str
    file: str
    entries: int
    bytes: int
    tar_bytes: int
    diff_id: str
    digest: str
    size: int
    media_type: str


def normalise_root(root: str) -> str:
    """``/app`` -> ``app``; ``/`` -> ``''``. Rejects relative or climbing roots."""
    if not root.startswith("/"):
        raise LayerError(f"--root {root!r} must be an absolute path in the image, like /app")
    parts = [p for p in root.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise LayerError(f"--root {root!r} must not contain '.' or '..'")
    return "/".join(parts)


def assign(entries: Iterable[Entry], classifier: Classifier) -> dict[str, list[Entry]]:
    """Every entry in exactly one group; all groups present, possibly empty."""
    groups: dict[str, list[Entry]] = {name: [] for name in classifier.order}
    for e in entries:
        groups[classifier.classify(e.runfiles_path)].append(e)
    return groups


def layer_items(entries: Sequence[Entry], root: str) -> list[tuple[str, Entry | None]]:
    """The (name in tar, entry) pairs of one layer: entries plus all their parent
    directories (written in this same layer), sorted by path bytes."""
    items: dict[str, Entry | None] = {}
    for e in entries:
        name = f"{root}/{e.path}" if root else e.path
        if e.kind != DIR or name not in items:
            items[name] = None if e.kind == DIR else e
        parent = name.rpartition("/")[0]
        while parent and parent not in items:
            items[parent] = None
            parent = parent.rpartition("/")[0]
    return sorted(items.items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))


class _CountingFile:
    """Counts (and, for compressed layers, hashes) the bytes written to a file."""

    def __init__(self, f, hashing: bool) -> None:
        self._f = f
        self._hash = hashlib.sha256() if hashing else None
        self.size = 0

    def write(self, data) -> None:
        if self._hash is not None:
            self._hash.update(data)
        self._f.write(data)
        self.size += len(data)

    def digest(self, diff_id: str) -> str:
        """The file's sha256; an uncompressed layer's is its diff_id, not hashed twice."""
        return diff_id if self._hash is None else "sha256:" + self._hash.hexdigest()


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` (mode 0644) only once complete.

    It is written under a temporary name in the same directory and renamed;
    on any error the temporary file is removed and ``path`` is untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=directory)
    except OSError as e:
        raise LayerError(f"cannot write to {directory}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_layer(path: str, name: str, entries: Sequence[Entry], root: str, policy: TarPolicy,
                method: str, level: int | None = None,
                threads: int | None = None) -> LayerResult:
    """Writes one layer to ``path`` atomically (temporary name, then rename)."""
    with atomic_output(path) as raw:
        out = _CountingFile(raw, hashing=method != "none")
        stream = compress.open_writer(out, method, level, threads)
        stats = write_tar(stream, layer_items(entries, root), policy)
        stream.close()
    return LayerResult(
        name=name,
        file=os.path.basename(path),
        entries=stats.entries,
        bytes=stats.content_bytes,
        tar_bytes=stats.tar_bytes,
        diff_id=stats.diff_id,
        digest=out.digest(stats.diff_id),
        size=out.size,
        media_type=compress.MEDIA_TYPES[method],
    )


def write_json_atomically(path: str, data) -> None:
    """Writes ``data`` as sorted, indented JSON via a temporary file."""
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    with atomic_output(path) as f:
        f.write(text.encode("utf-8"))


def build_layers(entries: Sequence[Entry], classifier: Classifier, out_dir: str, root: str,
                 policy: TarPolicy, method: str, level: int | None = None,
                 threads: int | None = None) -> list[LayerResult]:
    """Writes ``<group>.tar[.gz|.zst]`` for every group and ``layers.json`` into ``out_dir``."""
    if method not in compress.METHODS:
        raise LayerError(f"unknown compression {method!r}: choose one of "
                         f"{', '.join(compress.METHODS)}")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise LayerError(f"--out {out_dir}: cannot create directory: {e.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise LayerError(f"--out {out_dir}: directory is not writable")
    groups = assign(entries, classifier)
    results = []
    for name in classifier.order:
        path = os.path.join(out_dir, name + compress.EXTENSIONS[method])
        results.append(write_layer(path, name, groups[name], root, policy, method, level,
                                   threads))
    write_json_atomically(os.path.join(out_dir, "layers.json"),
                          {"layers": [asdict(r) for r in results]})
    return results
