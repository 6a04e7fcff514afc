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
