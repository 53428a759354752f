"""Shared fixtures. Tests use real parts: files, certificates made by ``certs``,
real servers on loopback, real SQLite and the real PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# No timing assertions anywhere: hypothesis deadlines are off.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not present beside the project")
    return SHARED


@pytest.fixture(scope="session")
def samples_dir(shared_dir: Path) -> Path:
    return shared_dir / "samples" / "edxml"


def pg_url() -> str | None:
    """The PostgreSQL URL for tests. In CI it is required; elsewhere optional."""
    url = os.environ.get("AXIS_TEST_PG_URL")
    if url:
        return url
    if os.environ.get("CI"):
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = pg_url()
    if url is None:
        pytest.skip(
            "PostgreSQL tests skipped: set AXIS_TEST_PG_URL "
            "(CI sets it and runs them against 127.0.0.1:5432/test)"
        )
    return url


@contextlib.asynccontextmanager
async def fresh_pg_database(postgres_url: str) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database for one test (a whole daemon can use it); dropped
    afterwards. Yields its SQLAlchemy URL."""
    import asyncpg

    base = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    name = f"axis_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    head, _, _db = postgres_url.rpartition("/")
    yield f"{head}/{name}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
