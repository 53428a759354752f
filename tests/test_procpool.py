"""The event-loop-driven process pool (axis.procpool): real worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from axis.procpool import SOCKET_BUFFER, ProcessPool
from axis_errors import PacketError, WorkerError


def echo(value: bytes, delay: float = 0.0) -> tuple[int, bytes]:
    if delay:
        time.sleep(delay)
    return os.getpid(), value


def refuse(code: str) -> None:
    raise PacketError("refused in a worker", code=code, details={"n": 1})


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("no")


def raise_unpicklable() -> None:
    raise _Unpicklable("local state")


async def test_calls_are_answered_in_workers_each_with_its_own_result() -> None:
    pool = ProcessPool(2)
    try:
        pids = await pool.start()
        assert len(pids) == 2 and os.getpid() not in pids
        bodies = [os.urandom(n) for n in (0, 1, 70_000, 300_000)] * 8
        answers = await asyncio.gather(*(pool.call(echo, b) for b in bodies))
        assert [value for _, value in answers] == bodies
        assert {pid for pid, _ in answers} == pids  # both took work
    finally:
        await pool.aclose()


def buffers() -> tuple[int, int]:
    """This worker's socket to its daemon: (send, receive) buffer sizes."""
    import gc

    socks = [o for o in gc.get_objects() if isinstance(o, socket.socket) and o.fileno() >= 0]
    (sock,) = [s for s in socks if s.family == socket.AF_UNIX]
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
    )


@pytest.mark.skipif(not os.path.exists("/proc/sys/net/core/wmem_max"), reason="Linux sysctls")
async def test_worker_sockets_hold_many_packets() -> None:
    # room for dozens of pipelined 100 KB calls, as far as the kernel allows
    sysctls = Path("/proc/sys/net/core")
    ceiling = min(int((sysctls / name).read_text()) for name in ("wmem_max", "rmem_max"))
    want = min(SOCKET_BUFFER, ceiling)
    assert want >= 1 << 20, "this machine's socket buffer ceiling is below 1 MiB"
    pool = ProcessPool(1)
    try:
        await pool.start()
        (link,) = pool._links
        assert link.transport is not None
        ours = link.transport.get_extra_info("socket")
        assert ours.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= want
        assert ours.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) >= want
        send, receive = await pool.call(buffers)
        assert send >= want and receive >= want
    finally:
        await pool.aclose()


async def test_an_error_comes_back_with_its_class_code_and_details() -> None:
    pool = ProcessPool(1)
    try:
        with pytest.raises(PacketError) as exc:
            await pool.call(refuse, "packet.custom")
        assert exc.value.code == "packet.custom" and exc.value.details == {"n": 1}
        with pytest.raises(WorkerError) as unpicklable:
            await pool.call(raise_unpicklable)
        assert "_Unpicklable" in unpicklable.value.message
        # the worker goes on answering
        assert (await pool.call(echo, b"after"))[1] == b"after"
    finally:
        await pool.aclose()


async def test_a_dead_worker_fails_its_calls_and_is_replaced() -> None:
    pool = ProcessPool(1)
    try:
        (first,) = await pool.start()
        slow = asyncio.ensure_future(pool.call(echo, b"queued", 0.3))
        await asyncio.sleep(0.05)
        dying = asyncio.ensure_future(pool.call(die))
        await asyncio.sleep(0)
        behind = asyncio.ensure_future(pool.call(echo, b"behind it"))
        # the call written before the crash is answered; the crash and the call
        # queued behind it fail with the worker's death
        assert (await slow)[1] == b"queued"
        with pytest.raises(WorkerError) as exc:
            await dying
        assert exc.value.code == "internal.worker-died" and exc.value.http_status == 503
        with pytest.raises(WorkerError):
            await behind
        for _ in range(100):  # a replacement starts
            if pool.pids and pool.pids != [first]:
                break
            await asyncio.sleep(0.05)
        pid, value = await pool.call(echo, b"again")
        assert value == b"again" and pid != first
    finally:
        await pool.aclose()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return "Z" not in f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False


async def test_closing_ends_the_workers() -> None:
    pool = ProcessPool(2)
    pids = await pool.start()
    await pool.aclose()
    for pid in pids:
        assert not _running(pid)
    with pytest.raises(WorkerError):
        await pool.call(echo, b"late")
