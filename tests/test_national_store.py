"""The national link's store side on SQLite and PostgreSQL: health state, the echo lookup,
directory changes written in one transaction, never deleting."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from axis.directory import Agency
from axis.directory_changes import parse_reorganization, plan_reorganization
from axis.store import NewDelivery, NewPacket, Store, dedup_key
from axis.store.models import utcnow
from axis.store.national import NationalStore
from tests.store_support import fresh_store

TODAY = date(2026, 11, 27)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    pg = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    async with fresh_store(request.param, tmp_path, pg) as s:
        yield s


async def test_health_state_is_replaced_not_appended(store: Store) -> None:
    state = NationalStore(store)
    assert await state.get_state("national.poll") is None
    await state.put_state("national.poll", {"backlog": 3, "last_error": "Lỗi kết nối"})
    await state.put_state("national.poll", {"backlog": 0, "last_error": None})
    assert await state.get_state("national.poll") == {"backlog": 0, "last_error": None}


async def test_our_own_packet_is_found_by_sender_and_bytes(store: Store) -> None:
    await store.upsert_agencies([Agency("000.01.30.H36", "Phường 1", "commune")])
    data = b"<edXML>exactly these bytes</edXML>"
    now = utcnow()
    await store.commit_packet(
        NewPacket(
            kind="document",
            sender_code="000.01.30.H36",
            sender_tier="commune",
            system_id="qlvb.phuong",
            edxml_document_id="D1",
            dedup_key=dedup_key("document", "000.01.30.H36", "D1", "0"),
            received_at=now,
            verdict="valid",
            data=data,
            deliveries=(NewDelivery("000.00.05.H53", "000.00.05.H53", "national"),),
            answer={},
            business_type="0",
        )
    )
    state = NationalStore(store)
    digest = hashlib.sha256(data).hexdigest()
    assert await state.own_packet("000.01.30.H36", digest) is not None
    assert await state.own_packet("000.02.30.H36", digest) is None
    assert await state.own_packet("000.01.30.H36", hashlib.sha256(b"other").hexdigest()) is None


async def test_a_reorganization_is_written_whole_and_deletes_nothing(store: Store) -> None:
    await store.upsert_agencies(
        [
            Agency("000.00.00.H36", "UBND tỉnh", "province"),
            Agency("000.31.00.H36", "UBND huyện Đức Trọng", "district", "000.00.00.H36"),
        ]
    )
    rows = parse_reorganization(
        "old_code,new_code,date,name\n000.31.00.H36,000.01.31.H36,2025-07-01,UBND xã Đức Trọng\n"
    )
    local = {a.code: a for a in await store.list_agencies()}
    changes = plan_reorganization(local, rows, today=TODAY)
    await NationalStore(store).apply_directory_changes(
        changes, event="directory.reorganized", actor="test", detail=changes.summary()
    )
    old = await store.get_agency("000.31.00.H36")
    new = await store.get_agency("000.01.31.H36")
    assert old is not None and (old.status, old.successor) == ("closed", "000.01.31.H36")
    assert new is not None and new.name == "UBND xã Đức Trọng" and new.status == "active"
    assert {a.code for a in await store.list_agencies()} >= {"000.00.00.H36", "000.31.00.H36"}
    closure = (await NationalStore(store).closures())["000.31.00.H36"]
    assert (closure.successor, closure.closed_on, closure.source) == (
        "000.01.31.H36",
        date(2025, 7, 1),
        "reorganize",
    )
