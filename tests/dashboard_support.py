"""What the dashboard tests share: a deployment whose push agency fails until told to
recover, a user made by ``axis admin add-user`` (the real CLI, in a subprocess), and
independent counts read straight from the SQLite file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from axis.devsetup import DevDeployment
from axis.store.models import VN_TZ

ROOT = Path(__file__).resolve().parent.parent

#: fast retries so that a failing push becomes a dead letter in about a second
FAST_DELIVERY = {
    "sweep_interval": 0.2,
    "max_attempts": 2,
    "base_delay": 0.1,
    "max_delay": 0.2,
    "breaker_failures": 50,
    "breaker_cooldown": 0.5,
    "push_timeout": 5.0,
}


@dataclass
class Receiver:
    """An agency's push endpoint on loopback: answers 503 while ``failing``."""

    failing: bool = True
    taken: list[str] = field(default_factory=list)  # X-Axis-Delivery-Id of 2xx answers
    refused: int = 0
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        if self.failing:
            self.refused += 1
            return web.Response(status=503, text="maintenance")
        self.taken.append(request.headers.get("X-Axis-Delivery-Id", ""))
        return web.Response(status=200, text="ok")


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    app = web.Application()
    app.router.add_post("/inbox", r.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    r.url = f"http://127.0.0.1:{port}/inbox"
    try:
        yield r
    finally:
        await runner.cleanup()


def axis_cli(dep: DevDeployment, *args: str) -> str:
    """Run the real ``axis`` command against the deployment; returns its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "axis", *args, "--config", str(dep.config_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def add_user(dep: DevDeployment, name: str, role: str) -> str:
    """``axis admin add-user NAME --role ROLE`` -> the one-time password it printed."""
    out = axis_cli(dep, "admin", "add-user", name, "--role", role, "--json")
    data: dict[str, Any] = json.loads(out)
    assert data["name"] == name and data["role"] == role
    return str(data["password"])


async def add_user_while_serving(dep: DevDeployment, name: str, role: str) -> str:
    """:func:`add_user` from a test whose event loop also runs the daemon: the CLI runs
    in a thread so that the loop keeps serving. Run on the loop itself, it would stop
    the daemon mid-transaction (say, the delivery engine's claim), and the CLI would
    wait out SQLite's busy timeout for the write lock that transaction holds."""
    return await asyncio.to_thread(add_user, dep, name, role)


def db_path(dep: DevDeployment) -> Path:
    url = dep.config.database.url
    assert url.startswith("sqlite+aiosqlite:///")
    return Path(url.removeprefix("sqlite+aiosqlite:///"))


def sql(dep: DevDeployment, query: str, *params: Any) -> Any:
    """One value straight from the database file (independent of the store's code)."""
    with sqlite3.connect(db_path(dep)) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def today_bounds_utc() -> tuple[str, str]:
    """The current reporting day (UTC+7) as UTC text bounds, as SQLite stores times."""
    now = datetime.now(UTC).astimezone(VN_TZ)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    end = start + timedelta(days=1)
    fmt = "%Y-%m-%d %H:%M:%S"
    return start.strftime(fmt), end.strftime(fmt)


async def wait_for(predicate: Any, *, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate()`` (sync) until true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
