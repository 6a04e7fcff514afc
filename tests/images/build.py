"""Offline test fixtures, built once and cached under <repo>/.cache/ (gitignored).

* OCI base images, distroless style: Debian packages fetched with
  `apt-get download` (the mirror is whatever the machine's apt sources say)
  and unpacked with `dpkg-deb -x`, then made into OCI layouts with umoci:
    images/python3-debian12-amd64  libc + python3.11 (interpreter mode A)
    images/cc-debian12-amd64       libc and friends, no python (mode B)
    images/static-debian12-{arm64,amd64}  /etc files only (one image, two platforms)
* repos/python_3_11_x86_64-unknown-linux-gnu: a hermetic interpreter
  repository (bin/python3 + lib/python3.11) named like a rules_python toolchain.
* repos/pip_deps_<name>: Flask and its dependencies, one pip-style
  repository each (`pip download` + `pip install --no-deps --target`).

Usage: python tests/images/build.py   (prints the cache directory)
"""

from __future__ import annotations

import email.parser
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
}
INTERPRETER_REPO = "python_3_11_x86_64-unknown-linux-gnu"
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


def debs(packages: list[str]) -> list[Path]:
    """apt-get download into .cache/debs (once per package)."""
    out = CACHE / "debs"
    out.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("_")[0]: p for p in out.glob("*.deb")}
    missing = [p for p in packages if p not in have]
    if missing:
        log("apt-get download " + " ".join(missing))
        run("apt-get", "download", *missing, cwd=out)
        have = {p.name.split("_")[0]: p for p in out.glob("*.deb")}
    return [have[p] for p in packages]


def unpack(packages: list[str], root: Path) -> None:
    for deb in debs(packages):
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


def build_image(name: str, arch: str, packages: list[str]) -> None:
    layout = CACHE / "images" / name
    if fresh(layout):
        return
    log(f"building base image {name}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rootfs"
        root.mkdir()
        unpack(packages, root)
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
        run("umoci", "gc", "--layout", str(layout))
    mark(layout)


def build_interpreter() -> None:
    repo = CACHE / "repos" / INTERPRETER_REPO
    if fresh(repo):
        return
    log(f"building hermetic interpreter repository {INTERPRETER_REPO}")
    if repo.exists():
        shutil.rmtree(repo)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        unpack(PYTHON[:3], root)
        (repo / "bin").mkdir(parents=True)
        shutil.copy2(root / "usr/bin/python3.11", repo / "bin/python3")
        lib = repo / "lib/python3.11"
        shutil.copytree(root / "usr/lib/python3.11", lib, symlinks=True)
    for path in sorted(lib.rglob("*"), reverse=True):
        rel = "usr/lib/python3.11/" + str(path.relative_to(lib))
        dangling = path.is_symlink() and not path.exists()
        if DROP.match(rel) or path.name == "__pycache__" or dangling:
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    (repo / "WORKSPACE").write_text(f'workspace(name = "{INTERPRETER_REPO}")\n')
    (repo / "BUILD.bazel").write_text('''\
# A hermetic CPython 3.11 (Debian's, unpacked), laid out like a rules_python toolchain.
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
        "--platform", "manylinux2014_x86_64", "-d", str(wheels), *PIP_REQUIREMENTS)
    names = []
    metas = {}
    for whl in sorted(wheels.glob("*.whl")):
        name = _normalize(whl.name.split("-")[0])
        repo = repos / f"pip_deps_{name}"
        if repo.exists():
            shutil.rmtree(repo)
        run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile",
            "--target", str(repo / "site-packages"), str(whl))
        for extra in (repo / "site-packages" / "bin",):
            shutil.rmtree(extra, ignore_errors=True)
        # pip records the local wheel's path (a host path) for a file install.
        for direct_url in (repo / "site-packages").glob("*.dist-info/direct_url.json"):
            direct_url.unlink()
        meta = next((repo / "site-packages").glob("*.dist-info/METADATA"))
        metas[name] = email.parser.Parser().parse(io.StringIO(meta.read_text()))
        names.append(name)
    for name in names:
        requires = []
        for req in metas[name].get_all("Requires-Dist") or []:
            if "extra ==" in req:
                continue
            dep = _normalize(re.split(r"[ ;<>=!~\[(]", req.strip(), maxsplit=1)[0])
            if dep in names:
                requires.append(f'"@pip_deps_{dep}//:pkg"')
        repo = repos / f"pip_deps_{name}"
        (repo / "WORKSPACE").write_text(f'workspace(name = "pip_deps_{name}")\n')
        (repo / "BUILD.bazel").write_text(f'''\
# {name} from PyPI, installed with pip into site-packages/ (a pip-style repository).
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
    deps = [{", ".join(sorted(requires))}],
)
''')
    index.write_text(json.dumps({"version": VERSION, "repos": [f"pip_deps_{n}" for n in names]}))
    return [f"pip_deps_{n}" for n in names]


def build_all() -> dict:
    """Builds every fixture (cached); returns their paths."""
    for name, (arch, packages) in IMAGES.items():
        build_image(name, arch, packages)
    build_interpreter()
    pip = build_pip_repos()
    repos = {name: str(CACHE / "repos" / name) for name in pip + [INTERPRETER_REPO]}
    return {"images": str(CACHE / "images"), "repos": repos}


if __name__ == "__main__":
    print(json.dumps(build_all(), indent=2))
