"""A lean HTTP/1.1 client for load generation: keep-alive connections on asyncio
streams, requests written as prepared bytes, answers read by their Content-Length.

The load generator shares the benchmark machine's two cores with the daemon, so every
millisecond it spends is taken from what is measured. aiohttp's client costs about
1.5 ms of CPU per 100 KB POST here (its request building, response object, cookie
jar, connector and timeouts); this client does the same exchange on the wire, for a
fraction. It is a real HTTP/1.1 client (the daemon cannot tell), but a small one: no
redirects, no proxies, no TLS, no compression, no cookies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Answer", "Connection", "ConnectionPool"]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lowercased (the last of repeated ones)
    body: bytes


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20
            )
        return self._reader, self._writer

    async def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Answer:
        reader, writer = await self._open()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head.extend(f"{k}: {v}" for k, v in headers.items())
        head.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if body:
            writer.write(body)
        try:
            answer = await self._read_answer(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        if answer.headers.get("connection", "").lower() == "close":
            await self.close()
        return answer

    @staticmethod
    async def _read_answer(reader: asyncio.StreamReader) -> Answer:
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        else:  # the body runs to the end of the connection
            body = await reader.read()
            headers["connection"] = "close"
        return Answer(status, headers, body)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class ConnectionPool:
    """At most ``size`` connections; a request waits for a free one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        self._all = [Connection(host, port) for _ in range(size)]
        for c in self._all:
            self._free.put_nowait(c)

    async def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Answer:
        conn = await self._free.get()
        try:
            return await conn.request(method, path, headers, body)
        finally:
            self._free.put_nowait(conn)

    async def close(self) -> None:
        for c in self._all:
            await c.close()
