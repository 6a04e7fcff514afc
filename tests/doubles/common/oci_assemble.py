#!/usr/bin/env python3
"""Test-double back end: builds OCI image layouts with umoci, tarballs with skopeo.

Used by the rules_oci and rules_docker test doubles only (never by anything a
user loads). Subcommands:

  image SPEC.json             base layout (or scratch) + layer tars + config -> layout;
                              with "descriptors" (rules_oci), each layer blob is copied
                              as it is, like rules_oci v2.3.2 oci/private/image.sh
  descriptor LAYER OUT LABEL  digest, diff_id, size and compression of one layer tar
                              (rules_oci v2.3.2 oci/private/descriptor.sh)
  load-spec LAYOUT TAGS MTREE JSON   mtree spec + manifest.json of a docker-format
                              tarball (rules_oci v2.3.2 oci/private/tarball.sh.tpl)
  tarball LAYOUT OUT TAG...   docker-archive tarball (skopeo)
  digest LAYOUT MANIFEST_DIGEST CONFIG CONFIG_DIGEST
  first-digest LAYOUT OUT      digest of index.json's first descriptor + newline
                              (rules_oci v2.3.2: jq --raw-output '.manifests[0].digest')
  index OUT [--annotations=F] IMAGE...   image index over image layouts, like
                              rules_oci v2.3.2 oci/private/image_index.sh.tpl
  import SRC OUT              copy a layout (pulled base images)
"""

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

EPOCH = "1970-01-01T00:00:00Z"
REF = "latest"


def _run(*argv):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode:
        sys.exit("oci_assemble: {} failed:\n{}{}".format(" ".join(argv), proc.stdout, proc.stderr))
    return proc.stdout


def _blob(layout, digest):
    return os.path.join(layout, "blobs", *digest.split(":", 1))


def _read_json(layout, digest):
    with open(_blob(layout, digest), "rb") as f:
        return json.load(f)


def _write_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = _blob(layout, digest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return digest, len(data)


def _manifest_descriptor(layout, arch=None):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    for desc in index["manifests"]:
        if desc["mediaType"].endswith(("index.v1+json", "list.v2+json")):
            sub = _read_json(layout, desc["digest"])
            for m in sub["manifests"]:
                if arch is None or m.get("platform", {}).get("architecture") == arch:
                    return m
        else:
            return desc
    sys.exit(f"oci_assemble: no image manifest in {layout}")


def _set_index(layout, desc):
    desc = dict(desc)
    desc.pop("platform", None)
    desc["annotations"] = {"org.opencontainers.image.ref.name": REF}
    index = {"schemaVersion": 2, "manifests": [desc]}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f)


def _copy_layout(src, out):
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(src, out, symlinks=False)
    for root, dirs, files in os.walk(out):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def _edit_config(layout, edit, edit_manifest=None):
    """Rewrites the config (and so the manifest) of the single image in layout."""
    desc = _manifest_descriptor(layout)
    manifest = _read_json(layout, desc["digest"])
    config = _read_json(layout, manifest["config"]["digest"])
    edit(config)
    if edit_manifest:
        edit_manifest(manifest, config)
    digest, size = _write_blob(layout, json.dumps(config, separators=(",", ":")).encode())
    manifest["config"]["digest"], manifest["config"]["size"] = digest, size
    mdigest, msize = _write_blob(layout, json.dumps(manifest, separators=(",", ":")).encode())
    _set_index(layout, {"mediaType": desc["mediaType"], "digest": mdigest, "size": msize})


def _uncompressed(path, tmp):
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"\x1f\x8b":
        out = os.path.join(tmp, "layer.tar")
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return out
    if magic == b"\x28\xb5\x2f\xfd":
        out = os.path.join(tmp, "layer.tar")
        _run("zstd", "-q", "-d", "-f", path, "-o", out)
        return out
    return path


