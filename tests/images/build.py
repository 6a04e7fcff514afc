"""Offline test fixtures, built once and cached under <repo>/.cache/ (gitignored).

* OCI base images, distroless style: Debian packages fetched with
  `apt-get download` (the mirror is whatever the machine's apt sources say)
  and unpacked with `dpkg-deb -x`, then made into OCI layouts with umoci:
    images/python3-debian12-amd64  libc + python3.11 (interpreter mode A)
    images/cc-debian12-amd64       libc and friends, no python (mode B)
    images/static-debian12-{arm64,amd64}  /etc files only (one image, two platforms)
    images/python3-debian12-arm64, images/cc-debian12-arm64: the same from
      Debian's arm64 packages (`apt-get download pkg:arm64`, after
      `dpkg --add-architecture arm64`), config variant v8 as on Docker Hub
* repos/python_3_11_{x86_64,aarch64}-unknown-linux-gnu: hermetic interpreter
  repositories (bin/python3 + lib/python3.11) named like rules_python's toolchains.
* repos/pip_deps_<name>: Flask and its dependencies, one pip-style
  repository each (`pip download` + `pip install --no-deps --target`).
* repos/multiarch/: a wheel with compiled code (MarkupSafe) once per cpu,
  `pip_deps_<name>_{x86_64,aarch64}`, behind `pip_deps_<name>`, an alias that
  selects on the target cpu (the shape of a rules_python hub). Its own
  directory and stamp, so a checkout with the older fixtures shares .cache.

Usage: python tests/images/build.py   (prints the cache directory)
"""

from __future__ import annotations

import email.message
import email.parser
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
VERSION = "6"  # bump to rebuild every cached fixture

LIBS = ["libc6", "libgcc-s1", "libcrypt1", "zlib1g", "libexpat1", "libssl3", "libffi8",
        "libbz2-1.0", "liblzma5", "libuuid1", "libsqlite3-0", "netbase"]
PYTHON = ["python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "media-types"]
IMAGES = {
    "python3-debian12-amd64": ("amd64", LIBS + PYTHON),
    "cc-debian12-amd64": ("amd64", LIBS),
    "static-debian12-arm64": ("arm64", []),
    "static-debian12-amd64": ("amd64", []),
    "python3-debian12-arm64": ("arm64", LIBS + PYTHON),
    "cc-debian12-arm64": ("arm64", LIBS),
}
# Docker Hub's and distroless' arm64 images record variant v8; umoci cannot
# write one, so build_image adds it to these (the older static image has none).
VARIANTS = {"python3-debian12-arm64": "v8", "cc-debian12-arm64": "v8"}
# Debian architecture -> rules_python's cpu in toolchain repository names.
INTERPRETER_REPOS = {
    "amd64": "python_3_11_x86_64-unknown-linux-gnu",
    "arm64": "python_3_11_aarch64-unknown-linux-gnu",
}
INTERPRETER_REPO = INTERPRETER_REPOS["amd64"]
# pip platform tag -> cpu suffix of the per-cpu wheel repositories.
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "aarch64": "manylinux2014_aarch64"}
MULTIARCH_VERSION = "1"  # bump to rebuild repos/multiarch
PIP_REQUIREMENTS = ["flask"]
DROP = re.compile(
    r"^(usr/share/(doc|man|info|lintian|locale|bug)"
    r"|usr/lib/python3\.11/(test|idlelib|tkinter|ensurepip|lib2to3|turtledemo)"
    r"|etc/python3\.11/sitecustomize\.py)(/|$)"
)
ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt", "LANG=C.UTF-8"]


def log(msg: str) -> None:
    print(f"[images] {msg}", file=sys.stderr, flush=True)


