"""Opening an image: its config and, per layer, a way to stream the layer's bytes.

Two formats, each either a directory or a tar file (a *store*):

* docker-archive (``docker save``, rules_docker's ``:x.tar``, our ``:x.tarball``):
  ``manifest.json`` lists ``Config`` and ``Layers`` (paths inside the archive);
* OCI image layout (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``),
  optionally ``PATH:TAG`` to pick the manifest whose
  ``org.opencontainers.image.ref.name`` is ``TAG``.

Nothing here reads a layer: :class:`Layer.open` returns a stream that the merge
reads once, in chunks.
"""

from __future__ import annotations

import json
import os
import platform
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from imagediff.errors import BadInput

REF_NAME = "org.opencontainers.image.ref.name"
INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True)
class Layer:
    """One layer: where it is (for messages), how to open it, what it should hash to."""

    where: str
    open: Callable[[], IO[bytes]]
    digest: str | None = None  # of the stored (maybe compressed) bytes, "sha256:<hex>"
    diff_id: str | None = None  # of the uncompressed tar, from the config's rootfs


@dataclass
class Image:
    """A loaded image: ``name`` as given on the command line, its config, its layers."""

    name: str
    format: str  # "docker-archive" or "oci"
    config: dict[str, Any]
    layers: list[Layer] = field(default_factory=list)


class _Store:
    """Files of a directory or of a tar archive, by relative path."""

    def __init__(self, label: str) -> None:
        self.label = label

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def read_json(self, name: str) -> Any:
        if not self.exists(name):
            raise BadInput(self.label, f"{name} is missing")
        with self.open(name) as f:
            data = f.read()
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadInput(self.label, f"{name} is not valid JSON ({exc})") from None

    def close(self) -> None:
        pass


class _DirStore(_Store):
    def __init__(self, label: str, root: Path) -> None:
        super().__init__(label)
        self.root = root

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in (path, *path.parents):
            raise BadInput(self.label, f"{name} points outside the layout")
        return path

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def open(self, name: str) -> IO[bytes]:
        try:
            return open(self._path(name), "rb")  # noqa: SIM115 - the caller closes it
        except OSError as exc:
            raise BadInput(self.label, f"cannot read {name}: {exc.strerror or exc}") from None


class _TarStore(_Store):
    def __init__(self, label: str, path: Path) -> None:
        super().__init__(label)
        try:
            self.tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed by close()
            members = self.tar.getmembers()
        except (tarfile.TarError, EOFError, OSError, ValueError):
            raise BadInput(label, "not a tar archive or a directory") from None
        self.members = {_norm(m.name): m for m in members}

    def _member(self, name: str, depth: int = 0) -> tarfile.TarInfo | None:
        member = self.members.get(_norm(name))
        if member is None or depth > 16:
            return None
        if member.issym():
            target = os.path.normpath(os.path.join(os.path.dirname(_norm(name)), member.linkname))
            return self._member(target, depth + 1)
        if member.islnk():
            return self._member(member.linkname, depth + 1)
        return member if member.isfile() else None

    def exists(self, name: str) -> bool:
        return self._member(name) is not None

    def open(self, name: str) -> IO[bytes]:
        member = self._member(name)
        stream = self.tar.extractfile(member) if member is not None else None
        if stream is None:
            raise BadInput(self.label, f"{name} is missing")
        return stream

    def close(self) -> None:
        self.tar.close()


def _norm(name: str) -> str:
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/")


def split_reference(ref: str) -> tuple[Path, str | None]:
    """``PATH`` or ``PATH:TAG``: the longest existing prefix before a ``:`` is the path."""
    if os.path.lexists(ref):
        return Path(ref), None
    pos = ref.find(":")
    while pos != -1:
        if pos > 0 and os.path.lexists(ref[:pos]):
            return Path(ref[:pos]), ref[pos + 1:] or None
        pos = ref.find(":", pos + 1)
    raise BadInput(ref, "no such file or directory")


@contextmanager
def load(ref: str, platform_wanted: str | None = None) -> Iterator[Image]:
    """Opens ``ref`` (file, directory, maybe ``:TAG``); the layers stay readable inside."""
    path, tag = split_reference(ref)
    if path.is_dir():
        store: _Store = _DirStore(ref, path)
    elif path.is_file():
        store = _TarStore(ref, path)
    else:
        raise BadInput(ref, "not a file or directory")
    try:
        if store.exists("manifest.json") and not (tag and store.exists("index.json")
                                                   and _oci_has_tag(store, tag)):
            yield _docker_archive(store, tag)
        elif store.exists("index.json"):
            yield _oci(store, tag, platform_wanted)
        else:
            kind = "directory" if isinstance(store, _DirStore) else "tar archive"
            raise BadInput(ref, f"no manifest.json or index.json: this {kind} is not a "
                                "docker-archive or an OCI image layout")
    finally:
        store.close()