def _lines(spec, key):
    """A list value, inline or from a rules_oci style file (one per line / comma separated)."""
    if spec.get(key) is not None:
        return list(spec[key])
    path = spec.get(key + "_file")
    if not path:
        return None
    with open(path) as f:
        text = f.read()
    if key in ("exposed_ports", "volumes"):
        return [x.strip() for x in text.replace("\n", ",").split(",") if x.strip()]
    return [line.replace("%5Cn", "\n") for line in text.splitlines()]


def _pairs(spec, key):
    if spec.get(key) is not None:
        return dict(spec[key])
    path = spec.get(key + "_file")
    if not path:
        return None
    out = {}
    with open(path) as f:
        for line in f.read().splitlines():
            if line.strip():
                k, _, v = line.partition("=")
                out[k] = v
    return out


def _expand(value, env):
    """$VAR / ${VAR} from env; an unknown one stays `$VAR` (rules_docker's Go os.Expand)."""
    def sub(m):
        key = m.group(1) if m.group(1) is not None else m.group(2)
        return env.get(key, "$" + key)
    return re.sub(r"\$\{([^}]*)\}|\$([A-Za-z0-9_]+)", sub, value)


def _docker_env(config, steps):
    """rules_docker: each layer's env is expanded against the env so far, merged, sorted as k=v."""
    env = dict(e.split("=", 1) for e in config.get("Env") or [])
    for step in steps:
        if step:
            base = dict(env)
            env.update({k: _expand(v, base) for k, v in step.items()})
            config["Env"] = sorted(f"{k}={v}" for k, v in env.items())


