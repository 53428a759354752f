"""Stand-ins for agencies' push endpoints: real aiohttp servers on loopback that verify
the axis's signature, count what they acknowledged by X-Axis-Delivery-Id, and fail,
time out, hold or come back on command."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from adapters.webhook import verify_signature


@dataclass
class Receiver:
    """An agency's endpoint. ``script`` behaviours are used one per request, then
    ``default``: ``ok`` (204), ``500``, ``400``, ``slow`` (never answers), ``hold``
    (answers 204 once ``gate`` is set)."""

    secret: str
    default: str = "ok"
    script: list[str] = field(default_factory=list)
    url: str = ""
    requests: int = 0
    acked: Counter[str] = field(default_factory=Counter)  # 2xx answers by delivery id
    bodies: dict[str, bytes] = field(default_factory=dict)
    bad_signatures: int = 0
    active: int = 0
    max_active: int = 0
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            h = request.headers
            self.headers.append(dict(h))
            # the receiver's recipe from adapters.webhook, written out independently
            message = f"{h['X-Axis-Timestamp']}.{h['X-Axis-Delivery-Id']}."
            message += hashlib.sha256(body).hexdigest()
            expected = (
                "sha256="
                + hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
            )
            fresh = verify_signature(self.secret, h, body, now=time.time())
            if not hmac.compare_digest(expected, h["X-Axis-Signature"]) or not fresh:
                self.bad_signatures += 1
                return web.Response(status=401)
            assert h["Content-Type"].startswith("application/xml")
            behaviour = self.script.pop(0) if self.script else self.default
            if behaviour == "500":
                return web.Response(status=500, text="database down")
            if behaviour == "400":
                return web.Response(status=400, text="not an edXML packet we take")
            if behaviour == "slow":
                await asyncio.sleep(3600)
            if behaviour == "hold":
                await self.gate.wait()
            delivery_id = h["X-Axis-Delivery-Id"]
            self.acked[delivery_id] += 1
            self.bodies[delivery_id] = body
            return web.Response(status=204)
        finally:
            self.active -= 1


@asynccontextmanager
async def receiver(secret: str, **kw: object) -> AsyncIterator[Receiver]:
    r = Receiver(secret, **kw)  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_post("/axis/inbox", r.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.2, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    r.url = f"http://127.0.0.1:{port}/axis/inbox"
    try:
        yield r
    finally:
        r.gate.set()
        await runner.cleanup()


async def until(
    condition: Callable[[], Awaitable[bool]], what: str, *, limit: float = 30.0
) -> None:
    """Wait for a condition with a bounded poll loop (no timing assertion: the bound only
    turns a hang into a clear failure)."""
    deadline = time.monotonic() + limit
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for: {what}")
        await asyncio.sleep(0.02)
