#!/usr/bin/env python3
"""Layer benchmark: the pycross_image core against tar, bsdtar, tarfile, gzip, pigz and zstd.

One command, from the repository root, after `bash .ci/setup`:

    .venv/bin/python bench/layers/run.py

It prepares two trees under .cache/bench/ (the real PyTorch CPU wheel
unzipped, fetched with `pip download torch==2.13.0 --no-deps`; and 50,000
generated files of 1 KB), warms the page cache, then runs every row
``--repeat`` times (default 5, interleaved, so background load hits all rows
alike), then the goals' rows again with ``--busy`` busy-loop processes
(default 2) to show how far the ratios move under load, and writes
docs/performance.md (and the summary between the performance markers of
README.md). Every ratio divides best-of-N wall times of this one run and is
printed with the 1-minute load average of its runs; a missed goal is printed
as MISSED. Each row reports best and median wall time, output size, peak RSS
(per process, from wait4; summed over the processes of a pipeline) and CPU
time. The core's outputs are checked: every compressed layer decompresses
(with the gzip / zstd command-line tools) to exactly the core's uncompressed
layer, and all runs of a row give identical bytes.

A peer tool that is missing is reported and its row skipped; a tree that
cannot be prepared (no torch wheel) is reported and skipped.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE_PATH = REPO / "bazel" / "rules"
COMMAND = ".venv/bin/python bench/layers/run.py"
TORCH_REQ = "torch==2.13.0"
SMALL_FILES = 50_000
SMALL_SIZE = 1024
RF = "app.runfiles"  # each tree is a runfiles directory: <tree>/app.runfiles/...
WORKSPACE = "bench_ws"


# --------------------------------------------------------------------------
# trees


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def prepare_torch(cache: Path) -> Path | None:
    """<cache>/trees/torch/app.runfiles/pip_deps_torch/site-packages/<the wheel>."""
    tree = cache / "trees" / "torch"
    marker = tree / ".complete"
    if marker.exists():
        return tree
    wheel_dir = cache / "wheel"
    wheels = sorted(wheel_dir.glob("torch-*.whl"))
    if not wheels:
        log(f"fetching the torch wheel: pip download {TORCH_REQ} --no-deps")
        res = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
             TORCH_REQ, "--no-deps", "-d", str(wheel_dir)],
            capture_output=True, text=True,
        )
        wheels = sorted(wheel_dir.glob("torch-*.whl"))
        if res.returncode != 0 or not wheels:
            log(f"skipping the torch tree: `pip download {TORCH_REQ}` failed: "
                f"{res.stderr.strip()[-300:]}")
            return None
    if tree.exists():
        shutil.rmtree(tree)
    site = tree / RF / "pip_deps_torch" / "site-packages"
    log(f"unzipping {wheels[-1].name}")
    with zipfile.ZipFile(wheels[-1]) as zf:
        for info in zf.infolist():
            path = zf.extract(info, site)
            mode = info.external_attr >> 16 & 0o777
            if mode and not info.is_dir():
                os.chmod(path, mode)
    main = tree / RF / WORKSPACE / "main.py"
    main.parent.mkdir(parents=True)
    main.write_text("import torch\nprint(torch.__version__)\n")
    marker.write_text("ok\n")
    return tree


def prepare_small(cache: Path) -> Path:
    """<cache>/trees/small/app.runfiles/bench_ws/pkg_NNN/mod_NNN.py: 50,000 x 1 KB."""
    tree = cache / "trees" / "small"
    marker = tree / ".complete"
    if marker.exists():
        return tree
    if tree.exists():
        shutil.rmtree(tree)
    log(f"generating {SMALL_FILES} files of {SMALL_SIZE} bytes")
    rng = random.Random(SMALL_FILES)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 10)))
             for _ in range(500)]
    per_dir = 500
    for n in range(SMALL_FILES):
        d = tree / RF / WORKSPACE / f"pkg_{n // per_dir:03d}"
        if n % per_dir == 0:
            d.mkdir(parents=True)
        text = ""
        while len(text) < SMALL_SIZE:
            text += " ".join(rng.choice(words) for _ in range(8)) + "\n"
        (d / f"mod_{n % per_dir:03d}.py").write_text(text[:SMALL_SIZE - 1] + "\n")
    marker.write_text("ok\n")
    return tree


MANIFEST = "layers.manifest"  # beside app.runfiles: what py_image_layers would write
GROUPS = ("interpreter", "packages", "app")


def write_manifest(tree: Path) -> None:
    """The manifest the ``py_image_layers`` rule would write for the tree (every
    file a ``file`` line; exec paths relative to the tree, the action's execroot),
    so that the Bazel action's form of the core (``layer``) runs on it too. The
    launcher ``app`` beside ``app.runfiles`` is written first: both forms take it."""
    launcher = tree / RF.removesuffix(".runfiles")
    if not launcher.exists():
        launcher.write_text("#!/usr/bin/env python3\n# the binary's launcher\n")
    lines = ["pycross-image-manifest\t1", f"workspace\t{WORKSPACE}",
             f"launcher\t{launcher.name}\t{launcher.name}"]
    for dirpath, dirs, names in os.walk(tree / RF):
        dirs.sort()
        for name in sorted(names):
            exec_path = os.path.relpath(os.path.join(dirpath, name), tree)
            repo, _sep, rest = exec_path[len(RF) + 1:].partition("/")
            short = rest if repo == WORKSPACE else f"../{repo}/{rest}"
            lines.append(f"file\t{short}\t{exec_path}")
    text = "\n".join(lines) + "\n"
    path = tree / MANIFEST
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def tree_stats(tree: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(tree / RF):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(dirpath, name)).st_size
    return files, size


def compile_core(pycache: Path) -> None:
    """Byte-compiles the core into ``pycache`` (``PYTHONPYCACHEPREFIX``), as pip
    does when it installs a package: the core rows then run as an installed
    command does. Without it, a machine that sets PYTHONDONTWRITEBYTECODE (this
    one does) would compile every module again on every run (about 60 ms)."""
    env = dict(os.environ, PYTHONPYCACHEPREFIX=str(pycache))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(CORE_PATH / "pycross_layers")],
                   env=env, check=True)


def warm(tree: Path) -> None:
    """Reads every file once so that every row starts from a warm page cache."""
    for dirpath, _dirs, names in os.walk(tree / RF):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                while f.read(1 << 20):
                    pass


# --------------------------------------------------------------------------
# rows


@dataclass
class Row:
    name: str
    fmt: str  # tar | gzip | zstd
    kind: str  # core | peer
    shown: str  # the command as shown in the table
    stages: list[list[str]] = field(default_factory=list)  # a pipeline; '{out}' = output
    stdout_to_out: bool = True  # the last stage's stdout is the output file
    tools: tuple[str, ...] = ()
    method: str = ""  # core only


def core_row(method: str, label: str) -> Row:
    argv = [sys.executable, "-m", "pycross_layers", "layers", "--runfiles", RF, "--out", "{out}",
            "--compress", method, "--workspace-name", WORKSPACE, "--quiet"]
    shown = f"pycross-image layers --runfiles {RF} --compress {method}"
    return Row(f"core {label}", method if method != "none" else "tar", "core", shown, [argv],
               stdout_to_out=False, method=method)


def action_row() -> Row:
    """The Bazel action's form: one ``layer`` run per group, all at once (as Bazel
    runs independent actions), computing no digest (nothing reads one there: the
    image rules hash the layer files themselves)."""
    script = ('set -e; mkdir -p "$1"; pids=""; for g in ' + " ".join(GROUPS) + '; do '
              f'"$0" -m pycross_layers layer --manifest {MANIFEST} --only "$g" '
              '--output "$1/$g.tar" --compress none & pids="$pids $!"; done; '
              'for p in $pids; do wait "$p"; done')
    shown = (f"pycross-image layer --manifest M --only G --compress none  "
             f"(Bazel action; {len(GROUPS)} groups at once, as Bazel runs them)")
    return Row("core none, action", "tar", "core", shown,
               [["sh", "-c", script, sys.executable, "{out}"]], stdout_to_out=False,
               method="none")


def peer_rows() -> list[Row]:
    tarfile_py = ("import sys, tarfile\n"
                  "with tarfile.open(sys.argv[1], 'w') as t:\n"
                  "    t.add(sys.argv[2])\n")
    return [
        Row("GNU tar", "tar", "peer", f"tar -cf OUT {RF}", [["tar", "-cf", "{out}", RF]],
            stdout_to_out=False, tools=("tar",)),
        Row("bsdtar", "tar", "peer", f"bsdtar -cf OUT {RF}", [["bsdtar", "-cf", "{out}", RF]],
            stdout_to_out=False, tools=("bsdtar",)),
        Row("Python tarfile", "tar", "peer", "tarfile.open(OUT, 'w').add(...)  (rules_pkg)",
            [[sys.executable, "-c", tarfile_py, "{out}", RF]], stdout_to_out=False),
        Row("bsdtar | gzip -6", "gzip", "peer", f"bsdtar -cf - {RF} | gzip -6  (rules_py)",
            [["bsdtar", "-cf", "-", RF], ["gzip", "-6"]], tools=("bsdtar", "gzip")),
        Row("tar | pigz -6", "gzip", "peer", f"tar -cf - {RF} | pigz -6",
            [["tar", "-cf", "-", RF], ["pigz", "-6"]], tools=("tar", "pigz")),
        Row("tar | zstd -3 -T0", "zstd", "peer", f"tar -cf - {RF} | zstd -3 -T0",
            [["tar", "-cf", "-", RF], ["zstd", "-q", "-3", "-T0"]], tools=("tar", "zstd")),
    ]


def zstd_importable() -> bool:
    sys.path.insert(0, str(CORE_PATH))
    try:
        from pycross_layers import compress
    finally:
        sys.path.pop(0)
    return compress.zstd_available()


def all_rows() -> list[Row]:
    rows = [core_row("none", "none"), action_row(), core_row("gzip", "gzip-6")]
    if zstd_importable():
        rows.append(core_row("zstd", "zstd-3"))
    else:
        log("skipping row core zstd-3: no zstd module in this Python "
            "(pip install zstandard, or Python 3.14+)")
    for row in peer_rows():
        missing = [t for t in row.tools if shutil.which(t) is None]
        if missing:
            log(f"skipping row {row.name!r}: {', '.join(missing)} not found on PATH")
            continue
        rows.append(row)
    return rows


# --------------------------------------------------------------------------
# measuring


@dataclass
class Result:
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss_kb: int = 0
    size: int = 0
    digests: list[dict[str, str]] = field(default_factory=list)  # per run: file -> sha256
    loads: list[float] = field(default_factory=list)  # 1-min load average at each run's start

    @property
    def wall(self) -> float:
        """Best (lowest) wall time of the runs: what every ratio is taken from."""
        return min(self.walls)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return min(self.cpus)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


TIME = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)


def run_once(row: Row, tree: Path, out: Path) -> tuple[float, float, int, dict[str, Path]]:
    """Runs ``row`` once in ``tree``; returns wall s, CPU s, peak RSS KiB, output files.

    Peak RSS comes from GNU time (``%M``) wrapped around each process: a process
    forked from this (large) Python inherits its RSS high-water mark across
    exec, so ``wait4``'s figure would be the benchmark's own size for small
    tools. Without GNU time, ``wait4`` is used and the figure is an upper bound.
    """
    target = out / "layers" if row.kind == "core" else out / "out"
    stages = [[a.replace("{out}", str(target)) for a in argv] for argv in row.stages]
    rss_files = [out / f".rss{i}" for i in range(len(stages))]
    if TIME:
        stages = [[TIME, "-f", "%M", "-o", str(f), *argv] for f, argv in zip(rss_files, stages)]
    env = dict(os.environ, PYTHONPATH=str(CORE_PATH), LC_ALL="C")
    if row.kind == "core":  # run as installed: bytecode compiled once (compile_core)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(out.parent.parent / "pycache")
    procs = []
    sink = open(target, "wb") if row.stdout_to_out else None  # noqa: SIM115
    t0 = time.perf_counter()
    try:
        prev = None
        for i, argv in enumerate(stages):
            if i < len(stages) - 1:
                stdout = subprocess.PIPE
            else:
                stdout = sink if row.stdout_to_out else subprocess.DEVNULL
            p = subprocess.Popen(argv, cwd=tree, env=env, stdin=prev, stdout=stdout)
            if prev is not None:
                prev.close()
            prev = p.stdout
            procs.append(p)
        cpu = 0.0
        rss = 0
        failed = []
        for p, argv in zip(procs, stages):
            _pid, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            rss += usage.ru_maxrss
            if p.returncode:
                failed.append(f"{' '.join(argv)} exited {p.returncode}")
        wall = time.perf_counter() - t0
    finally:
        if sink is not None:
            sink.close()
    if failed:
        raise SystemExit(f"row {row.name!r} failed: {'; '.join(failed)}")
    if TIME:
        rss = sum(int(f.read_text().split()[-1]) for f in rss_files)
        for f in rss_files:
            f.unlink()
    if row.kind == "core":
        files = {p.name: p for p in sorted(target.iterdir()) if p.name != "layers.json"}
        if (target / "layers.json").exists():  # not from the Bazel action's form
            files["layers.json"] = target / "layers.json"
    else:
        files = {"out": target}
    return wall, cpu, rss, files


def decompressed_sha256(path: Path, method: str) -> str:
    tool = {"gzip": ["gzip", "-dc"], "zstd": ["zstd", "-dcq"]}[method]
    if shutil.which(tool[0]) is None:  # fall back to Python's own decoders
        data = path.read_bytes()
        if method == "gzip":
            import gzip

            return hashlib.sha256(gzip.decompress(data)).hexdigest()
        import zstandard  # type: ignore[import-not-found]

        return hashlib.sha256(zstandard.ZstdDecompressor().decompressobj().decompress(data)
                              ).hexdigest()
    h = hashlib.sha256()
    with subprocess.Popen([*tool, str(path)], stdout=subprocess.PIPE) as p:
        while chunk := p.stdout.read(1 << 20):
            h.update(chunk)
    if p.returncode:
        raise SystemExit(f"{tool[0]} cannot decompress {path}")
    return h.hexdigest()


def check_core(results: dict[str, Result], rows: list[Row], outs: dict[str, dict[str, Path]],
               tree_name: str) -> list[str]:
    """Same bytes on every run; compressed layers decompress to the uncompressed ones."""
    checks = []
    for row in rows:
        if row.kind != "core":
            continue
        runs = results[row.name].digests
        if any(d != runs[0] for d in runs[1:]):
            raise SystemExit(f"{tree_name}: {row.name}: runs gave different bytes: {runs}")
        layer_files = len([n for n in runs[0] if n != "layers.json"])
        meta = " + layers.json" if "layers.json" in runs[0] else ""
        checks.append(f"{row.name}: {len(runs)} runs, identical bytes "
                      f"({layer_files} layer files{meta})")
    plain = next((r for r in rows if r.kind == "core" and r.method == "none"), None)
    if plain is None:
        return checks
    plain_digests = results[plain.name].digests[0]
    for row in rows:
        if row.kind != "core" or row is plain:
            continue
        if row.method == "none":  # the Bazel action's form: same layer bytes
            # app may differ: walking a directory also meets the directories of
            # other repositories (pip_deps_torch/), which a manifest never lists
            differ = [n for n in ("interpreter.tar", "packages.tar")
                      if results[row.name].digests[0].get(n) != plain_digests.get(n)]
            if differ:
                raise SystemExit(f"{tree_name}: {row.name}: {', '.join(differ)} differ from "
                                 f"{plain.name}'s")
            checks.append(f"{row.name}: interpreter and packages layers byte for byte those "
                          f"of {plain.name}")
            continue
        ext = {"gzip": ".tar.gz", "zstd": ".tar.zst"}[row.method]
        for fname, path in outs[row.name].items():
            if not fname.endswith(ext):
                continue
            want = plain_digests[fname[: -len(ext)] + ".tar"]
            got = decompressed_sha256(path, row.method)
            if got != want:
                raise SystemExit(f"{tree_name}: {row.name}: {fname} does not decompress to "
                                 f"the uncompressed layer")
        meta = json.loads(outs[row.name]["layers.json"].read_text())
        plain_meta = json.loads(outs[plain.name]["layers.json"].read_text())
        if [x["diff_id"] for x in meta["layers"]] != [x["diff_id"] for x in plain_meta["layers"]]:
            raise SystemExit(f"{tree_name}: {row.name}: diff_ids differ from core none")
        checks.append(f"{row.name}: every layer decompresses (with `{row.method} -d`) to exactly "
                      "the core none layer; diff_ids equal")
    return checks


def measure_tree(tree: Path, rows: list[Row], repeat: int, scratch: Path, label: str = ""):
    results = {row.name: Result() for row in rows}
    last_outs: dict[str, dict[str, Path]] = {}
    for rep in range(repeat):
        for row in rows:
            out = scratch / row.name.replace(" ", "_").replace("|", "").replace("__", "_")
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            os.sync()
            load = os.getloadavg()[0]
            wall, cpu, rss, files = run_once(row, tree, out)
            res = results[row.name]
            res.loads.append(load)
            res.walls.append(wall)
            res.cpus.append(cpu)
            res.rss_kb = max(res.rss_kb, rss)
            res.size = sum(p.stat().st_size for n, p in files.items() if n != "layers.json")
            if row.kind == "core":
                res.digests.append({n: sha256_file(p) for n, p in files.items()})
                last_outs[row.name] = files
            log(f"{tree.name}{label} run {rep + 1}/{repeat}: {row.name:18s} {wall:7.2f} s  "
                f"{res.size / 1e6:8.1f} MB  cpu {cpu:6.2f} s  rss {rss / 1024:6.1f} MiB")
    checks = check_core(results, rows, last_outs, tree.name)
    for out in scratch.iterdir():
        shutil.rmtree(out)
    return results, checks


# --------------------------------------------------------------------------
# report

NEAREST = {  # which peers a core row is compared with
    "tar": ("GNU tar", "bsdtar", "Python tarfile"),
    "gzip": ("tar | pigz -6", "bsdtar | gzip -6"),
    "zstd": ("tar | zstd -3 -T0",),
}


def md(text: str) -> str:
    """Escapes a table cell (pipelines contain '|')."""
    return text.replace("|", "\\|")


def fmt_ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def nearest_peer(row: Row, rows: list[Row], results: dict[str, Result]):
    """The fastest peer producing the same format, and core/peer wall-time ratio."""
    peers = [r for r in rows if r.kind == "peer" and r.fmt == row.fmt]
    if not peers:
        return None, None
    best = min(peers, key=lambda r: results[r.name].wall)
    return best.name, results[row.name].wall / results[best.name].wall


def table(rows: list[Row], results: dict[str, Result], repeat: int) -> str:
    lines = [
        f"| row | command | wall s (best of {repeat}) | median s | vs nearest peer "
        "| load (1 min) | output MB | peak RSS MiB | CPU s |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        res = results[row.name]
        if row.kind == "core":
            peer, ratio = nearest_peer(row, rows, results)
            vs = f"**{fmt_ratio(ratio)}** {peer}" if peer else "n/a"
        else:
            core = next((r for r in rows if r.kind == "core" and r.fmt == row.fmt), None)
            vs = ""
            if core is not None:
                vs = f"core is {fmt_ratio(results[core.name].wall / res.wall)}"
        name = f"**{row.name}**" if row.kind == "core" else row.name
        lines.append(
            f"| {md(name)} | `{md(row.shown)}` | {res.wall:.2f} | {res.median:.2f} | {md(vs)} "
            f"| {fmt_load(res.loads)} | {res.size / 1e6:.1f} | {res.rss_kb / 1024:.0f} "
            f"| {res.cpu:.1f} |"
        )
    return "\n".join(lines)


def fmt_load(loads: list[float]) -> str:
    """The 1-minute load average over some runs: mean (min-max)."""
    if not loads:
        return "n/a"
    return f"{statistics.mean(loads):.2f} ({min(loads):.2f}-{max(loads):.2f})"


@dataclass
class Goal:
    text: str
    measured: str
    met: bool | None
    note: str
    load: str = "n/a"  # the 1-min load average during the runs the figure comes from
    busy: str = ""  # the same ratio with extra busy processes, when measured
    median: str = "n/a"  # the same ratio of median wall times: how far one lucky run moves it


def ratio(results, a, b):
    if a in results and b in results:
        return results[a].wall / results[b].wall
    return None


def median_ratio(results, a, b):
    if a in results and b in results:
        return results[a].median / results[b].median
    return None


def loads_of(results, *names) -> str:
    return fmt_load([x for n in names if n in results for x in results[n].loads])


GOAL_NONE = 1.1
GOAL_GZIP = 0.95
GOAL_GZIP_SIZE = 0.01
GOAL_SMALL = 1.5


def goals(all_results: dict[str, dict[str, Result]], cores: int,
          busy_results: dict[str, dict[str, Result]] | None = None,
          busy: int = 0) -> list[Goal]:
    out: list[Goal] = []
    torch = all_results.get("torch", {})
    small = all_results.get("small", {})
    busy_results = busy_results or {}

    def add(text, tree, a, b, limit, above, note_missed, note_met="", fmt=None, value=None,
            busy_ratio=True):
        fmt = fmt or fmt_ratio
        results = all_results.get(tree, {})
        if value is None:
            value = ratio(results, a, b)
        if value is None:
            out.append(Goal(text, "not measured", None, "row or tree skipped on this machine"))
            return
        met = value >= limit if above else value <= limit
        goal = Goal(text, fmt(value), met, note_met if met else note_missed,
                    loads_of(results, a, b))
        middle = median_ratio(results, a, b) if busy_ratio else None  # a size is not a time
        if middle is not None:
            goal.median = fmt(middle)
        loaded = busy_results.get(tree, {})
        other = ratio(loaded, a, b) if busy_ratio else None  # a size is not a time
        if other is not None:
            goal.busy = (f"{fmt(other)} at load {loads_of(loaded, a, b)} "
                         f"({busy} busy loops; moved {(other / value - 1) * 100:+.0f}%)")
        out.append(goal)

    cpu_none = ""
    if "core none" in torch and "GNU tar" in torch:
        cpu_none = (f" CPU: core {torch['core none'].cpu:.2f} s, GNU tar "
                    f"{torch['GNU tar'].cpu:.2f} s.")
    add(f"torch, none: <= {GOAL_NONE}x GNU tar", "torch", "core none", "GNU tar", GOAL_NONE,
        False,
        "file bodies are copied by the kernel (copy_file_range) on every core, but the "
        "`layers` command also computes the diff_id for layers.json: a sha256 of 700 MB, about "
        "0.5 s of one core, which can only follow the writers as far as they have written; "
        "and a Python interpreter starts." + cpu_none,
        "file bodies are copied by the kernel on every core; the diff_id is read back while "
        "the writers run." + cpu_none)
    add(f"torch, none, Bazel action: <= {GOAL_NONE}x GNU tar", "torch", "core none, action",
        "GNU tar", GOAL_NONE, False,
        "no digest, kernel copies on every core; what is left is the start of three Python "
        "interpreters and the per-file layout.",
        "no digest (nothing reads it in the action), file bodies copied by the kernel on "
        "every core.")
    cpu_note = ""
    if "core gzip-6" in torch and "tar | pigz -6" in torch:
        cpu_note = (f" CPU: core {torch['core gzip-6'].cpu:.1f} s, tar|pigz "
                    f"{torch['tar | pigz -6'].cpu:.1f} s on {cores} cores: both are deflate-bound "
                    "(the same zlib at level 6 on the same 128 KiB blocks primed with 32 KiB); "
                    "deflate alone is about what pigz's whole pipeline spends, so with every core "
                    "busy the core cannot be much faster than pigz.")
    add(f"torch, gzip-6: <= {GOAL_GZIP}x tar | pigz -6", "torch", "core gzip-6",
        "tar | pigz -6", GOAL_GZIP, False, cpu_note.strip(), cpu_note.strip())
    size = None
    if "core gzip-6" in torch and "tar | pigz -6" in torch:
        size = torch["core gzip-6"].size / torch["tar | pigz -6"].size
    add(f"torch, gzip-6 size within {GOAL_GZIP_SIZE:.0%} of pigz -6", "torch", "core gzip-6",
        "tar | pigz -6", 1 + GOAL_GZIP_SIZE, False,
        "block-parallel deflate loses a little ratio at every 128 KiB block boundary",
        "each block is primed with the previous 32 KiB, as pigz does",
        fmt=lambda x: f"{(x - 1) * 100:+.2f}%", value=size, busy_ratio=False)
    add("torch, gzip-6: >= 2x faster than bsdtar | gzip -6", "torch", "bsdtar | gzip -6",
        "core gzip-6", 2.0, True,
        f"single-threaded gzip is the bound of that pipeline; with {cores} cores the core "
        f"can be at most ~{cores}x faster", f"single-threaded gzip is the bound of that "
        f"pipeline; the core deflates on all {cores} cores", fmt=lambda x: f"{x:.2f}x faster")
    add("torch, zstd: <= 2x tar | zstd -3 -T0", "torch", "core zstd-3", "tar | zstd -3 -T0",
        2.0, False, "the Python tar writer and the sha256 of the tar are the bound, not zstd",
        "same libzstd in multi-threaded mode; the core adds the diff_id hash and the "
        "Python tar writer")
    per_file = ""
    if "core none" in small and "GNU tar" in small:
        per_file = (f" Per file: core {small['core none'].wall / SMALL_FILES * 1e6:.1f} us, "
                    f"GNU tar {small['GNU tar'].wall / SMALL_FILES * 1e6:.1f} us.")
    add(f"50,000 x 1 KB, none: <= {GOAL_SMALL}x GNU tar", "small", "core none", "GNU tar",
        GOAL_SMALL, False,
        "on tiny files the cost is per entry: the directory walk (no stat, one Entry per "
        "file), classification and the sort run in one Python process; then every writer "
        "opens, reads and lays out its share of the files in parallel (open, fstat, read, "
        "close and a header in Python: about 15 us per file); GNU tar spends about 9 us per "
        "file in all." + per_file,
        "each writer opens, reads and lays out its share of the files in parallel." + per_file)
    return out


def machine_info(cores: int) -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines()
                      if x.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass

    def version(argv):
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return "not installed"
        text = (res.stdout or res.stderr).strip().splitlines()
        return text[0] if text else "?"

    import zlib

    zstd_lib = "not importable"
    try:
        import zstandard  # type: ignore[import-not-found]

        zstd_lib = f"zstandard {zstandard.__version__} (libzstd {zstandard.ZSTD_VERSION[0]}." \
                   f"{zstandard.ZSTD_VERSION[1]}.{zstandard.ZSTD_VERSION[2]})"
    except ImportError:
        pass
    return [
        f"- cores: **{cores}** (`os.cpu_count()`), {cpu}, {mem}",
        f"- {platform.system()} {platform.release()}; Python {platform.python_version()}, "
        f"zlib {zlib.ZLIB_RUNTIME_VERSION}, {zstd_lib}",
        f"- {version(['tar', '--version'])}; {version(['bsdtar', '--version'])}; "
        f"{version(['pigz', '--version'])}; {version(['zstd', '--version'])}; "
        f"{version(['gzip', '--version'])}",
    ]


DESIGN_NOTES = """\
## How the core gets there