def _docker_archive(store: _Store, tag: str | None) -> Image:
    manifest = store.read_json("manifest.json")
    if not isinstance(manifest, list) or not manifest or not all(
            isinstance(m, dict) for m in manifest):
        raise BadInput(store.label, "manifest.json holds no image")
    if tag is not None:
        chosen = [m for m in manifest if any(
            t == tag or t.endswith(":" + tag) or t.rsplit(":", 1)[0] == tag
            for t in (m.get("RepoTags") or []))]
        if not chosen:
            have = sorted(t for m in manifest for t in (m.get("RepoTags") or []))
            raise BadInput(store.label,
                           f"tag {tag!r} not found (tags: {', '.join(have) or 'none'})")
    else:
        chosen = manifest
    if len(chosen) > 1:
        raise BadInput(store.label, f"{len(chosen)} images in manifest.json; pick one with "
                                    f"{store.label}:TAG")
    entry = chosen[0]
    if not isinstance(entry.get("Config"), str) or not isinstance(entry.get("Layers"), list):
        raise BadInput(store.label, "manifest.json entry without Config or Layers")
    config = _config(store, entry["Config"])
    diff_ids = _diff_ids(config, len(entry["Layers"]))
    layers = []
    for i, name in enumerate(entry["Layers"]):
        if not store.exists(name):
            raise BadInput(store.label, f"layer {name} is missing")
        layers.append(Layer(where=f"{store.label}: layer {i + 1} ({name})",
                            open=lambda name=name: store.open(name), diff_id=diff_ids[i]))
    return Image(store.label, "docker-archive", config, layers)


def _config(store: _Store, name: str) -> dict[str, Any]:
    config = store.read_json(name)
    if not isinstance(config, dict):
        raise BadInput(store.label, f"config {name} is not a JSON object")
    return config


def _diff_ids(config: dict[str, Any], count: int) -> list[str | None]:
    ids = (config.get("rootfs") or {}).get("diff_ids")
    if isinstance(ids, list) and len(ids) == count and all(isinstance(i, str) for i in ids):
        return list(ids)
    return [None] * count


def _blob(digest: Any) -> str:
    if not isinstance(digest, str) or ":" not in digest or "/" in digest:
        raise ValueError(f"bad digest {digest!r}")
    alg, hexpart = digest.split(":", 1)
    return f"blobs/{alg}/{hexpart}"


def _oci_has_tag(store: _Store, tag: str) -> bool:
    index = store.read_json("index.json")
    return any((d.get("annotations") or {}).get(REF_NAME) == tag
               for d in index.get("manifests") or [] if isinstance(d, dict))


def _oci(store: _Store, tag: str | None, platform_wanted: str | None) -> Image:
    index = store.read_json("index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise BadInput(store.label, "index.json lists no manifest")
    if tag is not None:
        names = [(d.get("annotations") or {}).get(REF_NAME) for d in manifests]
        chosen = [d for d, n in zip(manifests, names) if n == tag]
        if not chosen:
            have = sorted(n for n in names if n)
            raise BadInput(store.label, f"tag {tag!r} not found in index.json "
                                        f"(tags: {', '.join(have) or 'none'})")
        manifests = chosen
    desc = _pick(store, manifests, platform_wanted, "index.json")
    for _ in range(4):  # an index inside the index: choose by platform
        try:
            doc = store.read_json(_blob(desc.get("digest")))
        except ValueError as exc:
            raise BadInput(store.label, f"index.json: {exc}") from None
        if doc.get("mediaType") in INDEX_TYPES or desc.get("mediaType") in INDEX_TYPES or (
                "manifests" in doc and "layers" not in doc):
            desc = _pick(store, doc.get("manifests") or [], platform_wanted, desc["digest"])
            continue
        break
    else:
        raise BadInput(store.label, "image indexes nested too deep")
    if not isinstance(doc.get("config"), dict) or not isinstance(doc.get("layers"), list):
        raise BadInput(store.label, f"manifest {desc.get('digest')} has no config or layers")
    try:
        config = _config(store, _blob(doc["config"].get("digest")))
        layer_descs = [(d, _blob(d.get("digest"))) for d in doc["layers"]]
    except ValueError as exc:
        raise BadInput(store.label, f"manifest {desc.get('digest')}: {exc}") from None
    diff_ids = _diff_ids(config, len(layer_descs))
    layers = []
    for i, (d, name) in enumerate(layer_descs):
        if not store.exists(name):
            raise BadInput(store.label, f"layer blob {d['digest']} is missing")
        layers.append(Layer(where=f"{store.label}: layer {i + 1} ({d['digest'][:19]})",
                            open=lambda name=name: store.open(name),
                            digest=d["digest"], diff_id=diff_ids[i]))
    return Image(store.label, "oci", config, layers)


def host_platform() -> str:
    return "linux/" + _ARCH.get(platform.machine().lower(), platform.machine().lower())


def _pick(store: _Store, manifests: list[Any], wanted: str | None, where: str) -> dict:
    manifests = [d for d in manifests if isinstance(d, dict)]
    if not manifests:
        raise BadInput(store.label, f"{where} lists no manifest")
    if len(manifests) == 1 and (wanted is None or not manifests[0].get("platform")):
        return manifests[0]

    def plat(d: dict) -> str:
        p = d.get("platform") or {}
        parts = [p.get("os", "?"), p.get("architecture", "?")]
        return "/".join(parts + ([p["variant"]] if p.get("variant") else []))

    want = wanted or host_platform()
    found = [d for d in manifests if plat(d) == want or plat(d).startswith(want + "/")]
    if len(found) == 1:
        return found[0]
    if wanted is None and len({d.get("digest") for d in manifests}) == 1:
        return manifests[0]
    have = ", ".join(sorted({plat(d) for d in manifests}))
    if not found:
        raise BadInput(store.label, f"{where}: no image for platform {want} (has: {have}); "
                                    "pick one with --platform or PATH:TAG")
    raise BadInput(store.label, f"{where}: {len(found)} images for {want}; pick one with PATH:TAG")
