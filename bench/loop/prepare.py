"""Prepares the loop benchmark's workspace, torch repository, Bazel and registry.

Used by bench/loop/run.py. Everything lands under ``<cache>/loop/`` (the
repository's gitignored .cache/bench by default).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).resolve().parent / "ws"
DOUBLES = REPO / "tests" / "doubles"
OFFLINE_RC = REPO / ".bazelrc.offline"
TORCH_REPO = "pip_deps_torch"
APP_FILE = "app/main.py"
EDIT_LINE = 'GREETING = "edit {n}"'

# Debian's /etc/bazel/bazelrc turns on --sandbox_debug, which keeps every
# sandbox (12,000 links per layer action here) and prints its log; users do not
# run that way.
SANDBOX_FLAGS = ["--nosandbox_debug"]


def log(msg: str) -> None:
    print(f"[loop] {msg}", file=sys.stderr, flush=True)


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _images():
    """tests/images/build.py, the tests' fixture builder (loaded once)."""
    return sys.modules.get("_loop_images") or _load(REPO / "tests" / "images" / "build.py",
                                                    "_loop_images")


def fixtures() -> dict:
    """Base images and the hermetic interpreter repository (tests/images/build.py, cached)."""
    return _images().build_all()


def torch_repo(cache: Path) -> Path | None:
    """<cache>/loop/pip_deps_torch: the unzipped wheel of bench/layers, hard-linked."""
    repo = cache / "loop" / TORCH_REPO
    marker = repo / ".complete"
    if marker.exists():
        return repo
    layers_bench = _load(REPO / "bench" / "layers" / "run.py", "_loop_layers_bench")
    tree = layers_bench.prepare_torch(cache)
    if tree is None:
        return None
    site = tree / layers_bench.RF / TORCH_REPO / "site-packages"
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(site), str(repo / "site-packages")], check=True)
    _images()._write_pip_repo(repo, TORCH_REPO, "torch (the real CPU wheel, unzipped)", [])
    marker.write_text("ok\n")
    return repo


def workspace(cache: Path) -> Path:
    """A fresh copy of bench/loop/ws under <cache>/loop/ws."""
    ws = cache / "loop" / "ws"
    if ws.exists():
        shutil.rmtree(ws)
    shutil.copytree(TEMPLATE, ws, ignore=shutil.ignore_patterns("bazel-*"))
    return ws


def edit(ws: Path, n: int) -> None:
    """The one-line change: rewrites the GREETING line of app/main.py."""
    path = ws / APP_FILE
    lines = path.read_text().splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if line.startswith("GREETING = ")]
    if len(hits) != 1:
        raise SystemExit(f"{path}: expected one GREETING line, found {len(hits)}")
    lines[hits[0]] = EDIT_LINE.format(n=n) + "\n"
    path.write_text("".join(lines))


@dataclass
class Bazel:
    """Bazel on the loop workspace: offline, doubles and fixture repositories wired in."""

    ws: Path
    output_base: Path
    overrides: dict[str, str]
    flags: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    def _startup(self) -> list[str]:
        return ["bazel", f"--output_base={self.output_base}", "--nohome_rc",
                f"--bazelrc={OFFLINE_RC}", "--max_idle_secs=900"]

    def command(self, cmd: str, *args: str) -> list[str]:
        argv = [*self._startup(), cmd]
        if cmd in ("build", "run", "cquery", "info", "aquery"):
            argv += [f"--override_repository={k}={v}" for k, v in sorted(self.overrides.items())]
            argv += self.flags
        return argv + list(args)

    def call(self, cmd: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("BAZEL") and k != "PYTHONPATH"}
        env.update(self.env)
        proc = subprocess.run(self.command(cmd, *args), cwd=self.ws, env=env, text=True,
                              capture_output=True)
        if check and proc.returncode != 0:
            raise SystemExit(f"bazel {cmd} {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stderr[-4000:]}")
        return proc

    def shutdown(self) -> None:
        subprocess.run(self._startup() + ["shutdown"], cwd=self.ws,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def bazel(ws: Path, cache: Path, fx: dict, torch: Path, env: dict[str, str],
          extra: list[str] | None = None) -> Bazel:
    """The benchmark's Bazel: offline, the doubles and fixtures as repositories;
    ``extra``: flags the caller adds to every build."""
    if not OFFLINE_RC.exists() or not shutil.which("bazel"):
        raise SystemExit(f"missing bazel or {OFFLINE_RC}: run `bash .ci/setup` first")
    overrides = {
        "pycross_image": str(REPO),
        "rules_oci": str(DOUBLES / "rules_oci"),
        "rules_python": str(DOUBLES / "rules_python"),
        TORCH_REPO: str(torch),
        **fx["repos"],
    }
    return Bazel(ws, cache / "loop" / "output_base", overrides,
                 flags=[f"--repo_env=PYCROSS_TEST_IMAGES={fx['images']}", "--color=no",
                        "--curses=no", "--noshow_progress", *SANDBOX_FLAGS, *(extra or [])],
                 env=env)


@contextlib.contextmanager
def registry(scratch: Path) -> Iterator[str]:
    """Debian's docker-registry on a loopback port (the tests' own
    ``tests/support/registry.py``); yields ``127.0.0.1:PORT``, and leaves no
    process and no storage behind. ``scratch`` is unused: the registry keeps
    its storage in its own temporary directory."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.support.registry import running_registry

    with contextlib.ExitStack() as stack:
        try:
            running = stack.enter_context(running_registry())
        except RuntimeError as e:  # not installed, or did not start
            raise SystemExit(str(e)) from None
        yield running.address


@contextlib.contextmanager
def podman_storage(scratch: Path) -> Iterator[dict[str, str]]:
    """Environment that points podman at a fresh storage dir (overlay driver) under scratch."""
    with tempfile.TemporaryDirectory(dir=scratch, prefix="podman-") as tmp:
        conf = Path(tmp) / "storage.conf"
        conf.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{tmp}/graph"\n'
            f'runroot = "{tmp}/run"\n'
        )
        try:
            yield {"CONTAINERS_STORAGE_CONF": str(conf)}
        finally:
            subprocess.run(["podman", "--root", f"{tmp}/graph", "--runroot", f"{tmp}/run",
                            "--storage-driver", "overlay", "rmi", "-a", "-f"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf)))
            subprocess.run(["umount", "-R", f"{tmp}/graph/overlay"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