def image(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    out = spec["out"]
    img = f"{out}:{REF}"
    base_variant = None
    if spec.get("base"):
        _copy_layout(spec["base"], out)
        _set_index(out, _manifest_descriptor(out, spec.get("base_architecture")))
        if spec.get("keep_base_variant"):
            # rules_oci edits the base's config with jq (oci/private/image.sh), so
            # its variant stays; umoci's config rewrite drops it: put it back.
            base_manifest = _read_json(out, _manifest_descriptor(out)["digest"])
            base_variant = _read_json(out, base_manifest["config"]["digest"]).get("variant")
    else:
        if os.path.exists(out):
            shutil.rmtree(out)
        _run("umoci", "init", "--layout", out)
        _run("umoci", "new", "--image", img)
    descriptors = spec.get("descriptors")
    if descriptors is None:
        with tempfile.TemporaryDirectory() as tmp:
            for layer in spec["layers"]:
                tar = _uncompressed(layer, tmp)
                _run("umoci", "raw", "add-layer", "--no-history", "--image", img, tar)
    else:
        # rules_oci: each layer blob goes in as it is (copied: Bazel < 7.1 has no
        # tree artifact symlinks leaving the tree), with the digest and diff_id
        # its descriptor action computed once.
        for layer, desc_path in zip(spec["layers"], descriptors):
            with open(desc_path) as f:
                desc = json.load(f)
            dest = _blob(out, desc["digest"])
            if not os.path.exists(dest):
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(layer, dest)
                os.chmod(dest, 0o644)
    argv = ["umoci", "config", "--no-history", "--image", img]
    created = spec.get("created")
    if spec.get("created_file"):
        with open(spec["created_file"]) as f:
            created = f.read().strip()
    argv += ["--created", created or EPOCH]
    for key, flag in (("os", "--os"), ("architecture", "--architecture"),
                      ("workdir", "--config.workingdir"), ("user", "--config.user")):
        if spec.get(key):
            argv += [flag, spec[key]]
    entrypoint, cmd = _lines(spec, "entrypoint"), _lines(spec, "cmd")
    if entrypoint is not None:
        argv += ["--clear=config.entrypoint"] + [f"--config.entrypoint={e}" for e in entrypoint]
        if cmd is None and spec.get("entrypoint_resets_cmd"):
            cmd = []
    if cmd is not None:
        argv += ["--clear=config.cmd"] + [f"--config.cmd={c}" for c in cmd]
    for key, flag in (("env", "--config.env"), ("labels", "--config.label"),
                      ("annotations", "--manifest.annotation")):
        for k, v in (_pairs(spec, key) or {}).items():
            argv.append(f"{flag}={k}={v}")
    for port in _lines(spec, "exposed_ports") or []:
        argv.append(f"--config.exposedports={port}")
    for vol in _lines(spec, "volumes") or []:
        argv.append(f"--config.volume={vol}")
    _run(*argv)
    variant = spec.get("variant") or base_variant

    def _finish(config):
        config.pop("history", None)
        if variant:
            config["variant"] = variant
        inner = config.setdefault("config", {})
        # rules_docker spec keys (the rules_oci double never sets them).
        if spec.get("null_entrypoint"):
            inner.pop("Entrypoint", None)
        if spec.get("null_cmd"):
            inner.pop("Cmd", None)
        if spec.get("env_steps") is not None:
            _docker_env(inner, spec["env_steps"])
        for key, path in (spec.get("label_files") or {}).items():
            with open(path) as f:
                inner.setdefault("Labels", {})[key] = f.read()
        if spec.get("os_version"):
            config["os.version"] = spec["os_version"]

    def _add_layers(manifest, config):
        if not descriptors:
            return
        docker = manifest.get("mediaType", "").startswith("application/vnd.docker.")
        for desc_path in descriptors:
            with open(desc_path) as f:
                desc = json.load(f)
            if docker:
                media = "application/vnd.docker.image.rootfs.diff.tar" + (
                    "." + desc["compression"] if desc["compression"] else "")
            else:
                media = "application/vnd.oci.image.layer.v1.tar" + (
                    "+" + desc["compression"] if desc["compression"] else "")
            manifest.setdefault("layers", []).append(
                {"mediaType": media, "digest": desc["digest"], "size": desc["size"]})
            config.setdefault("rootfs", {"type": "layers"}).setdefault("diff_ids", []).append(
                desc["diffid"])

    _edit_config(out, _finish, _add_layers)
    _run("umoci", "gc", "--layout", out)


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def descriptor(layer, out, label):
    """Digest, diff_id, size and compression of one layer (rules_oci descriptor.sh)."""
    with open(layer, "rb") as f:
        magic = f.read(4)
    compression = ""
    if magic[:2] == b"\x1f\x8b":
        compression = "gzip"
        h = hashlib.sha256()
        with gzip.open(layer, "rb") as src:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                h.update(chunk)
        diffid = "sha256:" + h.hexdigest()
    elif magic == b"\x28\xb5\x2f\xfd":
        compression = "zstd"
        proc = subprocess.Popen(["zstd", "-q", "-d", "-c", layer], stdout=subprocess.PIPE)
        h = hashlib.sha256()
        for chunk in iter(lambda: proc.stdout.read(1 << 20), b""):
            h.update(chunk)
        if proc.wait():
            sys.exit(f"oci_assemble: zstd -d {layer} failed")
        diffid = "sha256:" + h.hexdigest()
    digest = _sha256_file(layer)
    if not compression:
        diffid = digest
    desc = {"digest": digest, "diffid": diffid, "compression": compression,
            "size": os.path.getsize(layer),
            "history": {"created": EPOCH, "created_by": f"bazel build {label}"}}
    with open(out, "w") as f:
        json.dump(desc, f)


# rules_oci v2.3.2 tarball.sh.tpl writes every entry with these attributes.
_MTREE_ATTRS = "uid=0 gid=0 mode=0755 time=1672560000 type=file"


def load_spec(layout, tags_file, mtree_out, json_out):
    """mtree spec + manifest.json of a docker-format tarball; no blob is read."""
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    if len(index["manifests"]) != 1:
        sys.exit(f"Expected exactly one manifest in {layout}/index.json")
    media = index["manifests"][0].get("mediaType")
    if media not in ("application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.v2+json"):
        sys.exit(f"Format docker is only supported for oci_image targets but saw {media}")
    with open(tags_file) as f:
        tags = f.read().split()
    manifest = _read_json(layout, index["manifests"][0]["digest"])

    def rel(digest):
        return "blobs/" + digest.replace(":", "/", 1)

    config = rel(manifest["config"]["digest"])
    layers = [rel(layer["digest"]) for layer in manifest["layers"]]
    lines = [f"{config} {_MTREE_ATTRS} content={layout}/{config}"]
    lines += [f"{path}.tar.gz {_MTREE_ATTRS} content={layout}/{path}" for path in layers]
    with open(json_out, "w") as f:
        json.dump([{"Config": config, "RepoTags": tags,
                    "Layers": [path + ".tar.gz" for path in layers]}], f)
    lines.append(f"manifest.json {_MTREE_ATTRS} content={json_out}")
    with open(mtree_out, "w") as f:
        f.write("\n".join(lines) + "\n")


def tarball(layout, out, *tags):
    if tags and tags[0].startswith("--tags-file="):
        with open(tags[0].split("=", 1)[1]) as f:
            tags = tuple(t.strip() for t in f if t.strip())
    env_tmp = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(out)))
    argv = ["skopeo", "--insecure-policy", "--tmpdir", env_tmp, "copy", "-q", f"oci:{layout}:{REF}",
            "docker-archive:{}{}".format(out, (":" + tags[0]) if tags else "")]
    for tag in tags[1:]:
        argv += ["--additional-tag", tag]
    try:
        subprocess.run(argv, check=True, env=dict(os.environ, TMPDIR=env_tmp))
    finally:
        shutil.rmtree(env_tmp, ignore_errors=True)


