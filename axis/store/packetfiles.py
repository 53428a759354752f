"""Original packet bytes in append-only segment files beside an SQLite database.

SQLite writes a blob twice (into the WAL, then into the database at checkpoint) and in
page-sized pieces: two ``pwrite`` calls per 4 KiB page, then a ``pread`` and a
``pwrite`` per page again. For a 100 KB packet that was most of the group commit's CPU
(ADR 0016). Here the bytes of a whole group commit are appended to one file with one
``writev`` and made durable with one ``fdatasync``, **before** the transaction that
records where they are commits; the ``packets`` row then holds (segment, position,
length) and an empty ``data``.

- A crash after the append and before the COMMIT leaves bytes no row points at: dead
  space, never read. A crash before the ``fdatasync`` returns loses nothing committed.
- Appends happen under SQLite's write lock (``BEGIN IMMEDIATE``), so writers in several
  processes never interleave; positions come from the file's size under that lock.
- Segments are ``NNNNNNNN.seg`` in ``<database>-packets/``, at most
  ``max_segment_bytes`` each (a packet larger than that gets a segment of its own);
  files and the directory are created 0700/0600. Nothing is ever rewritten in place.
- Whoever backs up the database copies this directory with it (README).

PostgreSQL keeps the bytes in ``packets.data`` (several nodes share that database).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from axis_errors import StoreError

__all__ = ["PacketFiles", "packet_dir"]

_SUFFIX: Final = ".seg"
_FADVISE: Final = hasattr(os, "posix_fadvise")  # not on macOS


def packet_dir(database: Path) -> Path:
    """Where the segments of the SQLite database ``database`` live."""
    return database.with_name(database.name + "-packets")


class PacketFiles:
    """Appends packet bytes to segment files and reads them back."""

    def __init__(self, directory: Path, *, max_segment_bytes: int = 1 << 30) -> None:
        self.directory = directory
        self.max_segment_bytes = max_segment_bytes
        self._lock = threading.Lock()
        self._append_fd: int | None = None
        self._append_segment = 0
        # where the bytes appended since the last sync start and end in the append
        # segment (None: nothing appended since)
        self._unsynced: tuple[int, int] | None = None
        self._new_file = False  # a segment was created since the last sync
        self._read_fds: dict[int, int] = {}

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:08d}{_SUFFIX}"

    def _last_segment(self) -> int:
        numbers = [int(p.stem) for p in self.directory.glob("*" + _SUFFIX) if p.stem.isdigit()]
        return max(numbers, default=0)

    def _open_for_append(self, segment: int) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        path = self._path(segment)
        self._new_file = self._new_file or not path.exists()
        return os.open(path, flags, 0o600)

    def append(self, blobs: Sequence[bytes]) -> list[tuple[int, int]]:
        """Append each blob; (segment, position) of each, in order. Call under the
        database's write lock, then :meth:`sync` before the COMMIT."""
        if not blobs:
            return []
        with self._lock:
            if self._append_fd is None:
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                self._append_segment = max(1, self._last_segment())
                self._append_fd = self._open_for_append(self._append_segment)
            fd = self._append_fd
            start = os.fstat(fd).st_size
            total = sum(len(b) for b in blobs)
            if start > 0 and start + total > self.max_segment_bytes:
                os.fdatasync(fd)  # what this transaction appended there already
                self._release(fd)
                os.close(fd)
                self._append_segment += 1
                fd = self._append_fd = self._open_for_append(self._append_segment)
                start = os.fstat(fd).st_size
            _write_all(fd, blobs, total)
            first = self._unsynced[0] if self._unsynced is not None else start
            self._unsynced = (first, start + total)
            out = []
            position = start
            for blob in blobs:
                out.append((self._append_segment, position))
                position += len(blob)
            return out

    def sync(self) -> None:
        """Make every append so far durable (``fdatasync``; the directory's entry too
        when a segment was created)."""
        with self._lock:
            if self._unsynced is not None and self._append_fd is not None:
                os.fdatasync(self._append_fd)
                self._release(self._append_fd)
            self._unsynced = None
            if self._new_file:
                dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
                self._new_file = False

    def _release(self, fd: int) -> None:
        """Drop the page cache of the bytes just made durable (the unsynced range, which
        is then forgotten): they are clean now and are read, if ever, when a recipient
        fetches.

        Appending into a growing file takes a fresh page-cache page for every 4 KiB; on
        a virtual machine whose host takes free guest memory back, touching such a page
        the first time cost ~10 µs here, ~0.15-0.25 ms of the writer's CPU for a 100 KB
        packet. Pages given back at once are the next ones taken, still warm: the
        append then cost ~20 µs (ADR 0016, addendum).
        """
        if self._unsynced is None:
            return
        first, end = self._unsynced
        self._unsynced = None
        if _FADVISE and end > first:
            os.posix_fadvise(fd, first, end - first, os.POSIX_FADV_DONTNEED)

    def read(self, segment: int, position: int, length: int) -> bytes:
        """The ``length`` bytes at ``position`` of ``segment``."""
        with self._lock:
            fd = self._read_fds.get(segment)
            if fd is None:
                try:
                    fd = os.open(self._path(segment), os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    raise _missing(segment, position) from None
                self._read_fds[segment] = fd
        data = os.pread(fd, length, position)
        if len(data) != length:
            raise _missing(segment, position)
        return data

    def close(self) -> None:
        with self._lock:
            fds = set(self._read_fds.values())
            if self._append_fd is not None:
                fds.add(self._append_fd)
            for fd in fds:
                os.close(fd)
            self._read_fds.clear()
            self._unsynced = None
            self._append_fd = None


def _write_all(fd: int, blobs: Sequence[bytes], total: int) -> None:
    views = [memoryview(b) for b in blobs]
    written = os.writev(fd, views)
    while written < total:  # a short write: go on from where it stopped
        rest: list[memoryview] = []
        skip = written
        for v in views:
            if skip >= len(v):
                skip -= len(v)
                continue
            rest.append(v[skip:])
            skip = 0
        views, total = rest, total - written
        written = os.writev(fd, views)


def _missing(segment: int, position: int) -> StoreError:
    return StoreError(
        f"The stored bytes of a packet are missing (segment {segment}, position {position}): "
        "the packet files were not copied with the database?",
        code="store.packet-missing",
    )
