"""Random bytes served from a block: never the same bytes twice, not even across fork."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis.randomness import BLOCK, random_bytes


@given(st.lists(st.integers(1, 64), min_size=1, max_size=200))
def test_each_call_gets_its_length_and_fresh_bytes(sizes: list[int]) -> None:
    got = [random_bytes(n) for n in sizes]
    assert [len(b) for b in got] == sizes
    # 16-byte prefixes of fresh CSPRNG output never collide in practice; a block served
    # twice (or a position not advanced) would repeat them
    long = [b for b in got if len(b) >= 16]
    assert len({b[:16] for b in long}) == len(long)


def test_sizes_outside_the_block_are_refused() -> None:
    for n in (0, -1, BLOCK + 1):
        with pytest.raises(ValueError):
            random_bytes(n)


def test_a_forked_child_does_not_serve_the_parents_block() -> None:
    random_bytes(16)  # the parent has a block in use
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, random_bytes(32))
        os._exit(0)
    os.close(write)
    child = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != random_bytes(32)  # what the parent serves next
