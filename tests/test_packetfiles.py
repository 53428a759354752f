"""Segment files for packet bytes (axis.store.packetfiles), on real files: appends come
back byte for byte at the positions given, segments roll over at their size limit, a
torn tail left by a crash is skipped, and bytes that are not there are an error."""

from __future__ import annotations

import ctypes
import mmap
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis.store.packetfiles import PacketFiles, packet_dir
from axis_errors import StoreError

batches = st.lists(st.lists(st.binary(max_size=300), min_size=1, max_size=6), max_size=8)


def test_the_directory_sits_beside_the_database() -> None:
    assert packet_dir(Path("/data/axis.db")) == Path("/data/axis.db-packets")


@given(batches, st.integers(min_value=1, max_value=1000))
@settings(max_examples=40, deadline=None)
def test_every_append_reads_back_where_it_was_put(
    tmp_path_factory: pytest.TempPathFactory, groups: list[list[bytes]], limit: int
) -> None:
    directory = tmp_path_factory.mktemp("seg")
    files = PacketFiles(directory, max_segment_bytes=limit)
    placed: list[tuple[bytes, tuple[int, int]]] = []
    for group in groups:
        places = files.append(group)
        files.sync()
        placed.extend(zip(group, places, strict=True))
    for blob, (segment, position) in placed:
        assert files.read(segment, position, len(blob)) == blob
    files.close()
    largest = max((len(b"".join(g)) for g in groups), default=0)
    for segment_file in directory.glob("*.seg"):  # over the limit only by one append
        assert segment_file.stat().st_size <= max(limit, largest)
    reopened = PacketFiles(directory, max_segment_bytes=limit)
    for blob, (segment, position) in placed:
        assert reopened.read(segment, position, len(blob)) == blob
    reopened.close()


def test_segments_roll_over_at_their_limit(tmp_path: Path) -> None:
    files = PacketFiles(tmp_path / "p", max_segment_bytes=10)
    assert files.append([b"12345", b"678"]) == [(1, 0), (1, 5)]
    assert files.append([b"abc"]) == [(2, 0)]  # 8 + 3 > 10: a new segment
    assert files.append([b"x" * 50]) == [(3, 0)]  # larger than a segment: one of its own
    assert files.append([b"y"]) == [(4, 0)]
    files.sync()
    files.close()
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == ["00000001.seg", "00000002.seg", "00000003.seg", "00000004.seg"]
    assert stat.S_IMODE((tmp_path / "p").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "p" / "00000001.seg").stat().st_mode) == 0o600
    # a new writer goes on in the last segment
    again = PacketFiles(tmp_path / "p", max_segment_bytes=10)
    assert again.append([b"z"]) == [(4, 1)]
    again.close()


def test_a_torn_tail_from_a_crash_is_skipped(tmp_path: Path) -> None:
    files = PacketFiles(tmp_path)
    assert files.append([b"committed"]) == [(1, 0)]
    files.sync()
    files.close()
    with open(tmp_path / "00000001.seg", "ab") as f:  # appended, never committed
        f.write(b"half a pack")
    files = PacketFiles(tmp_path)
    assert files.append([b"next"]) == [(1, 20)]
    assert files.read(1, 0, 9) == b"committed"
    assert files.read(1, 20, 4) == b"next"
    files.close()


def test_bytes_that_are_not_there_are_a_store_error(tmp_path: Path) -> None:
    files = PacketFiles(tmp_path)
    files.append([b"short"])
    files.sync()
    for segment, position, length in ((1, 0, 6), (1, 3, 5), (2, 0, 1)):
        with pytest.raises(StoreError) as info:
            files.read(segment, position, length)
        assert info.value.code == "store.packet-missing"
    files.close()


def test_large_appends_are_written_whole(tmp_path: Path) -> None:
    files = PacketFiles(tmp_path)
    blobs = [os.urandom(3 << 20) for _ in range(4)]  # 12 MiB in one writev
    places = files.append(blobs)
    files.sync()
    assert [files.read(s, p, len(b)) for b, (s, p) in zip(blobs, places, strict=True)] == blobs
    files.close()


def _resident_pages(path: Path) -> int:
    """How many pages of ``path`` are in the page cache (mmap(2) + mincore(2), as
    fincore(1) counts them; mapping a file reads none of it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int]
    libc.mmap.argtypes += [ctypes.c_int, ctypes.c_long]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert address not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
        try:
            vector = (ctypes.c_ubyte * pages)()
            assert libc.mincore(address, size, vector) == 0, os.strerror(ctypes.get_errno())
            return sum(v & 1 for v in vector)
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mincore/fadvise: Linux")
def test_durable_bytes_leave_the_page_cache(tmp_path: Path) -> None:
    # Appending takes fresh page-cache pages; once synced they are given back at once so
    # that the next append reuses warm pages (ADR 0016 addendum). Reads still work.
    files = PacketFiles(tmp_path)
    blobs = [os.urandom(100_000) for _ in range(8)]
    places = files.append(blobs)
    segment = tmp_path / "00000001.seg"
    assert _resident_pages(segment) >= 190  # written, dirty, cached: ~196 pages
    files.sync()
    assert _resident_pages(segment) <= 1  # at most the partly filled last page
    more = files.append([b"tail" * 5000])
    files.sync()
    assert _resident_pages(segment) <= 1
    got = [files.read(s, p, len(b)) for b, (s, p) in zip(blobs, places, strict=True)]
    assert got == blobs
    assert files.read(*more[0], 20_000) == b"tail" * 5000
    files.close()
