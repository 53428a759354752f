"""Test helper (not a test file): read captured VXP requests and replay them byte for byte.

``../shared/samples/vxp-wire/`` holds raw HTTP requests of the vendor's Java SDK. Use
:func:`parse_request` / :func:`load_capture` to get (method, target, headers, body), and
:func:`replay` to send the exact bytes to a server on loopback over a plain TCP socket
(``asyncio.open_connection``) and read its HTTP/1.1 answer. ``Expect: 100-continue`` is
honoured: the head goes first, then the body once ``100 Continue`` arrives or after a short
wait; a final answer that comes before the body (e.g. a refusal) is returned as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

CAPTURE_SECRET = "test-secret-Lam-Dong-H36"
CAPTURE_SYSTEMID = "vxp.h36.test"


@dataclass(frozen=True)
class WireRequest:
    """One raw HTTP request: request line parts, headers in wire order, body, raw bytes."""

    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def call(self) -> str:
        """The VXP call name: the last path segment (``/vxp/getEdoc`` -> ``getEdoc``)."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def header(self, name: str) -> str | None:
        """The first value of ``name``, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def with_target(self, target: str) -> bytes:
        """The raw bytes with only the request line's target replaced."""
        head, sep, rest = self.raw.partition(b"\r\n")
        method, _, version = head.decode("latin-1").split(" ")
        return f"{method} {target} {version}".encode("latin-1") + sep + rest


def parse_request(raw: bytes) -> WireRequest:
    """Split a raw request. Header values are decoded as UTF-8 with ``surrogateescape``
    (as aiohttp does), so ``value.encode("utf-8", "surrogateescape")`` gives the bytes back.
    The body is everything after the blank line (the captures' Content-Length matches)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no blank line ends the request head")
    lines = head.split(b"\r\n")
    method, target, version = lines[0].decode("ascii").split(" ")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ValueError(f"header line without a colon: {line[:40]!r}")
        headers.append(
            (name.decode("ascii"), value.strip(b" \t").decode("utf-8", "surrogateescape"))
        )
    return WireRequest(method, target, version, headers, body, raw)


def load_capture(path: Path) -> WireRequest:
    return parse_request(path.read_bytes())


def capture_paths(shared_dir: Path) -> list[Path]:
    """Every captured request: the five single calls, then the four of ``session/``."""
    root = shared_dir / "samples" / "vxp-wire"
    return sorted(root.glob("*.http")) + sorted((root / "session").glob("*.http"))


@dataclass(frozen=True)
class WireResponse:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    interim: tuple[int, ...] = ()  # statuses of 1xx answers seen before the final one

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, list[tuple[str, str]]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    _version, status, *reason = lines[0].decode("latin-1").split(" ", 2)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.decode("latin-1"), value.strip().decode("utf-8", "replace")))
    return int(status), (reason[0] if reason else ""), headers


async def _read_body(
    reader: asyncio.StreamReader, headers: list[tuple[str, str]], status: int, method: str
) -> bytes:
    if method == "HEAD" or status in (204, 304):
        return b""
    lookup = {k.lower(): v for k, v in headers}
    if "chunked" in lookup.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if "content-length" in lookup:
        return await reader.readexactly(int(lookup["content-length"]))
    return await reader.read()


async def replay(
    raw: bytes | WireRequest,
    host: str,
    port: int,
    *,
    continue_wait: float = 1.0,
    timeout: float = 30.0,
) -> WireResponse:
    """Send ``raw`` exactly as it is to ``host:port`` and read one HTTP answer.

    With ``Expect: 100-continue`` the head is sent alone; the body follows when the
    server says ``100 Continue`` or when ``continue_wait`` seconds pass in silence. A
    final answer arriving first is returned without sending the body. The connection is
    closed afterwards (the captures ask for keep-alive; the answer is read by its length).
    """
    req = raw if isinstance(raw, WireRequest) else parse_request(raw)
    data = req.raw
    head_end = data.index(b"\r\n\r\n") + 4
    head, body = data[:head_end], data[head_end:]
    expects = (req.header("Expect") or "").lower() == "100-continue"

    async def exchange() -> WireResponse:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            interim: list[int] = []
            early: tuple[int, str, list[tuple[str, str]]] | None = None
            if expects and body:
                writer.write(head)
                await writer.drain()
                try:
                    first = await asyncio.wait_for(_read_head(reader), continue_wait)
                except TimeoutError:
                    first = None
                if first is not None and first[0] == 100:
                    interim.append(100)
                elif first is not None:
                    early = first
                if early is None:
                    writer.write(body)
                    await writer.drain()
            else:
                writer.write(data)
                await writer.drain()
            if early is None:
                status, reason, headers = await _read_head(reader)
                while 100 <= status < 200:
                    interim.append(status)
                    status, reason, headers = await _read_head(reader)
            else:
                status, reason, headers = early
            payload = await _read_body(reader, headers, status, req.method)
            return WireResponse(status, reason, headers, payload, tuple(interim))
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    return await asyncio.wait_for(exchange(), timeout)
