"""A pool of worker processes driven by the event loop itself.

:class:`concurrent.futures.ProcessPoolExecutor` moves each call through a manager
thread, a queue feeder thread and a result pipe that the manager thread reads, so every
call wakes three threads of the daemon, each of which must take the GIL back on a
machine whose cores the workers keep busy. Intake makes one such call per packet, and
those hand-offs cost the daemon more CPU than the packet's own parsing did.

Here each worker is joined to the daemon by one Unix socket pair: the event loop writes
a call as a length-prefixed pickle frame, the worker answers in kind, and the loop reads
the answers in ``data_received`` like any other connection. No thread of the daemon
takes part. Calls are pipelined: a worker may have several calls queued in its socket
and answers them in order; a call goes to the live worker with the fewest calls
outstanding.

- Workers start with ``forkserver`` (never ``fork``: the daemon has threads and an
  event loop) and run ``initializer(*initargs)`` once.
- A worker exits when its socket closes: when the daemon is killed (SIGKILL included)
  the kernel closes the daemon's end, so no worker outlives it.
- A worker that dies (a crash in a C library, the OOM killer) fails the calls it held
  with :class:`~axis_errors.WorkerError` (nothing of theirs was stored) and is replaced.
- A call's exception is raised again in the daemon (pickled); one that cannot be
  pickled becomes a :class:`~axis_errors.WorkerError` naming it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import multiprocessing
import os
import pickle
import socket
import struct
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, Final, TypeVar, cast

from axis_errors import WorkerError

__all__ = ["ProcessPool"]

T = TypeVar("T")
log = logging.getLogger("axis.procpool")

_HEADER: Final = struct.Struct("!Q")  # the frame's length in bytes

#: Send/receive buffer asked for each worker's socket (the kernel caps it at
#: net.core.wmem_max / rmem_max, 4 MiB here). With the default (~200 KiB) a pipelined
#: 100 KB packet was often written in pieces: the loop waited for the socket to drain,
#: the worker woke for each piece, and the worker ran dry between them. With room for
#: dozens of packets: one write, one read, and the workers' next call already queued
#: (interleaved bench runs: 553-566 -> 691-723 packets/s, ADR 0014 addendum).
SOCKET_BUFFER: Final = 4 << 20


def _widen(sock: socket.socket) -> None:
    for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
        with contextlib.suppress(OSError):  # a platform that refuses keeps its default
            sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)


def _frame(obj: object) -> memoryview:
    """``obj`` pickled behind its length, in one buffer written once: a packet's 100 KB
    is copied into it and nowhere else (copying it twice more into fresh buffers cost
    ~90 µs a call, mostly page faults)."""
    buf = io.BytesIO()
    buf.write(bytes(_HEADER.size))
    # multiprocessing's pickler: it knows the reducers registered for cryptography's
    # objects (axis.analysis) as for process arguments
    ForkingPickler(buf, pickle.HIGHEST_PROTOCOL).dump(obj)
    view = buf.getbuffer()
    _HEADER.pack_into(view, 0, len(view) - _HEADER.size)
    return view


# ---------------------------------------------------------------------- worker side


def _read_exact(sock: socket.socket, n: int) -> bytearray | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            return None
        got += k
    return buf


def _answer(call_id: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> memoryview:
    try:
        result = fn(*args)
    except BaseException as exc:
        try:
            return _frame((call_id, False, exc))
        except Exception:
            return _frame((call_id, False, WorkerError(f"{type(exc).__name__}: {exc}"[:500])))
    try:
        return _frame((call_id, True, result))
    except Exception as exc:
        message = f"The worker's answer could not be sent back ({type(exc).__name__})."
        return _frame((call_id, False, WorkerError(message)))


def _serve(
    sock: socket.socket, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]
) -> None:
    """A worker's life: answer frames until the daemon's end of the socket closes."""
    if initializer is not None:
        initializer(*initargs)
    sock.setblocking(True)
    while True:
        header = _read_exact(sock, _HEADER.size)
        if header is None:
            break
        (size,) = _HEADER.unpack(header)
        payload = _read_exact(sock, size)
        if payload is None:
            break
        call_id, fn, args = pickle.loads(payload)  # noqa: S301 - our own daemon wrote it
        try:
            sock.sendall(_answer(call_id, fn, args))
        except OSError:
            break
    os._exit(0)  # the daemon is gone: skip atexit hooks (they may wait on it)


def _pid() -> int:
    return os.getpid()


# ---------------------------------------------------------------------- daemon side


class _Link(asyncio.Protocol):
    """The daemon's end of one worker's socket."""

    def __init__(self, pool: ProcessPool) -> None:
        self.pool = pool
        self.transport: asyncio.WriteTransport | None = None
        self.buffer = bytearray()
        self.waiting: deque[tuple[int, asyncio.Future[Any]]] = deque()
        self.process: BaseProcess | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.WriteTransport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        while len(buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buf)
            end = _HEADER.size + size
            if len(buf) < end:
                break
            call_id, ok, value = pickle.loads(memoryview(buf)[_HEADER.size : end])  # noqa: S301
            del buf[:end]
            self._resolve(call_id, ok, value)

    def _resolve(self, call_id: int, ok: bool, value: Any) -> None:
        # answers come in the order the calls were written
        while self.waiting:
            want, future = self.waiting.popleft()
            if want != call_id:  # pragma: no cover - a worker answers every call in order
                if not future.done():
                    future.set_exception(WorkerError("A worker answered out of order."))
                continue
            if not future.done():  # a cancelled caller's answer is dropped
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
            return

    def call(self, call_id: int, frame: memoryview) -> asyncio.Future[Any]:
        assert self.transport is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.waiting.append((call_id, future))
        self.transport.write(frame)
        return future

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        pending = list(self.waiting)
        self.waiting.clear()
        for _, future in pending:
            if not future.done():
                future.set_exception(
                    WorkerError(
                        "A worker process ended while handling this request; nothing of "
                        "it was stored. Send it again.",
                        code="internal.worker-died",
                    )
                )
        self.pool._lost(self)


class ProcessPool:
    """``size`` worker processes (``forkserver``), each running ``initializer(*initargs)``
    once, answering :meth:`call` with module-level functions (pickled by name)."""

    def __init__(
        self,
        size: int,
        *,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        preload: Sequence[str] = (),
    ) -> None:
        if size < 1:
            raise ValueError("a process pool needs at least one worker")
        self.size = size
        self._initializer = initializer
        self._initargs = initargs
        self._ctx = multiprocessing.get_context("forkserver")
        if preload:
            self._ctx.set_forkserver_preload(list(preload))
        self._links: list[_Link] = []
        self._ids = 0
        self._closing = False
        self._respawns: set[asyncio.Task[None]] = set()

    async def start(self) -> set[int]:
        """Start the workers (the first start also starts the forkserver) and return
        the process ids that answered."""
        while len(self._links) < self.size:
            await self._spawn()
        return set(await asyncio.gather(*(self._call_on(link, _pid, ()) for link in self._links)))

    async def _spawn(self) -> _Link:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        _widen(ours)
        _widen(theirs)
        try:
            process = self._ctx.Process(
                target=_serve,
                args=(theirs, self._initializer, self._initargs),
                name="axis-worker",
                daemon=True,
            )
            await asyncio.to_thread(process.start)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        loop = asyncio.get_running_loop()
        _, link = await loop.create_unix_connection(lambda: _Link(self), sock=ours)
        link.process = process
        self._links.append(link)
        return link

    def _lost(self, link: _Link) -> None:
        if link in self._links:
            self._links.remove(link)
        if link.process is not None:
            link.process.join(timeout=0)  # reap it if it has exited
        if self._closing:
            return
        log.error(
            "analysis worker %s ended (exit code %s); starting another",
            link.process.pid if link.process else "?",
            link.process.exitcode if link.process else "?",
        )
        task = asyncio.get_running_loop().create_task(self._respawn())
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def _respawn(self) -> None:
        try:
            if not self._closing and len(self._links) < self.size:
                await self._spawn()
        except Exception:
            log.exception("could not start a replacement analysis worker")

    def _call_on(self, link: _Link, fn: Callable[..., T], args: tuple[Any, ...]) -> Any:
        self._ids += 1
        return link.call(self._ids, _frame((self._ids, fn, args)))

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the least busy worker (``fn`` must be module-level)."""
        live = [link for link in self._links if not link.closed]
        if not live:
            if self._closing:
                raise WorkerError("The axis is shutting down.", code="internal.shutting-down")
            await self._spawn()
            live = [link for link in self._links if not link.closed]
        link = min(live, key=lambda item: len(item.waiting))
        return cast(T, await self._call_on(link, fn, args))

    @property
    def pids(self) -> list[int]:
        return [link.process.pid for link in self._links if link.process and link.process.pid]

    async def aclose(self, timeout: float = 10.0) -> None:
        """Close the sockets (each worker then exits) and wait for the processes."""
        self._closing = True
        for task in list(self._respawns):
            task.cancel()
        links, self._links = self._links, []
        for link in links:
            if link.transport is not None:
                link.transport.close()
        await asyncio.to_thread(self._join, links, timeout)

    @staticmethod
    def _join(links: list[_Link], timeout: float) -> None:
        for link in links:
            if link.process is None:
                continue
            link.process.join(timeout)
            if link.process.is_alive():  # pragma: no cover - a worker stuck in a call
                link.process.terminate()
                link.process.join(1.0)
