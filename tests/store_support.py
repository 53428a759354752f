"""Opening a fresh store on SQLite (a file) or PostgreSQL (a fresh schema) for tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import asyncpg

from axis.store import Store, open_store
from axis.store.models import utcnow

BACKENDS = ("sqlite", "postgresql")


async def drop_schema(pg_url: str, schema: str) -> None:
    conn = await asyncpg.connect(pg_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_store(
    backend: str,
    directory: Path,
    pg_url: str | None,
    *,
    key: bytes | None = None,
    now: Callable[[], datetime] = utcnow,
) -> AsyncIterator[Store]:
    """A new empty store; PostgreSQL gets its own schema, dropped afterwards."""
    key = key if key is not None else os.urandom(32)
    if backend == "sqlite":
        store = await open_store(
            f"sqlite+aiosqlite:///{directory / 'axis.db'}", secret_key=key, node="test", now=now
        )
        try:
            yield store
        finally:
            await store.close()
        return
    assert pg_url is not None
    schema = "t_" + secrets.token_hex(6)
    store = await open_store(pg_url, secret_key=key, schema=schema, node="test", now=now)
    try:
        yield store
    finally:
        await store.close()
        await drop_schema(pg_url, schema)