- **Uncompressed** (`plain_tar.py`), written straight into the layer file
  with positional writes in two passes, each over forked writer processes (the
  per-file work is Python bytecode, which threads could not run in
  parallel). *Layout*: each writer takes an equal share of the sorted
  records, opens each of its files once (relative to the directory's
  descriptor, like GNU tar's `openat`), learns its size with `fstat` (the
  directory walk does not stat files) and its first bytes (which decide the
  mode), builds the headers, and reads small files (up to 256 KiB, at most
  64 MiB per writer) whole; the parent adds the lengths up into each share's
  offset. *Write*: each writer writes its headers and small files in
  gathered writes of about 1 MiB (`pwritev` of the pieces as they are,
  never joined into a fresh buffer); the bodies of larger files are shared out by bytes, in pieces
  of at most 16 MiB, so the 434 MB `libtorch_cpu.so` is copied by every
  core, each piece by the kernel (`os.copy_file_range`: nothing passes
  through Python; a `pread`/`pwrite` loop where the kernel or file system
  cannot). A layer of few records is laid out by the calling process, which
  forks writers only for the second pass (from 48 MiB). Which process
  writes a byte never changes the byte (tested with 1-11 writers, pieces of
  512 B to 1 MiB, caches from 0 to 1 GiB). The diff_id for `layers.json` is
  computed by the parent over the regions the writers report written, in
  order; for `none` it is also the file digest. The Bazel action (`layer`)
  computes no digest at all: nothing reads it there (the image rules hash
  the layer themselves).
