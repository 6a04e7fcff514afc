"""The tar writer's fast header path gives exactly the bytes of the generic one."""

from __future__ import annotations

import tarfile

from hypothesis import given, settings
from hypothesis import strategies as st

from pycross_layers import tarball

names = st.binary(min_size=1, max_size=120)
octal_values = st.one_of(st.integers(0, 0o7777), st.integers(0, 0o77777777777),
                         st.integers(0o77777777777, 1 << 40))


@settings(max_examples=400, deadline=None)
@given(name=names, mode=st.integers(0, 0o7777777), size=octal_values, mtime=octal_values,
       typeflag=st.sampled_from([b"0", b"2", b"5", b"x"]),
       link=st.binary(max_size=120))
def test_fast_header_matches_generic_header(name, mode, size, mtime, typeflag, link):
    fast = tarball._header(name, mode, size, mtime, typeflag, link)
    assert fast == tarball._header_generic(name, mode, size, mtime, typeflag, link)


def test_fast_header_is_read_back_by_tarfile():
    block = tarball._header(b"app/x.py", 0o644, 5, 0, b"0")
    assert len(block) == tarball.BLOCK
    info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    assert (info.name, info.mode, info.size, info.mtime, info.uid, info.gid) == (
        "app/x.py", 0o644, 5, 0, 0, 0)


@settings(max_examples=400, deadline=None)
@given(name=st.text(min_size=1, max_size=110), size=octal_values,
       mtime=st.integers(0, 8**11 - 1), head=st.sampled_from([b"", b"#!", b"\x7fELF", b"abcd"]),
       modes=st.sampled_from([(0o644, 0o755), (0o600, 0o700), (0o7777, 0o4755)]))
def test_file_headers_match_entry_header(name, size, mtime, head, modes):
    """The writer's precomputed file headers are entry_header's bytes, or None where
    entry_header needs a PAX header."""
    from pycross_layers.entries import FILE, Entry

    policy = tarball.TarPolicy(mtime=mtime, file_mode=modes[0], exec_mode=modes[1])
    entry = Entry(path=name, kind=FILE, source="/x", size=size)
    fast = tarball.FileHeaders(policy).file(name, size, head)
    want = tarball.entry_header(name, entry, policy, head)
    if fast is None:
        assert len(want) > tarball.BLOCK  # only where a PAX header is needed
    else:
        assert fast == want
