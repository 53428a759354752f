"""The group commit's lean paths (axis.store.syncconn) against SQLAlchemy's own: the same
rows must land the same, byte for byte, in real SQLite files; the same reads must give
the same rows; its savepoints must keep and undo what SQLite's own do."""

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
from axis.store.audit import _chain_end
from axis.store.once import built_once
from axis.store.store import _dup_probe, _last_delivery_id, _sqlite_events
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


def _delivery(i: int) -> dict[str, Any]:
    return {
        "id": i,
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


def test_a_broken_constraint_is_sqlalchemys_error_without_the_values(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "lean.db")
    row = _delivery(1)
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
        before, reads = store.lean_rows, store.lean_reads
        committed = await store.commit_packet(p)
        # documents, packets, deliveries, events: one row each; counters: sent + received
        assert store.lean_rows - before >= 6
        # the duplicate probe, the last delivery id, the chain's end
        assert store.lean_reads - reads == 3
        doc = await store.get_document(committed.document_id)
        assert doc.received_at == p.received_at
        assert [d.target_code for d in doc.deliveries] == [CODES[2]]
        assert await store.get_packet(committed.document_id) == b"<edXML/>"
        assert await store.commit_packet(p) == committed.__class__(
            document_id=committed.document_id, answer={"ok": True}, created=False
        )
    finally:
        await store.close()


# --- reads and savepoints ---------------------------------------------------------------

STORED_KEYS = [dedup_key("document", CODES[0], f"D-{i}", "0") for i in range(40)]


@pytest.fixture(scope="module")
def stored_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store's SQLite file holding 40 committed packets (dedup keys ``STORED_KEYS``)."""
    path = tmp_path_factory.mktemp("reads") / "axis.db"

    async def main() -> None:
        store = await open_store(f"sqlite+aiosqlite:///{path}")
        try:
            await store.upsert_agencies(
                [
                    Agency(code=CODES[0], name="UBND tỉnh", tier="province"),
                    Agency(code=CODES[2], name="UBND xã", tier="commune"),
                ]
            )
            for i, key in enumerate(STORED_KEYS):
                p = NewPacket(
                    kind="document",
                    sender_code=CODES[0],
                    sender_tier="province",
                    system_id="sys",
                    edxml_document_id=f"D-{i}",
                    dedup_key=key,
                    received_at=T0,
                    verdict="valid",
                    data=b"<edXML/>",
                    deliveries=(NewDelivery(CODES[2], CODES[2], "local", "commune"),),
                    answer={"n": i},
                )
                await store.commit_packet(p)
        finally:
            await store.close()

    asyncio.run(main())
    return path


@settings(max_examples=60, deadline=None)
@given(
    # any size up to 70 as likely as any other: the probes are built per power of two
    keys=st.integers(1, 70).flatmap(
        lambda n: st.lists(
            st.sampled_from(STORED_KEYS) | st.text(min_size=1, max_size=20), min_size=n, max_size=n
        )
    )
)
def test_the_lean_duplicate_probe_finds_what_sqlalchemy_finds(
    stored_db: Path, keys: list[str]
) -> None:
    engine = sa.create_engine(f"sqlite:///{stored_db}")
    d = t.documents.c
    try:
        with engine.begin() as conn:
            lean = SyncAsAsync(conn, {})
            stmt, params = _dup_probe(keys)
            found = sorted(lean.run(stmt, params))
            plain = conn.execute(
                sa.select(d.dedup_key, d.id, d.answer).where(d.dedup_key.in_(keys))
            )
            assert found == sorted(tuple(r) for r in plain)
            assert {k for k, _, _ in found} == set(keys) & set(STORED_KEYS)
            assert lean.lean_reads == 1
            # the same statement through SQLAlchemy (any other dialect's way) agrees
            assert sorted(tuple(r) for r in conn.execute(stmt, params)) == found
    finally:
        engine.dispose()


def test_the_commits_other_reads_agree_with_sqlalchemy(stored_db: Path, tmp_path: Path) -> None:
    empty = _engine(tmp_path / "empty.db")
    t.metadata.create_all(empty, tables=[t.events])
    for engine in (sa.create_engine(f"sqlite:///{stored_db}"), empty):
        with engine.begin() as conn:
            lean = SyncAsAsync(conn, {})
            for stmt in (_chain_end(), _last_delivery_id()):
                plain = conn.execute(stmt).first()
                assert lean.run(stmt).first() == (tuple(plain) if plain is not None else None)
                assert lean.run(stmt).scalar() == conn.execute(stmt).scalar()
            assert lean.lean_reads == 4
        engine.dispose()
    with sa.create_engine(f"sqlite:///{stored_db}").connect() as conn:
        last = SyncAsAsync(conn, {}).run(_chain_end()).first()
        assert last is not None and last[0] >= 40 and len(last[1]) == 64


def test_reads_that_need_a_result_processor_go_through_sqlalchemy(stored_db: Path) -> None:
    stmt = built_once("test.received-at", lambda: sa.select(t.documents.c.received_at).limit(1))
    engine = sa.create_engine(f"sqlite:///{stored_db}")
    with engine.connect() as conn:
        lean = SyncAsAsync(conn, {})
        assert lean.run(stmt).scalar() == T0  # an aware datetime, as UtcDateTime gives it
        assert lean.lean_reads == 0
        with pytest.raises(sa.exc.InvalidRequestError, match="k0"):
            lean.run(_dup_probe(["x"])[0], {})  # a key left unbound
    engine.dispose()


def _writer(path: Path) -> sa.Engine:
    """An engine set up as the group commit's (BEGIN IMMEDIATE, no implicit BEGIN), but
    with only the deliveries table (no documents for its foreign key to name)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    _sqlite_events(engine, writer=True)
    sa.event.listen(engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA foreign_keys=OFF"))
    t.metadata.create_all(engine, tables=[t.deliveries])
    return engine


def test_lean_savepoints_undo_only_their_own_block(tmp_path: Path) -> None:
    engine = _writer(tmp_path / "lean.db")

    async def work(lean: SyncAsAsync) -> None:
        async with lean.begin_nested():
            lean.insert_many(t.deliveries, [_delivery(1)])
        with pytest.raises(sa.exc.IntegrityError):
            async with lean.begin_nested():
                lean.insert_many(t.deliveries, [_delivery(2)])
                lean.insert_many(t.deliveries, [_delivery(1)])  # the same id again
        async with lean.begin_nested():
            async with lean.begin_nested():
                lean.insert_many(t.deliveries, [_delivery(3)])
            with pytest.raises(ValueError, match="inner"):
                async with lean.begin_nested():
                    lean.insert_many(t.deliveries, [_delivery(4)])
                    raise ValueError("inner")

    with engine.begin() as conn:
        run_without_loop(work(SyncAsAsync(conn, {})))
    assert [r[0] for r in _stored(engine, "deliveries")] == [1, 3]
    engine.dispose()


def test_no_lean_savepoint_outside_the_transaction(tmp_path: Path) -> None:
    engine = _writer(tmp_path / "lean.db")

    async def enter(lean: SyncAsAsync) -> None:
        async with lean.begin_nested():
            lean.insert_many(t.deliveries, [_delivery(1)])

    with engine.connect() as conn:
        with pytest.raises(sa.exc.InvalidRequestError, match="no longer open"):
            run_without_loop(enter(SyncAsAsync(conn, {})))
        assert not conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    assert _stored(engine, "deliveries") == []
    engine.dispose()


def test_many_rows_are_written_in_chunks_of_bound_values(tmp_path: Path) -> None:
    # deliveries have 10 columns: 99 rows a statement, so 250 rows take three
    rows = [
        _delivery(i) | {"attempts": i % 7, "created_at": T0 + timedelta(seconds=i)}
        for i in range(1, 251)
    ]
    lean_db, plain_db = _engine(tmp_path / "lean.db"), _engine(tmp_path / "plain.db")
    statements: list[str] = []
    with lean_db.begin() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        lean = SyncAsAsync(conn, {})
        lean.insert_many(t.deliveries, rows)
        dbapi.set_trace_callback(None)  # type: ignore[attr-defined]
    with plain_db.begin() as conn:
        conn.execute(t.deliveries.insert(), rows)
    assert _stored(lean_db, "deliveries") == _stored(plain_db, "deliveries")
    inserts = [s for s in statements if s.startswith("INSERT INTO deliveries")]
    assert [s.count("), (") + 1 for s in inserts] == [99, 99, 52]
    lean_db.dispose()
    plain_db.dispose()