- **gzip, standard library only** (`compress._Gzip`), pigz style: the tar
  stream is cut into 128 KiB blocks at fixed offsets; each block is deflated
  on a thread pool (zlib releases the GIL) with the previous 32 KiB as preset
  dictionary, sync-flushed (the last one finished), and the raw deflate pieces
  are concatenated behind a fixed 10-byte header (mtime 0, no name, OS 255).
  The CRC-32 of each block is computed on the worker and combined in order
  with a precomputed shift operator. At most 4 blocks per thread are in
  flight, so memory is a few MB whatever the layer size. Block boundaries
  depend only on the byte offset, so the output is identical for 1, 2 or 64
  threads (tested with 1, 2 and 8, and with arbitrary write sizes). While
  the workers run, the GIL switch interval is cut from 5 ms to 0.5 ms: a
  worker needs the GIL for a moment after each zlib call, and while the tar
  writer runs Python code (many small files) it would otherwise wait up to
  5 ms for it each time.
- **zstd** (`compression.zstd` on Python 3.14+, else `zstandard`): always
  zstd's multi-threaded frame mode (`nbWorkers >= 1`). zstd's single-threaded
  mode (`nbWorkers = 0`) produces different bytes, so it is never used; in
  multi-threaded mode the output does not depend on the worker count (tested
  with 1, 2 and 8 workers on 40 MB), so workers are capped at 4 to bound
  memory on many-core machines without changing a byte. The bytes do depend
  on the libzstd version (pin it with the Python toolchain). The frame
  carries a checksum. Without a zstd module, `compress = "zstd"` fails and
  names the package to install.
