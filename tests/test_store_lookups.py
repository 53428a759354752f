"""The directory lookups intake and authentication make on every request (agency, system
by token/id/certificate, certificates, VXP secret) always answer what the database
holds: a change committed by another process (here: another store on the same
database, or plain sqlite3) is seen by the very next lookup, even though SQLite answers
repeated lookups from memory; within one request (``request_scope``), from the next
request on, and the request's own writes at once."""

from __future__ import annotations

import asyncio
import contextvars
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from axis.directory import Agency
from axis.store import NewSystem, Store, open_store, request_scope
from tests.store_support import drop_schema, fresh_store

PROVINCE = "000.00.00.H36"
DISTRICT = "000.31.00.H36"
COMMUNE = "000.01.31.H36"
KEY = os.urandom(32)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two stores on one database: the daemon's and, say, ``axis agencies``'s."""
    if request.param == "sqlite":
        url, schema = f"sqlite+aiosqlite:///{tmp_path / 'axis.db'}", None
    else:
        url, schema = request.getfixturevalue("postgres_url"), "t_" + secrets.token_hex(6)
    first = await open_store(url, secret_key=KEY, schema=schema, node="daemon")
    second = await open_store(url, secret_key=KEY, schema=schema, node="cli")
    try:
        yield first, second
    finally:
        await second.close()
        await first.close()
        if schema is not None:
            await drop_schema(url, schema)


async def test_another_writer_is_seen_by_the_next_lookup(stores: tuple[Store, Store]) -> None:
    daemon, cli = stores
    await cli.upsert_agencies(
        [
            Agency(PROVINCE, "UBND tỉnh", "province"),
            Agency(DISTRICT, "UBND huyện Đức Trọng", "district", PROVINCE),
            Agency(COMMUNE, "UBND xã Đức Trọng", "commune", DISTRICT),
        ]
    )
    for _ in range(3):  # asked again and again: answered from memory on SQLite
        district = await daemon.get_agency(DISTRICT)
        assert district is not None and district.status == "active"
    await cli.upsert_agency(
        Agency(
            DISTRICT,
            "UBND huyện Đức Trọng",
            "district",
            PROVINCE,
            status="closed",
            successor=COMMUNE,
        )
    )
    district = await daemon.get_agency(DISTRICT)
    assert district is not None and (district.status, district.successor) == (
        "closed",
        COMMUNE,
    )
    assert await daemon.get_agency("000.99.00.H36") is None
    await cli.upsert_agency(Agency("000.99.00.H36", "UBND mới", "district", PROVINCE))
    assert await daemon.get_agency("000.99.00.H36") is not None


async def test_a_disabled_system_stops_authenticating_at_once(
    stores: tuple[Store, Store],
) -> None:
    daemon, cli = stores
    await cli.upsert_agencies([Agency(PROVINCE, "UBND tỉnh", "province")])
    await cli.add_system(
        NewSystem(
            id="qlvb.tinh",
            name="QLVB tỉnh",
            role="agency",
            patterns=(PROVINCE,),
            secret="s" * 32,
            token="t" * 40,
        )
    )
    for _ in range(3):
        found = await daemon.find_system_by_token("t" * 40)
        assert found is not None and found.patterns == (PROVINCE,)
        assert await daemon.get_system_secret("qlvb.tinh") == "s" * 32
    await cli.set_system_disabled("qlvb.tinh")
    assert await daemon.find_system_by_token("t" * 40) is None
    assert await daemon.get_system_secret("qlvb.tinh") is None
    system = await daemon.get_system("qlvb.tinh")
    assert system is not None and system.disabled


async def test_a_plain_sqlite_write_is_seen_too(tmp_path: Path) -> None:
    async with fresh_store("sqlite", tmp_path, None, key=KEY) as daemon:
        await daemon.upsert_agencies([Agency(PROVINCE, "UBND tỉnh", "province")])
        agency = await daemon.get_agency(PROVINCE)
        assert agency is not None and agency.name == "UBND tỉnh"
        conn = sqlite3.connect(tmp_path / "axis.db", isolation_level=None)
        try:
            conn.execute(
                "UPDATE agencies SET name = 'UBND tỉnh Lâm Đồng' WHERE code = ?", (PROVINCE,)
            )
        finally:
            conn.close()
        agency = await daemon.get_agency(PROVINCE)
        assert agency is not None and agency.name == "UBND tỉnh Lâm Đồng"


async def elsewhere(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` as another request or process would: outside this one's context."""
    await asyncio.create_task(work, context=contextvars.Context())


async def test_a_request_sees_the_directory_of_its_first_lookup_and_its_own_writes(
    stores: tuple[Store, Store], request: pytest.FixtureRequest
) -> None:
    daemon, cli = stores
    sqlite_store = "sqlite" in request.node.callspec.id
    await cli.upsert_agencies([Agency(PROVINCE, "UBND tỉnh", "province")])
    with request_scope():
        province = await daemon.get_agency(PROVINCE)
        assert province is not None and province.name == "UBND tỉnh"
        await elsewhere(cli.upsert_agency(Agency(PROVINCE, "UBND tỉnh Lâm Đồng", "province")))
        again = await daemon.get_agency(PROVINCE)
        assert again is not None
        # SQLite answers a request from the generation it read first; PostgreSQL reads
        # the database every time
        assert again.name == ("UBND tỉnh" if sqlite_store else "UBND tỉnh Lâm Đồng")
        # what the request writes itself, it reads back at once
        await daemon.upsert_agency(Agency(PROVINCE, "UBND tỉnh Lâm Đồng (2)", "province"))
        mine = await daemon.get_agency(PROVINCE)
        assert mine is not None and mine.name == "UBND tỉnh Lâm Đồng (2)"
    with request_scope():  # the next request: the other writer's change
        await elsewhere(cli.upsert_agency(Agency(PROVINCE, "UBND tỉnh (mới)", "province")))
        latest = await daemon.get_agency(PROVINCE)
        assert latest is not None and latest.name == "UBND tỉnh (mới)"


async def test_requests_starting_in_one_turn_share_a_read_that_is_newer_than_each(
    tmp_path: Path,
) -> None:
    """Requests whose first lookups come in one turn of the event loop share one
    reading of the generation; a request queued after that reading reads again, so it
    sees a change committed between the two."""
    async with fresh_store("sqlite", tmp_path, None, key=KEY) as daemon:
        await daemon.upsert_agencies([Agency(PROVINCE, "UBND tỉnh", "province")])
        await daemon.get_agency(PROVINCE)  # remembered from here on

        async def a_request() -> str:
            with request_scope():
                agency = await daemon.get_agency(PROVINCE)
                assert agency is not None
                return agency.name

        shared = daemon._quick.turn_reuses if daemon._quick is not None else 0
        names = await asyncio.gather(*(a_request() for _ in range(5)))  # one turn
        assert names == ["UBND tỉnh"] * 5
        assert daemon._quick is not None and daemon._quick.turn_reuses == shared + 4

        assert await a_request() == "UBND tỉnh"  # reads; later steps reuse this read
        conn = sqlite3.connect(tmp_path / "axis.db", isolation_level=None)
        try:  # another process commits after that read, in the same turn
            conn.execute(
                "UPDATE agencies SET name = 'UBND tỉnh Lâm Đồng' WHERE code = ?", (PROVINCE,)
            )
        finally:
            conn.close()
        # queued after the read: it runs after the loop forgot the read
        assert await asyncio.create_task(a_request()) == "UBND tỉnh Lâm Đồng"
