"""Benchmark: ``migrate`` against buildozer 8.2.1 on a synthetic monorepo.

Generates, in a temporary directory, a workspace of 10,000 BUILD files, 2,000
of them with a rules_docker ``py3_image``; copies it twice; then times, in the
same run:

* ``python -m migrate ROOT`` (the full migration, written in place), and
* buildozer doing the nearest thing it can:
  ``buildozer 'set kind py_image' 'replace_load @pycross_image//bazel/rules:oci.bzl py_image'
  'fix unusedLoads' //...:%py3_image``.

It prints both wall times, their ratio and the load average (goal: migrate
<= 2x buildozer, issue 10; MISSED when it is not).

    .venv/bin/python bench/migrate/run.py [--files 10000] [--images 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

LIBRARY = '''\
py_library(
    name = "{name}_lib",
    srcs = glob(["*.py"]),
    visibility = ["//visibility:public"],
    deps = [
        "//common/logging",
        "//{team}/shared:models",
    ],
)

py_test(
    name = "{name}_test",
    size = "small",
    srcs = ["{name}_test.py"],
    deps = [":{name}_lib"],
)
'''

IMAGE = '''\
# Service image for {name}.
py3_image(
    name = "{name}_image",
    srcs = ["main.py"],
    base = "@python_base//image",
    env = {{"SERVICE": "{name}"}},
    layers = [
        "@pip_deps_numpy//:pkg",
    ],
    main = "main.py",
    visibility = ["//deploy:__subpackages__"],
    deps = [
        ":{name}_lib",
        "//common/config",  # shared config
    ],
)
'''

GOAL = 2.0  # migrate's wall time over buildozer's (issue 10)


def generate(root: Path, files: int, images: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    root.mkdir(parents=True)
    (root / "WORKSPACE").write_text('workspace(name = "mono")\n')
    with_image = set(rng.sample(range(files), images))
    for i in range(files):
        team = f"team{i % 50:02d}"
        name = f"svc{i:05d}"
        pkg = root / team / name
        pkg.mkdir(parents=True)
        parts = []
        if i in with_image:
            parts.append('load("@io_bazel_rules_docker//python3:image.bzl", "py3_image")\n')
        parts.append('load("@rules_python//python:defs.bzl", "py_library", "py_test")\n\n')
        parts.append(LIBRARY.format(name=name, team=team))
        if i in with_image:
            parts.append("\n" + IMAGE.format(name=name))
        (pkg / "BUILD.bazel").write_text("".join(parts))


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tool (median)")
    parser.add_argument("--keep", action="store_true", help="keep the generated workspace")
    args = parser.parse_args(argv)

    buildozer = REPO / ".venv" / "bin" / "buildozer"
    if not buildozer.exists():
        found = shutil.which("buildozer")
        if found is None:
            print("buildozer not found: run bash .ci/setup", file=sys.stderr)
            return 2
        buildozer = Path(found)
    version = subprocess.run([str(buildozer), "-version"], capture_output=True, text=True,
                             check=False).stdout.split("\n")[0]

    work = Path(tempfile.mkdtemp(prefix="migrate-bench-"))
    try:
        source = work / "source"
        t0 = time.perf_counter()
        generate(source, args.files, args.images)
        print(f"generated {args.files} BUILD files ({args.images} with py3_image) in "
              f"{time.perf_counter() - t0:.1f}s under {work}")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        migrate_times, buildozer_times = [], []
        for run in range(args.repeat):
            a, b = work / f"migrate{run}", work / f"buildozer{run}"
            shutil.copytree(source, a, symlinks=True)
            shutil.copytree(source, b, symlinks=True)
            cmd = [sys.executable, "-m", "migrate", str(a), "--quiet"]
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=a, env=env, capture_output=True, text=True, check=False)
            migrate_times.append(time.perf_counter() - start)
            if proc.returncode != 0:
                print(f"migrate exited {proc.returncode}: {proc.stderr[-2000:]}", file=sys.stderr)
                return 2
            cmd = [str(buildozer), "-quiet", "set kind py_image",
                   "replace_load @pycross_image//bazel/rules:oci.bzl py_image",
                   "fix unusedLoads", "//...:%py3_image"]
            elapsed, proc = timed(cmd, b)
            buildozer_times.append(elapsed)
            if proc.returncode not in (0, 3):
                print(f"buildozer exited {proc.returncode}: {proc.stderr[-2000:]}", file=sys.stderr)
                return 2
            changed = sum(1 for p in a.rglob("BUILD.bazel") if "py_image(" in p.read_text())
            assert changed == args.images, changed
            shutil.rmtree(a)
            shutil.rmtree(b)
        m = statistics.median(migrate_times)
        z = statistics.median(buildozer_times)
        print(f"cores: {os.cpu_count()}")
        print(f"migrate:   {m:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in migrate_times)})")
        print(f"buildozer: {z:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in buildozer_times)})"
              f"  [{version}]")
        ratio = m / z
        verdict = "met" if ratio <= GOAL else "MISSED"
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"ratio migrate/buildozer: {ratio:.2f}x (goal <= {GOAL:g}x: {verdict}); "
              f"load average after (1/5/15 min): {load}")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
