"""The operating system's random bytes, read a block at a time.

Intake makes two random ids for every request (the request id and the document's
ULID). ``os.urandom`` for each is a ``getrandom`` system call, and a call that lets go
of the GIL: on the event loop's thread, while the group commit's thread waits for it,
each such call hands the GIL over and back. :func:`random_bytes` serves the same
bytes (the kernel's CSPRNG) from a block read once per 4 KiB. A forked child starts
with an empty block, so no two processes ever serve the same bytes.
"""

from __future__ import annotations

import os
import threading
from typing import Final

__all__ = ["random_bytes"]

#: bytes read from the kernel at a time
BLOCK: Final = 4096


class _Pool:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start empty, with a new lock (also in a forked child)."""
        self.lock = threading.Lock()
        self.block = b""
        self.pos = 0


_pool = _Pool()
os.register_at_fork(after_in_child=_pool.reset)


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the kernel's CSPRNG, never served twice (``n`` <= 4096)."""
    if not 0 < n <= BLOCK:
        raise ValueError(f"random_bytes serves 1 to {BLOCK} bytes, not {n}")
    with _pool.lock:
        if _pool.pos + n > len(_pool.block):
            _pool.block = os.urandom(BLOCK)
            _pool.pos = 0
        start = _pool.pos
        _pool.pos = start + n
        return _pool.block[start : start + n]