def run(*argv, cwd=None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def fresh(path: Path) -> bool:
    stamp = path / ".pycross-fixture"
    return stamp.is_file() and stamp.read_text() == VERSION


def mark(path: Path) -> None:
    (path / ".pycross-fixture").write_text(VERSION)


def _arch_all(package: str) -> bool:
    """True for an `Architecture: all` package (apt-get download takes no :arch for it)."""
    out = run("apt-cache", "show", "--no-all-versions", package)
    return any(line.strip() == "Architecture: all" for line in out.splitlines())


def debs(packages: list[str], arch: str = "amd64") -> list[Path]:
    """apt-get download into .cache/debs (amd64) or .cache/debs/<arch> (once per package)."""
    out = CACHE / "debs" if arch == "amd64" else CACHE / "debs" / arch
    out.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_")[0]: p for p in out.glob("*.deb")}
    missing = [p for p in packages if p not in have]
    if missing:
        names = missing if arch == "amd64" else \
            [p if _arch_all(p) else f"{p}:{arch}" for p in missing]
        log("apt-get download " + " ".join(names))
        try:
            run("apt-get", "download", *names, cwd=out)
        except subprocess.CalledProcessError as exc:
            hint = "" if arch == "amd64" else \
                f" (run `bash .ci/setup`: it adds the {arch} architecture to dpkg and apt)"
            raise SystemExit(f"apt-get download failed{hint}: {exc.stderr.strip()}") from None
        have = {p.name.split("_")[0]: p for p in out.glob("*.deb")}
    return [have[p] for p in packages]


def unpack(packages: list[str], root: Path, arch: str = "amd64") -> None:
    for deb in debs(packages, arch):
        run("dpkg-deb", "-x", str(deb), str(root))


def etc_files(root: Path) -> None:
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/sbin/nologin\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                                "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")
    (etc / "group").write_text("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")
    (etc / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files dns\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n")
    for d in ("tmp", "root", "home/nonroot"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)


def deterministic_tar(root: Path, out: Path) -> None:
    """An uncompressed layer tar of root: sorted, mtime 0, owner root."""
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            names = sorted(dirnames + filenames) if rel_dir == "." else sorted(filenames)
            entries = [os.path.join(rel_dir, n) for n in names] if rel_dir == "." else \
                [rel_dir] + [os.path.join(rel_dir, n) for n in names]
            for rel in entries:
                rel = os.path.normpath(rel)
                if DROP.match(rel) or (rel_dir == "." and os.path.isdir(root / rel) and False):
                    continue
                if rel_dir == "." and os.path.isdir(root / rel) and not os.path.islink(root / rel):
                    continue  # top-level dirs are added when walked
                info = tar.gettarinfo(str(root / rel), arcname=rel)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with open(root / rel, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)


def _set_variant(layout: Path, variant: str) -> None:
    """Adds `variant` to the image config (umoci has no flag for it); rewrites the
    config and manifest blobs and index.json to the new digests."""
    def put(data: bytes) -> tuple[str, int]:
        digest = hashlib.sha256(data).hexdigest()
        (layout / "blobs" / "sha256" / digest).write_bytes(data)
        return "sha256:" + digest, len(data)

    def blob(digest: str) -> dict:
        return json.loads((layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes())

    index = json.loads((layout / "index.json").read_text())
    desc = index["manifests"][0]
    manifest = blob(desc["digest"])
    config = blob(manifest["config"]["digest"])
    config["variant"] = variant
    manifest["config"]["digest"], manifest["config"]["size"] = put(json.dumps(config).encode())
    desc["digest"], desc["size"] = put(json.dumps(manifest).encode())
    (layout / "index.json").write_text(json.dumps(index))


def build_image(name: str, arch: str, packages: list[str]) -> None:
    layout = CACHE / "images" / name
    if fresh(layout):
        return
    log(f"building base image {name}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        root.mkdir()
        unpack(packages, root, arch)
        etc_files(root)
        if "python3.11-minimal" in packages:
            for link, target in (("usr/bin/python3", "python3.11"),
                                 ("usr/bin/python", "python3.11"),
                                 ("usr/local/bin/python3", "/usr/bin/python3.11")):
                (root / link).parent.mkdir(parents=True, exist_ok=True)
                if not (root / link).exists():
                    os.symlink(target, root / link)
        layer = Path(tmp) / "layer.tar"
        deterministic_tar(root, layer)
        if layout.exists():
            shutil.rmtree(layout)
        layout.parent.mkdir(parents=True, exist_ok=True)
        img = f"{layout}:latest"
        run("umoci", "init", "--layout", str(layout))
        run("umoci", "new", "--image", img)
        run("umoci", "raw", "add-layer", "--no-history", "--image", img, str(layer))
        argv = ["umoci", "config", "--no-history", "--image", img, "--os", "linux",
                "--architecture", arch, "--created", "1970-01-01T00:00:00Z"]
        argv += [f"--config.env={e}" for e in ENV]
        run(*argv)
        if name in VARIANTS:
            _set_variant(layout, VARIANTS[name])
        run("umoci", "gc", "--layout", str(layout))
    mark(layout)


def build_interpreter(arch: str = "amd64") -> None:
    name = INTERPRETER_REPOS[arch]
    repo = CACHE / "repos" / name
    if fresh(repo):
        return
    log(f"building hermetic interpreter repository {name}")
    if repo.exists():
        shutil.rmtree(repo)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        unpack(PYTHON[:3], root, arch)
        (repo / "bin").mkdir(parents=True)
        shutil.copy2(root / "usr/bin/python3.11", repo / "bin/python3")
        lib = repo / "lib/python3.11"
        shutil.copytree(root / "usr/lib/python3.11", lib, symlinks=True)
    for path in sorted(lib.rglob("*"), reverse=True):
        rel = "usr/lib/python3.11/" + str(path.relative_to(lib))
        dangling = path.is_symlink() and not path.exists()
        if DROP.match(rel) or path.name == "__pycache__" or dangling:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    (repo / "WORKSPACE").write_text(f'workspace(name = "{name}")\n')
    (repo / "BUILD.bazel").write_text(f'''\
# A hermetic CPython 3.11 (Debian's {arch} build, unpacked), laid out like a rules_python toolchain.
load("@bazel_tools//tools/python:toolchain.bzl", "py_runtime_pair")

package(default_visibility = ["//visibility:public"])

py_runtime(
    name = "py3_runtime",
    files = glob(["bin/**", "lib/**"], exclude = ["**/__pycache__/**"]),
    interpreter = "bin/python3",
    python_version = "PY3",
    stub_shebang = "#!/usr/bin/env python3",
)

py_runtime_pair(name = "runtime_pair", py3_runtime = ":py3_runtime")
''')
    mark(repo)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _install_wheel(whl: Path, repo: Path, platform: str = "") -> email.message.Message:
    """pip installs one wheel (for `platform`, default the host's) into
    repo/site-packages; returns its METADATA."""
    if repo.exists():
        shutil.rmtree(repo)
    target = ["--only-binary=:all:", "--python-version", "3.11", "--platform", platform] \
        if platform else []
    run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", *target,
        "--target", str(repo / "site-packages"), str(whl))
    for extra in (repo / "site-packages" / "bin",):
        shutil.rmtree(extra, ignore_errors=True)
    # pip records the local wheel's path (a host path) for a file install.
    for direct_url in (repo / "site-packages").glob("*.dist-info/direct_url.json"):
        direct_url.unlink()
    meta = next((repo / "site-packages").glob("*.dist-info/METADATA"))
    return email.parser.Parser().parse(io.StringIO(meta.read_text()))


def _requires(meta: email.message.Message, names: list[str]) -> list[str]:
    """Labels of the pip repositories (among names) a distribution requires."""
    requires = []
    for req in meta.get_all("Requires-Dist") or []:
        if "extra ==" in req:
            continue
        dep = _normalize(re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0])
        if dep in names:
            requires.append(f'"@pip_deps_{dep}//:pkg"')
    return sorted(requires)


def _write_pip_repo(repo: Path, repo_name: str, what: str, requires: list[str]) -> None:
    (repo / "WORKSPACE").write_text(f'workspace(name = "{repo_name}")\n')
    (repo / "BUILD.bazel").write_text(f'''\
# {what} from PyPI, in site-packages/ (a pip-style repository).
load("@rules_python//python:py_library.bzl", "py_library")

package(default_visibility = ["//visibility:public"])

py_library(
    name = "pkg",
    srcs = glob(["site-packages/**/*.py"], allow_empty = True),
    data = glob(
        ["site-packages/**"],
        exclude = ["**/*.py", "**/*.pyc", "**/__pycache__/**", "**/RECORD"],
    ),
    imports = ["site-packages"],
    deps = [{", ".join(requires)}],
)
''')


def build_pip_repos() -> list[str]:
    repos = CACHE / "repos"
    index = repos / "pip_deps.json"
    if index.is_file() and json.loads(index.read_text()).get("version") == VERSION:
        return json.loads(index.read_text())["repos"]
    log("pip download " + " ".join(PIP_REQUIREMENTS))
    wheels = CACHE / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    run(sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
        "--python-version", "3.11",
        "--platform", WHEEL_PLATFORMS["x86_64"], "-d", str(wheels), *PIP_REQUIREMENTS)
    names = []
    metas = {}
    for whl in sorted(wheels.glob("*.whl")):
        name = _normalize(whl.name.split("-")[0])
        metas[name] = _install_wheel(whl, repos / f"pip_deps_{name}")
        names.append(name)
    for name in names:
        _write_pip_repo(repos / f"pip_deps_{name}", f"pip_deps_{name}", name,
                        _requires(metas[name], names))
    index.write_text(json.dumps({"version": VERSION, "repos": [f"pip_deps_{n}" for n in names]}))
    return [f"pip_deps_{n}" for n in names]


def build_multiarch_repos(pip: list[str]) -> dict[str, str]:
    """Per-cpu repositories of the wheels with compiled code, and the alias repository
    that replaces each (`pip_deps_<name>`): {repository name: path}.

    A wheel is platform-specific when its file name does not end in `-none-any.whl`
    (PEP 427); pip downloads it for each of WHEEL_PLATFORMS."""
    root = CACHE / "repos" / "multiarch"
    stamp = root / "repos.json"
    if stamp.is_file() and json.loads(stamp.read_text()).get("version") == MULTIARCH_VERSION:
        return {n: str(root / n) for n in json.loads(stamp.read_text())["repos"]}
    names = [r[len("pip_deps_"):] for r in pip]
    compiled = sorted(w for w in (CACHE / "wheels").glob("*.whl")
                      if not w.name.endswith("-none-any.whl"))
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    made = []
    for whl in compiled:
        name, version = _normalize(whl.name.split("-")[0]), whl.name.split("-")[1]
        keys = {}
        for cpu, tag in WHEEL_PLATFORMS.items():
            dest = CACHE / "wheels" / cpu
            dest.mkdir(parents=True, exist_ok=True)
            log(f"pip download {name}=={version} for {tag}")
            run(sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps",
                "--python-version", "3.11", "--platform", tag, "-d", str(dest),
                f"{name}=={version}")
            (cpu_whl,) = [w for w in dest.glob("*.whl")
                          if _normalize(w.name.split("-")[0]) == name
                          and w.name.split("-")[1] == version]
            repo_name = f"pip_deps_{name}_{cpu}"
            meta = _install_wheel(cpu_whl, root / repo_name, tag)
            _write_pip_repo(root / repo_name, repo_name, f"{name} ({tag} wheel)",
                            _requires(meta, names))
            keys[cpu] = f"@{repo_name}//:pkg"
            made.append(repo_name)
        hub = root / f"pip_deps_{name}"
        hub.mkdir()
        (hub / "WORKSPACE").write_text(f'workspace(name = "pip_deps_{name}")\n')
        (hub / "BUILD.bazel").write_text(f'''\
# {name} has compiled code: one wheel per cpu, chosen by the target platform
# (the alias a rules_python hub generates). x86_64 is the default.
package(default_visibility = ["//visibility:public"])

config_setting(
    name = "is_arm64",
    constraint_values = ["@platforms//cpu:arm64"],
)

alias(
    name = "pkg",
    actual = select({{
        ":is_arm64": "{keys["aarch64"]}",
        "//conditions:default": "{keys["x86_64"]}",
    }}),
)
''')
        made.append(f"pip_deps_{name}")
    stamp.write_text(json.dumps({"version": MULTIARCH_VERSION, "repos": made}))
    return {n: str(root / n) for n in made}


def build_all() -> dict:
    """Builds every fixture (cached); returns their paths."""
    for name, (arch, packages) in IMAGES.items():
        build_image(name, arch, packages)
    for arch in INTERPRETER_REPOS:
        build_interpreter(arch)
    pip = build_pip_repos()
    repos = {name: str(CACHE / "repos" / name) for name in pip + list(INTERPRETER_REPOS.values())}
    repos.update(build_multiarch_repos(pip))
    return {"images": str(CACHE / "images"), "repos": repos}


if __name__ == "__main__":
    print(json.dumps(build_all(), indent=2))
