"""Same inputs, same bytes: whatever the input order, umask, TZ, locale, working
directory or thread count."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pycross_layers.classify import Classifier, compile_groups
from pycross_layers.entries import FILE, Entry
from pycross_layers.layers import build_layers
from pycross_layers.tarball import TarPolicy

from .test_cli import run

FILES = [
    "ws/app/main.py", "ws/app/data/z.txt", "ws/app/data/a.txt", "ws/lib/ü.py",
    "pip_deps_six/site-packages/six.py", "python_3_11_x86_64-unknown-linux-gnu/bin/python3",
    "ws/deep/" + "d" * 120 + "/x.py",
]


def make_tree(root: Path, order: list[str], umask: int) -> Path:
    old = os.umask(umask)
    try:
        rf = root / "bin" / "app.runfiles"
        for rel in order:
            p = rf / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(f"content of {rel}\n")
            if rel.endswith("python3"):
                p.chmod(0o775 & ~umask)
        (root / "bin" / "app").write_text("#!/usr/bin/env python3\n")
    finally:
        os.umask(old)
    return rf


def layer_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def test_same_bytes_across_order_umask_tz_locale_cwd_threads(tmp_path):
    results = []
    variants = [
        (FILES, 0o022, "UTC", "C.UTF-8", "1"),
        (list(reversed(FILES)), 0o077, "Asia/Kolkata", "C", "2"),
        (random.Random(7).sample(FILES, len(FILES)), 0o002, "America/St_Johns", "POSIX", "8"),
    ]
    for i, (order, umask, tz, locale, threads) in enumerate(variants):
        root = tmp_path / f"v{i}"
        rf = make_tree(root, order, umask)
        cwd = root / "elsewhere"
        cwd.mkdir()
        out = tmp_path / f"out{i}"
        proc = run("layers", "--runfiles", str(rf), "--out", str(out), "--threads", threads,
                   "--quiet", "--group", "data=ws/app/data/", "--workspace-name", "ws", cwd=cwd,
                   env={"TZ": tz, "LC_ALL": locale, "LANG": locale})
        assert proc.returncode == 0, proc.stderr
        results.append(layer_bytes(out))
        shutil.rmtree(root)
    assert results[0] == results[1] == results[2]
    assert set(results[0]) == {"interpreter.tar.gz", "packages.tar.gz", "data.tar.gz",
                               "app.tar.gz", "layers.json"}


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(6))))
def test_entry_order_never_matters(tmp_path_factory, perm):
    tmp = tmp_path_factory.mktemp("perm")
    src = tmp / "f"
    src.write_text("x")
    base = [Entry(path=f"app.runfiles/ws/{n}", kind=FILE, runfiles_path=f"ws/{n}",
                  source=str(src), size=1) for n in ["b", "a/c", "a-b", "A", "é", "a/b/c"]]
    outs = []
    for order in (list(range(6)), perm):
        out = tmp / ("o" + "".join(map(str, order)))
        build_layers([base[i] for i in order], Classifier(compile_groups([]), "ws"), str(out),
                     "app", TarPolicy(), "none")
        outs.append(layer_bytes(out))
    assert outs[0] == outs[1]


def test_layer_bytes_do_not_depend_on_threads_or_segments(tmp_path):
    """A layer big enough to be written by several processes (uncompressed) and
    deflated on several threads (gzip): one set of bytes for 1, 2 and 3 threads."""
    from pycross_layers import plain_tar
    from pycross_layers.layers import layer_items
    from pycross_layers.rundir import read_runfiles_dir

    rf = tmp_path / "bin" / "app.runfiles"
    rng = random.Random(3)
    for i in range(7000):
        p = rf / "ws" / f"pkg_{i // 500:02d}" / f"m_{i % 500:03d}.py"
        if i % 500 == 0:
            p.parent.mkdir(parents=True)
        p.write_bytes(bytes(rng.randrange(32, 127) for _ in range(rng.randrange(0, 300))))
    big = rf / "pip_deps_x" / "site-packages" / "x.so"
    big.parent.mkdir(parents=True)
    big.write_bytes(b"\x7fELF" + random.Random(4).randbytes(3 << 20))
    _ws, _launcher, entries = read_runfiles_dir(str(rf), "ws")
    app = [e for e in entries if e.runfiles_path and e.runfiles_path.startswith("ws/")]
    # enough records for the CLI below to lay out and write them in three writers
    assert len(layer_items(app, "app")) >= plain_tar.FORK_RECORDS
    for method in ("none", "gzip"):
        outs = []
        for threads in ("1", "2", "3"):
            out = tmp_path / f"{method}{threads}"
            proc = run("layers", "--runfiles", str(rf), "--out", str(out), "--threads", threads,
                       "--compress", method, "--workspace-name", "ws", "--quiet")
            assert proc.returncode == 0, proc.stderr
            outs.append(layer_bytes(out))
            shutil.rmtree(out)
        assert outs[0] == outs[1] == outs[2]