def digest(layout, manifest_digest_out, config_out, config_digest_out):
    desc = _manifest_descriptor(layout)
    manifest = _read_json(layout, desc["digest"])
    with open(manifest_digest_out, "w") as f:
        f.write(desc["digest"])
    shutil.copyfile(_blob(layout, manifest["config"]["digest"]), config_out)
    with open(config_digest_out, "w") as f:
        f.write(manifest["config"]["digest"].split(":", 1)[1])


def first_digest(layout, out):
    with open(os.path.join(layout, "index.json")) as f:
        digest_ = json.load(f)["manifests"][0]["digest"]
    with open(out, "w") as f:
        f.write(digest_ + "\n")


_PLATFORM_KEYS = ("os", "architecture", "variant", "os.version", "os.features")


def index(out, *args):
    """One image index over every manifest of the given layouts; all their blobs copied."""
    annotations = None
    images = []
    for arg in args:
        if arg.startswith("--annotations="):
            annotations = arg.split("=", 1)[1]
        else:
            images.append(arg)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, "blobs", "sha256"))
    manifests = []
    for layout in images:
        with open(os.path.join(layout, "index.json")) as f:
            descriptors = json.load(f)["manifests"]
        for desc in descriptors:
            config = _read_json(layout, _read_json(layout, desc["digest"])["config"]["digest"])
            platform = {k: config[k] for k in _PLATFORM_KEYS if config.get(k) is not None}
            manifests.append({**desc, "platform": platform})
        for root, _dirs, files in os.walk(os.path.join(layout, "blobs")):
            for name in files:
                src = os.path.join(root, name)
                dest = os.path.join(out, os.path.relpath(src, layout))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(src, dest)
    manifest_list = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                     "manifests": manifests}
    if annotations:
        with open(annotations) as f:
            pairs = [line.split("=", 1) for line in f.read().split("\n") if line]
        manifest_list["annotations"] = {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}
    data = json.dumps(manifest_list, indent=2).encode() + b"\n"
    digest_, size = _write_blob(out, data)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}\n')
    # Upstream's index.json has no schemaVersion (jq -n '.manifests = [...]'); same here.
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                                  "size": size, "digest": digest_}]}, f, indent=2)
        f.write("\n")


def emptytar(out):
    with open(out, "wb") as f:
        f.write(b"\0" * 10240)


def import_layout(src, out):
    _copy_layout(src, out)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    commands = {"image": image, "tarball": tarball, "digest": digest,
                "import": import_layout, "emptytar": emptytar,
                "first-digest": first_digest, "index": index,
                "descriptor": descriptor, "load-spec": load_spec}
    commands[cmd](*args)
