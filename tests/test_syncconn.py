"""The group commit's lean INSERT path (axis.store.syncconn) against SQLAlchemy's own:
the same rows must land the same, byte for byte, in real SQLite files."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import create_async_engine

from axis.directory import Agency
from axis.store import NewDelivery, NewPacket, dedup_key, open_store
from axis.store import schema as t
from axis.store.syncconn import SyncAsAsync, insert_rows, run_without_loop
from axis.store.upserts import add_counts_upsert

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CODES = ("000.00.00.H36", "000.01.00.H36", "000.31.31.H36")
_COUNTER_KEY = ("day", "agency_code", "tier", "direction", "verdict", "scope")

texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
ZONES = (UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5, minutes=-30)))
# the rows of a batch repeat their times (the lean path formats each distinct one once):
# a few instants, each in any of the zones, besides arbitrary ones
_FEW = (T0, T0 + timedelta(microseconds=1), T0 + timedelta(days=400, seconds=7))
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.sampled_from(ZONES)
) | st.builds(lambda at, zone: at.astimezone(zone), st.sampled_from(_FEW), st.sampled_from(ZONES))


def delivery_rows() -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries(
        {
            "document_id": st.sampled_from(("D1", "D2")),
            "recipient_code": st.sampled_from(CODES),
            "target_code": st.sampled_from(CODES),
            "target_tier": st.none() | texts,
            "route": st.sampled_from(("local", "national")),
            "state": st.just("pending"),
            "attempts": st.integers(0, 5),
            "next_attempt_at": moments,
            "created_at": moments,
        }
    )
    return st.lists(row, min_size=1, max_size=8).map(
        lambda rows: [r | {"id": i} for i, r in enumerate(rows, 1)]
    )


def counter_rows() -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.tuples(
        st.dates(date(2026, 1, 1), date(2026, 1, 3)),
        st.sampled_from(CODES),
        st.sampled_from(("province", "commune")),
        st.sampled_from(("sent", "received")),
        st.sampled_from(("valid", "unsigned")),
        st.just("internal"),
        st.integers(1, 9),
    )
    return st.lists(row, min_size=1, max_size=8).map(
        lambda rows: [dict(zip((*_COUNTER_KEY, "count"), r, strict=True)) for r in rows]
    )


def _engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    t.metadata.create_all(engine, tables=[t.deliveries, t.counters])
    return engine


def _stored(engine: sa.Engine, table: str) -> list[tuple[Any, ...]]:
    """The rows as SQLite keeps them (raw: datetimes as the text SQLAlchemy wrote)."""
    with engine.connect() as conn:
        return list(conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1, 2, 3").all())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries=delivery_rows(), counts=st.lists(counter_rows(), min_size=1, max_size=3))
def test_lean_inserts_store_what_sqlalchemy_stores(
    deliveries: list[dict[str, Any]], counts: list[list[dict[str, Any]]]
) -> None:
    upsert = add_counts_upsert("sqlite", sqlite.insert, t.counters, _COUNTER_KEY)
    with tempfile.TemporaryDirectory() as tmp:
        lean_db, plain_db = _engine(Path(tmp) / "lean.db"), _engine(Path(tmp) / "plain.db")
        with lean_db.begin() as conn:
            lean = SyncAsAsync(conn, {})
            lean.insert_many(t.deliveries, deliveries)
            for batch in counts:  # counts add up across batches, as across commits
                # the same key twice in one statement is never sent (keys are unique)
                unique = list({tuple(r[k] for k in _COUNTER_KEY): r for r in batch}.values())
                run_without_loop(lean.execute(upsert, unique))
        with plain_db.begin() as conn:
            conn.execute(t.deliveries.insert(), deliveries)
            for batch in counts:
                unique = list({tuple(r[k] for k in _COUNTER_KEY): r for r in batch}.values())
                conn.execute(upsert, unique)
        assert lean.lean_rows == len(deliveries) + sum(
            len({tuple(r[k] for k in _COUNTER_KEY) for r in b}) for b in counts
        )
        for table in ("deliveries", "counters"):
            assert _stored(lean_db, table) == _stored(plain_db, table)
        lean_db.dispose()
        plain_db.dispose()


def test_a_broken_constraint_is_sqlalchemys_error_without_the_values(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "lean.db")
    row = {
        "id": 1,
        "document_id": "D1",
        "recipient_code": CODES[0],
        "target_code": CODES[0],
        "target_tier": "province",
        "route": "local",
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": T0,
        "created_at": T0,
    }
    with pytest.raises(sa.exc.IntegrityError) as caught, engine.begin() as conn:
        SyncAsAsync(conn, {}).insert_many(t.deliveries, [row, row | {"target_code": "secret"}])
    assert "secret" not in str(caught.value)
    assert _stored(engine, "deliveries") == []  # the transaction rolled back whole
    engine.dispose()


def test_ragged_rows_go_through_sqlalchemy(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "lean.db")
    base = {
        "document_id": "D1",
        "recipient_code": CODES[0],
        "target_code": CODES[0],
        "route": "local",
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": T0,
        "created_at": T0,
    }
    with engine.begin() as conn:
        lean = SyncAsAsync(conn, {})
        lean.insert_many(t.deliveries, [base | {"id": 1}, base | {"id": 2, "target_tier": "x"}])
        assert lean.lean_rows == 0
    assert [r[0] for r in _stored(engine, "deliveries")] == [1, 2]
    engine.dispose()


def test_other_connections_get_plain_inserts(tmp_path: Path) -> None:
    async def main() -> list[Any]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: t.metadata.create_all(c, tables=[t.deliveries]))
            await insert_rows(
                conn,
                t.deliveries,
                [
                    {
                        "id": 7,
                        "document_id": "D1",
                        "recipient_code": CODES[0],
                        "target_code": CODES[0],
                        "route": "local",
                        "state": "pending",
                        "next_attempt_at": T0,
                        "created_at": T0,
                    }
                ],
            )
            rows = list((await conn.execute(sa.select(t.deliveries.c.id))).scalars())
        await engine.dispose()
        return rows

    assert asyncio.run(main()) == [7]


async def test_the_group_commit_takes_the_lean_path(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'axis.db'}")
    try:
        await store.upsert_agencies(
            [
                Agency(code=CODES[0], name="UBND tỉnh", tier="province"),
                Agency(code=CODES[2], name="UBND xã", tier="commune"),
            ]
        )
        p = NewPacket(
            kind="document",
            sender_code=CODES[0],
            sender_tier="province",
            system_id="sys",
            edxml_document_id="D-1",
            dedup_key=dedup_key("document", CODES[0], "D-1", "0"),
            received_at=T0 + timedelta(seconds=1),
            verdict="valid",
            data=b"<edXML/>",
            deliveries=(NewDelivery(CODES[2], CODES[2], "local", "commune"),),
            answer={"ok": True},
        )
        before = store.lean_rows
        committed = await store.commit_packet(p)
        # documents, packets, deliveries, events: one row each; counters: sent + received
        assert store.lean_rows - before >= 6
        doc = await store.get_document(committed.document_id)
        assert doc.received_at == p.received_at
        assert [d.target_code for d in doc.deliveries] == [CODES[2]]
        assert await store.get_packet(committed.document_id) == b"<edXML/>"
        assert await store.commit_packet(p) == committed.__class__(
            document_id=committed.document_id, answer={"ok": True}, created=False
        )
    finally:
        await store.close()