- **Why gzip cannot be 5% ahead of pigz here**: both deflate the same
  128 KiB blocks with the same zlib at level 6, primed with the same 32 KiB,
  and deflate is nearly all the work; on 2 busy cores wall time is CPU / 2,
  so a standard-library gzip can at best tie pigz, and the core's own work
  (tar writer, the two sha256 of `layers.json`) comes on top. Larger blocks
  or memLevel 9 were measured: no faster (memLevel 9 is 8% slower). A
  smaller preset dictionary was measured too, in one thread on three 100 MB
  stretches of the torch tar: priming with 8 KiB instead of 32 KiB costs
  0.4-1.1% in size and is 7% faster on the first stretch, 5% slower on the
  second and 5% faster on the third (long matches found early make deflate
  faster), so no gain. A smaller window costs 2-5% in size. Only less
  deflate work (a lower level) or a faster deflate (zlib-ng, not in the
  standard library) would get ahead. The Bazel action skips both sha256.
- **Many small files**: the directory walk (one `getdents` per directory and
  one Entry per file, no stat), classification and the sort run in one
  Python process (about 5 us per file); then the writers open, `fstat`,
  read and close their share of the files and build the headers in
  parallel (about 8 us of system time and 7 us of Python per file, split
  over the cores). GNU tar needs about 9 us per file in all, mostly system
  time: per file, the interpreter costs more than the system calls.
