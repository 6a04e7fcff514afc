"""The tar writer: headers, modes, PAX, parents, order, empty layers."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycross_layers import tarball
from pycross_layers.entries import DIR, FILE, SYMLINK, Entry
from pycross_layers.layers import layer_items
from pycross_layers.tarball import TarPolicy, entry_header, write_tar

from .helpers import write


def _tar(items, policy=None):
    buf = io.BytesIO()
    stats = write_tar(buf, items, policy or TarPolicy())
    return buf.getvalue(), stats


def test_modes_owner_mtime_are_normalised(tmp_path):
    exe = write(tmp_path / "run.sh", "#!/bin/sh\n", 0o4775)  # setuid + group write
    plain = write(tmp_path / "a.txt", "hello", 0o600)
    entries = [
        Entry(path="bin/run.sh", kind=FILE, source=str(exe), size=10),
        Entry(path="a.txt", kind=FILE, source=str(plain), size=5),
        Entry(path="link", kind=SYMLINK, target="a.txt"),
        Entry(path="empty_dir", kind=DIR),
    ]
    data, stats = _tar(layer_items(entries, "app"))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        got = {m.name: m for m in t.getmembers()}
        assert t.extractfile("app/a.txt").read() == b"hello"
    assert list(got) == ["app", "app/a.txt", "app/bin", "app/bin/run.sh", "app/empty_dir",
                         "app/link"]
    assert got["app/bin/run.sh"].mode == 0o755
    assert got["app/a.txt"].mode == 0o644
    assert got["app/bin"].mode == 0o755 and got["app/bin"].isdir()
    assert got["app/link"].issym() and got["app/link"].linkname == "a.txt"
    for m in got.values():
        assert (m.uid, m.gid, m.uname, m.gname, m.mtime) == (0, 0, "", "", 0)
    assert stats.entries == 6 and stats.content_bytes == 15
    assert stats.tar_bytes == len(data) and len(data) % 512 == 0


@pytest.mark.parametrize(("content", "disk_mode", "want"), [
    (b"plain text\n", 0o755, 0o644),          # executable on disk, not by content
    (b"#!/bin/sh\necho hi\n", 0o644, 0o755),  # a script without the x bit
    (b"\x7fELF\x02\x01\x01" + b"\0" * 57, 0o644, 0o755),  # an ELF header
    (b"#!", 0o600, 0o755),                    # shorter than the 4 bytes peeked
    (b"\x7fEL", 0o755, 0o644),                # a truncated ELF magic is not one
    (b"", 0o755, 0o644),                      # empty file
], ids=["text-0755", "shebang-0644", "elf-0644", "short-shebang", "short-elf", "empty"])
def test_file_mode_comes_from_content_not_disk(tmp_path, content, disk_mode, want):
    src = tmp_path / "f"
    src.write_bytes(content)
    src.chmod(disk_mode)
    data, _ = _tar([("f", Entry(path="f", kind=FILE, source=str(src), size=len(content)))])
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert t.getmember("f").mode == want
        assert t.extractfile("f").read() == content
    src.chmod(0o644 if disk_mode == 0o755 else 0o755)  # the bits on disk never count
    assert _tar([("f", Entry(path="f", kind=FILE, source=str(src),
                             size=len(content)))])[0] == data


def test_empty_entry_is_0644():
    data, _ = _tar([("__init__.py", Entry(path="__init__.py", kind=FILE))])
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert t.getmember("__init__.py").mode == 0o644


def test_short_first_read_is_topped_up_for_the_mode(tmp_path, monkeypatch):
    """A read that returns fewer than 4 bytes still sees the whole ELF magic."""
    src = tmp_path / "elf"
    src.write_bytes(b"\x7fELF" + b"x" * 100)
    real_read = tarball.os.read
    calls = []

    def one_byte_first(fd, n):
        calls.append(n)
        return real_read(fd, 1 if len(calls) == 1 else n)

    monkeypatch.setattr(tarball.os, "read", one_byte_first)
    data, _ = _tar([("elf", Entry(path="elf", kind=FILE, source=str(src), size=104))])
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert t.getmember("elf").mode == 0o755
        assert t.extractfile("elf").read() == src.read_bytes()


def test_configurable_mtime(tmp_path):
    data, _ = _tar([("d", None)], TarPolicy(mtime=946684800))
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert t.getmember("d").mtime == 946684800


def test_pax_header_for_long_and_non_ascii_names(tmp_path):
    src = write(tmp_path / "f", "x")
    long_name = "d/" + "x" * 150 + ".py"
    entries = [
        Entry(path=long_name, kind=FILE, source=str(src), size=1),
        Entry(path="ü/naïve.txt", kind=FILE, source=str(src), size=1),
        Entry(path="l", kind=SYMLINK, target="y" * 120),
    ]
    data, _ = _tar(layer_items(entries, ""))
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8") as t:
        names = t.getnames()
        assert long_name in names and "ü/naïve.txt" in names
        assert t.getmember("l").linkname == "y" * 120
    assert b"././@PaxHeader" in data
    # Short ASCII names need no PAX header at all.
    short, _ = _tar([("a", None)])
    assert b"PaxHeader" not in short


def test_items_sorted_by_path_bytes_with_parents_in_the_same_layer(tmp_path):
    src = write(tmp_path / "f", "x")
    entries = [Entry(path=p, kind=FILE, source=str(src), size=1)
               for p in ["b/z.py", "a-b/x", "a/y", "B/q", "é/e"]]
    names = [n for n, _ in layer_items(entries, "root/app")]
    assert names == sorted(names, key=lambda n: n.encode())
    for n in names:
        parent = n.rpartition("/")[0]
        assert not parent or parent in names
    assert names[:2] == ["root", "root/app"]


def test_empty_layer_is_a_valid_empty_tar():
    data, stats = _tar([])
    assert data == b"\0" * 1024 and stats.entries == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert t.getmembers() == []


def test_header_checksum_is_valid():
    h = entry_header("dir", None, TarPolicy())
    assert len(h) == 512
    stored = int(h[148:154], 8)
    assert stored == sum(h[:148]) + 8 * 32 + sum(h[156:])


_SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\0"),
    min_size=1, max_size=40,
).filter(lambda s: s not in (".", ".."))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_SEGMENT, min_size=1, max_size=5).map("/".join), min_size=1,
                max_size=12, unique=True),
       st.binary(max_size=2000))
def test_any_names_round_trip_through_tarfile(tmp_path_factory, paths, content):
    src = tmp_path_factory.mktemp("rt") / "f"
    src.write_bytes(content)
    files = [p for p in paths if not any(q.startswith(p + "/") for q in paths)]
    entries = [Entry(path=p, kind=FILE, source=str(src), size=len(content)) for p in files]
    data, stats = _tar(layer_items(entries, "app"))
    with tarfile.open(fileobj=io.BytesIO(data), encoding="utf-8") as t:
        got = {m.name: m for m in t.getmembers()}
        for p in files:
            assert t.extractfile("app/" + p).read() == content
    dirs = {n for n, m in got.items() if m.isdir()}
    assert set(got) - dirs == {"app/" + p for p in files}
    assert stats.entries == len(got)