- **Symlink forests** (a real runfiles tree: every file an absolute link):
  the link rule resolves each directory once (a realpath cache) and derives
  the rule for another execroot once per base, and a link's target is read
  once: walking 3,000 links into a source tree outside the output base takes
  0.18 s of CPU instead of 0.83 s.
- **Under CPU contention** (other Bazel actions on the same cores) Python
  threads lose more than pigz's: whenever the thread holding the GIL is
  descheduled, the others cannot hand back a finished block; the forked
  writers of an uncompressed layer wait for their share of the cores
  like any process, while GNU tar needs one. The load column says how quiet
  each row's runs were, and the busy-loop rows show how far each ratio moves.
- **Only changed layers rebuild**: one Bazel action per layer group with
  `unused_inputs_list`; `tests/test_incremental.py` edits one first-party file
  and reads the execution log (exactly one layer action runs), and
  `tests/test_remote_cache.py` builds through a real nginx WebDAV cache from
  two output bases and workspace paths (zero layer actions the second time).
"""


def write_report(path: Path, trees: dict[str, tuple[Path, int, int]],
                 rows_by_tree: dict[str, list[Row]], all_results, all_checks, repeat: int,
                 load_before, load_after, started: str, elapsed: float,
                 busy_results=None, busy_rows=None, busy: int = 0,
                 busy_repeat: int = 0) -> list[Goal]:
    cores = os.cpu_count() or 1
    gs = goals(all_results, cores, busy_results, busy)
    parts = [
        "# Layer building performance",
        "",
        f"Written by `{COMMAND}` (one run, {started}, {elapsed / 60:.1f} min). "
        "Do not edit by hand: rerun the command.",
        "",
        "## Machine",
        "",
        *machine_info(cores),
        f"- load average (1/5/15 min) before: {load_before[0]:.2f} / {load_before[1]:.2f} / "
        f"{load_before[2]:.2f}; after: {load_after[0]:.2f} / {load_after[1]:.2f} / "
        f"{load_after[2]:.2f} (other builds sharing the machine make wall times noisy; "
        "rows run interleaved so noise hits every row alike)",
        "",
        "## Goals",
        "",
        f"Every ratio divides best-of-{repeat} wall times taken in this one run (rows "
        "interleaved), and the verdict is taken from it; *median* is the same ratio of "
        "median wall times, which one lucky run does not move; *load* is the 1-minute load "
        f"average at the start of those runs, mean (min-max), on {cores} cores.",
        "",
        "| goal | measured | | median | load (1 min) | with busy loops | note |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for g in gs:
        mark = "not measured" if g.met is None else ("**met**" if g.met else "**MISSED**")
        parts.append(f"| {md(g.text)} | {md(g.measured)} | {mark} | {md(g.median)} | {g.load} | "
                     f"{md(g.busy) or 'not measured'} | {md(g.note)} |")
    titles = {"torch": "PyTorch CPU wheel, unzipped", "small": "50,000 files of 1 KB"}
    for name, (_tree, files, size) in trees.items():
        parts += [
            "",
            f"## {titles.get(name, name)}: {files:,} files, {size / 1e6:,.0f} MB",
            "",
            table(rows_by_tree[name], all_results[name], repeat),
            "",
            "Checked in this run:",
            "",
            *[f"- {c}" for c in all_checks[name]],
        ]
        if busy_results and name in busy_results:
            parts += [
                "",
                f"Under load: the same rows again with {busy} busy-loop processes "
                f"(`python -c 'while True: pass'`) running, best of {busy_repeat}:",
                "",
                table(busy_rows[name], busy_results[name], busy_repeat),
            ]
    parts += [
        "",
        "Columns: wall time is the best (lowest) of the runs, the median beside it; *vs "
        "nearest peer* divides the "
        "core's time by the fastest peer producing the same format (lower is better) and, "
        "on peer rows, the core's time by that peer's; load is the 1-minute load average "
        "at the start of the row's runs, mean (min-max); peak RSS is each process's maximum "
        "resident set (from `wait4`), summed over the processes of a pipeline; CPU is "
        "user + system time of all processes. The core runs as "
        "`python -m pycross_layers layers` with its default threads (`os.cpu_count()`) and "
        "writes one file per layer (interpreter, packages, app); output MB is their sum. "
        "Every command reads a warm page cache and writes to the same file system.",
        "",
        DESIGN_NOTES,
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    # bench/loop/run.py owns the section between the loop markers: keep it.
    old = path.read_text() if path.exists() else ""
    begin, end = "<!-- loop:begin -->", "<!-- loop:end -->"
    if begin in old and end in old:
        parts += ["", old[old.index(begin):old.index(end) + len(end)], ""]
    path.write_text("\n".join(parts))
    return gs


def update_readme(readme: Path, gs: list[Goal], cores: int) -> None:
    begin, end = "<!-- performance:begin -->", "<!-- performance:end -->"
    text = readme.read_text()
    if begin not in text or end not in text:
        log("README.md has no performance markers; not updated")
        return
    lines = [
        begin,
        "## Performance",
        "",
        f"Layers are built with parallel, deterministic gzip (standard library only) or zstd; "
        f"output bytes never depend on the core count. Measured on {cores} cores "
        "(`" + COMMAND + "`, best of N runs, load average beside each figure; full table "
        "and machine in "
        "[docs/performance.md](docs/performance.md)):",
        "",
    ]
    for g in gs:
        mark = "not measured" if g.met is None else ("met" if g.met else "missed")
        median = f"; median {g.median}" if g.median != "n/a" else ""
        lines.append(f"- {g.text}: {g.measured} ({mark}{median}; load {g.load})")
    lines.append(end)
    head, rest = text.split(begin, 1)
    _old, tail = rest.split(end, 1)
    readme.write_text(head + "\n".join(lines) + tail)


#: The rows measured again under load (``--busy``): the goals' rows.
BUSY_ROWS = ("core none", "core none, action", "core gzip-6", "GNU tar", "tar | pigz -6")


class BusyLoops:
    """``n`` busy-loop processes (one core each) while the block runs; ended by pid."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> BusyLoops:
        for _ in range(self.n):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(2)  # let the load average start to see them
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.kill()
            p.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs per row; ratios take the best of them (>= 2; default 5)")
    ap.add_argument("--busy", type=int, default=2,
                    help="then run the goals' rows again with this many busy-loop processes, "
                         "to show how far the ratios move under load (0: skip; default 2)")
    ap.add_argument("--busy-repeat", type=int, default=3,
                    help="runs per row under load (default 3)")
    ap.add_argument("--trees", default="torch,small", help="comma list of torch, small")
    ap.add_argument("--cache", type=Path, default=REPO / ".cache" / "bench")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "performance.md")
    ap.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    args = ap.parse_args(argv)
    if args.repeat < 2:
        ap.error("--repeat must be at least 2 (two runs prove identical bytes)")
    if args.busy < 0 or args.busy_repeat < 1:
        ap.error("--busy must be >= 0 and --busy-repeat >= 1")
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t_start = time.perf_counter()
    load_before = os.getloadavg()
    trees: dict[str, tuple[Path, int, int]] = {}
    for name in [t.strip() for t in args.trees.split(",") if t.strip()]:
        if name == "torch":
            tree = prepare_torch(args.cache)
        elif name == "small":
            tree = prepare_small(args.cache)
        else:
            ap.error(f"unknown tree {name!r}")
        if tree is not None:
            files, size = tree_stats(tree)
            trees[name] = (tree, files, size)
            log(f"tree {name}: {files} files, {size / 1e6:.0f} MB")
    if not trees:
        log("no tree to measure")
        return 1
    rows = all_rows()
    compile_core(args.cache / "pycache")
    scratch = args.cache / "out"
    scratch.mkdir(parents=True, exist_ok=True)
    all_results, all_checks, rows_by_tree = {}, {}, {}
    for name, (tree, _files, _size) in trees.items():
        write_manifest(tree)
        warm(tree)
        results, checks = measure_tree(tree, rows, args.repeat, scratch)
        all_results[name], all_checks[name], rows_by_tree[name] = results, checks, rows
    busy_results, busy_rows = {}, {}
    if args.busy:
        for name, (tree, _files, _size) in trees.items():
            chosen = [r for r in rows if r.name in BUSY_ROWS
                      and (name == "torch" or r.fmt == "tar")]
            warm(tree)
            with BusyLoops(args.busy):
                results, _checks = measure_tree(tree, chosen, args.busy_repeat, scratch,
                                                label=f" +{args.busy} busy")
            busy_results[name], busy_rows[name] = results, chosen
    load_after = os.getloadavg()
    gs = write_report(args.out, trees, rows_by_tree, all_results, all_checks, args.repeat,
                      load_before, load_after, started, time.perf_counter() - t_start,
                      busy_results, busy_rows, args.busy, args.busy_repeat)
    log(f"wrote {args.out}")
    if not args.no_readme and args.out == REPO / "docs" / "performance.md":
        update_readme(REPO / "README.md", gs, os.cpu_count() or 1)
    print(f"every ratio: best of {args.repeat} runs, this run; load = 1-min load average "
          f"at the runs' start, mean (min-max), on {os.cpu_count()} cores")
    for g in gs:
        mark = "n/a" if g.met is None else ("met" if g.met else "MISSED")
        busy = f"; with busy loops: {g.busy}" if g.busy else ""
        print(f"{mark:6s} {g.text}: {g.measured} (median {g.median}; load {g.load}){busy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
