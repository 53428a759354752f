"""The store's contract, run against SQLite (a file) and PostgreSQL (a fresh schema)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from axis.directory import Agency, Tier
from axis.store import (
    NewDelivery,
    NewPacket,
    NewSystem,
    Refusal,
    Store,
    dedup_key,
    new_document_id,
    open_store,
)
from axis_errors import ConfigError, InputError, NotFoundError, StoreError
from certs import pki
from tests.store_support import fresh_store

PROVINCE = "000.00.00.H36"
DEPT = "000.01.00.H36"
DISTRICT = "000.00.31.H36"
CLOSED_DISTRICT = "000.00.32.H36"
COMMUNE = "000.31.31.H36"
MINISTRY = "000.00.00.G22"

DIRECTORY = [
    Agency(PROVINCE, "UBND tỉnh Lâm Đồng", "province"),
    Agency(DEPT, "Sở Nội vụ", "province", parent=PROVINCE),
    Agency(DISTRICT, "UBND huyện A", "district", parent=PROVINCE),
    Agency(CLOSED_DISTRICT, "UBND huyện B", "district", status="closed", successor=DISTRICT),
    Agency(COMMUNE, "UBND xã C", "commune", parent=DISTRICT),
]
TIER_OF: dict[str, Tier] = {a.code: a.tier for a in DIRECTORY}

T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    pg = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    async with fresh_store(request.param, tmp_path, pg) as s:
        await s.upsert_agencies(DIRECTORY)
        yield s


def packet(
    sender: str = DEPT,
    recipients: tuple[str, ...] = (PROVINCE,),
    *,
    doc_id: str = "DOC-1",
    kind: str = "document",
    at: datetime = T0,
    verdict: str = "valid",
    data: bytes = b"<edXMLEnvelope>packet</edXMLEnvelope>",
    national: tuple[str, ...] = (),
    **extra: Any,
) -> NewPacket:
    deliveries = [NewDelivery(r, r, "local", TIER_OF.get(r)) for r in recipients] + [
        NewDelivery(r, r, "national", "central") for r in national
    ]
    document_id = new_document_id()
    status_code = extra.get("status_code")
    return NewPacket(
        kind=kind,  # type: ignore[arg-type]
        sender_code=sender,
        sender_tier=TIER_OF.get(sender),
        system_id="sys.test",
        edxml_document_id=doc_id,
        dedup_key=dedup_key(kind, sender, doc_id, extra.get("business_type"), status_code),  # type: ignore[arg-type]
        received_at=at,
        verdict=verdict,
        data=data,
        deliveries=tuple(deliveries),
        answer={"document_id": document_id, "verdict": verdict},
        document_id=document_id,
        **extra,
    )


# --- opening ----------------------------------------------------------------------------


async def test_sqlite_file_is_created_with_wal_and_reopens(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "dir" / "axis.db"
    store = await open_store(f"sqlite+aiosqlite:///{db}")
    await store.upsert_agency(DIRECTORY[0])
    await store.close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    store = await open_store(f"sqlite+aiosqlite:///{db}")  # schema exists: no error
    try:
        assert await store.get_agency(PROVINCE) == DIRECTORY[0]
    finally:
        await store.close()


async def test_sqlite_keeps_packet_bytes_in_segment_files_beside_the_database(
    tmp_path: Path,
) -> None:
    """The bytes go to ``axis.db-packets/`` (one append per group commit), the row says
    where, and the store reads them back; the database file never holds them."""
    db = tmp_path / "axis.db"
    store = await open_store(f"sqlite+aiosqlite:///{db}")
    try:
        await store.upsert_agencies(DIRECTORY)
        bodies = [os.urandom(3000) + b"<edXML/>" for _ in range(5)]
        done = await asyncio.gather(
            *(store.commit_packet(packet(doc_id=f"D{i}", data=b)) for i, b in enumerate(bodies))
        )
        for c, body in zip(done, bodies, strict=True):
            assert await store.get_packet(c.document_id) == body
    finally:
        await store.close()
    segments = sorted((tmp_path / "axis.db-packets").iterdir())
    assert [p.name for p in segments] == ["00000001.seg"]
    assert segments[0].read_bytes() == b"".join(bodies)  # arrival order, nothing else
    with sqlite3.connect(db) as raw:
        rows = raw.execute(
            "SELECT length(data), file_segment, file_length FROM packets ORDER BY file_offset"
        ).fetchall()
    assert rows == [(0, 1, len(b)) for b in bodies]
    for name in ("axis.db", "axis.db-wal"):
        path = tmp_path / name
        assert not path.exists() or bodies[0][:64] not in path.read_bytes()


async def test_a_version_1_database_is_upgraded_and_its_packets_still_read(
    tmp_path: Path,
) -> None:
    """Version 1 kept the bytes in packets.data and had no file_* columns: opening it
    adds them, old packets read from the row, new ones go to the segment files."""
    db = tmp_path / "axis.db"
    store = await open_store(f"sqlite+aiosqlite:///{db}")
    await store.upsert_agencies(DIRECTORY)
    old = await store.commit_packet(packet(doc_id="OLD", data=b"<old packet/>"))
    await store.close()
    with sqlite3.connect(db) as raw:  # make it what version 1 wrote
        raw.execute("UPDATE packets SET data = ?", (b"<old packet/>",))
        for column in ("file_segment", "file_offset", "file_length"):
            raw.execute(f"ALTER TABLE packets DROP COLUMN {column}")
        raw.execute("UPDATE schema_version SET version = 1")
    (tmp_path / "axis.db-packets" / "00000001.seg").unlink()
    store = await open_store(f"sqlite+aiosqlite:///{db}")
    try:
        assert await store.get_packet(old.document_id) == b"<old packet/>"
        new = await store.commit_packet(packet(doc_id="NEW", data=b"<new packet/>"))
        assert await store.get_packet(new.document_id) == b"<new packet/>"
    finally:
        await store.close()
    assert (tmp_path / "axis.db-packets" / "00000001.seg").read_bytes() == b"<new packet/>"
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT max(version) FROM schema_version").fetchone() == (2,)


async def test_schema_newer_than_code_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "axis.db"
    await (await open_store(f"sqlite+aiosqlite:///{db}")).close()
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO schema_version VALUES (99, '2030-01-01 00:00:00')")
    with pytest.raises(StoreError) as info:
        await open_store(f"sqlite+aiosqlite:///{db}")
    assert info.value.code == "store.schema-too-new"


@pytest.mark.parametrize(
    "url", ["sqlite+aiosqlite:///:memory:", "mysql+aiomysql://x@y/z", "not a url"]
)
async def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        await open_store(url)


# --- agencies ---------------------------------------------------------------------------


async def test_agencies_upsert_get_list(store: Store) -> None:
    assert await store.get_agency(COMMUNE) == DIRECTORY[4]
    assert await store.get_agency("000.99.99.H36") is None
    assert [a.code for a in await store.list_agencies(tier="district")] == [
        DISTRICT,
        CLOSED_DISTRICT,
    ]
    assert [a.code for a in await store.list_agencies(status="closed")] == [CLOSED_DISTRICT]
    assert [a.code for a in await store.list_agencies(parent=DISTRICT)] == [COMMUNE]
    assert [a.code for a in await store.list_agencies(codes=["*.31.H36"])] == [
        DISTRICT,
        COMMUNE,
    ]
    renamed = dataclasses.replace(DIRECTORY[1], name="Sở Nội vụ (mới)")
    await store.upsert_agency(renamed)
    assert await store.get_agency(DEPT) == renamed
    assert len(await store.list_agencies()) == len(DIRECTORY)


async def test_agency_certificates(store: Store) -> None:
    root = pki.make_root_ca("Test Root", now=T0, key_type="ec")
    cert = pki.issue_signing_cert(root, organ_id=DEPT, name="Sở Nội vụ", now=T0, key_type="ec")
    fp = cert.fingerprint.replace(":", "").lower()
    info = await store.add_agency_cert(DEPT, cert.cert_pem())
    assert info.sha256 == fp
    assert "UID=000.01.00.H36" in info.subject
    assert info.not_after > T0
    assert await store.agency_cert_fingerprints(DEPT) == frozenset({fp})
    assert await store.agency_cert_fingerprints(PROVINCE) == frozenset()
    assert await store.agency_for_cert(cert.fingerprint) == DEPT  # colon form accepted
    # the same certificate again for the same agency: harmless
    assert (await store.add_agency_cert(DEPT, cert.cert_pem())).sha256 == fp
    assert len(await store.list_agency_certs(DEPT)) == 1
    with pytest.raises(InputError) as taken:
        await store.add_agency_cert(PROVINCE, cert.cert_pem())
    assert taken.value.code == "agencies.cert-taken"
    with pytest.raises(NotFoundError):
        await store.add_agency_cert("000.99.99.H36", cert.cert_pem())
    with pytest.raises(InputError) as bad:
        await store.add_agency_cert(DEPT, b"-----BEGIN CERTIFICATE-----\nnope\n")
    assert bad.value.code == "agencies.bad-cert"


# --- systems ----------------------------------------------------------------------------


async def test_systems_credentials(store: Store) -> None:
    new = NewSystem(
        id="vxp.h36.test",
        name="Hệ thống QLVB",
        role="agency",
        patterns=("*.h36", DEPT),
        secret="test-secret-Lam-Dong-H36",
        token="axis_token-1",
        client_cert_sha256="ab" * 32,
    )
    created = await store.add_system(new)
    assert created.patterns == ("*.H36", DEPT)
    got = await store.get_system("vxp.h36.test")
    assert got is not None
    assert got.patterns == tuple(sorted(created.patterns))
    assert got.may_act_for(COMMUNE) and not got.may_act_for(MINISTRY)
    assert await store.get_system_secret("vxp.h36.test") == "test-secret-Lam-Dong-H36"
    assert (await store.find_system_by_token("axis_token-1")) == got
    assert await store.find_system_by_token("axis_token-2") is None
    assert await store.find_system_by_client_cert("AB" * 32) == got
    assert [s.id for s in await store.list_systems()] == ["vxp.h36.test"]
    with pytest.raises(InputError) as dup:
        await store.add_system(dataclasses.replace(new, token="axis_other"))
    assert dup.value.code == "systems.exists"
    await store.set_system_disabled("vxp.h36.test")
    assert await store.find_system_by_token("axis_token-1") is None
    assert await store.get_system_secret("vxp.h36.test") is None
    disabled = await store.get_system("vxp.h36.test")
    assert disabled is not None and disabled.disabled
    with pytest.raises(NotFoundError):
        await store.set_system_disabled("nobody")


async def test_system_requires_valid_id_and_patterns(store: Store) -> None:
    base = NewSystem("ok", "n", "agency", (DEPT,), "s", "axis_t")
    with pytest.raises(InputError):
        await store.add_system(dataclasses.replace(base, id="bad id"))
    with pytest.raises(InputError):
        await store.add_system(dataclasses.replace(base, patterns=("[AB]*",)))
    with pytest.raises(InputError):
        await store.add_system(dataclasses.replace(base, patterns=()))
    auditor = await store.add_system(dataclasses.replace(base, role="auditor", patterns=()))
    assert auditor.patterns == ()


def _database_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.name.startswith("axis.db"))


async def test_secrets_are_not_stored_in_clear(tmp_path: Path) -> None:
    key = os.urandom(32)
    async with fresh_store("sqlite", tmp_path, None, key=key) as s:
        await s.add_system(
            NewSystem("sys.a", "A", "agency", (DEPT,), "S3cr3t-visible?", "axis_T0ken")
        )
    raw = _database_bytes(tmp_path)
    assert b"S3cr3t-visible?" not in raw
    assert b"axis_T0ken" not in raw
    # another key cannot decrypt it
    async with fresh_store("sqlite", tmp_path, None, key=os.urandom(32)) as s:
        with pytest.raises(StoreError) as info:
            await s.get_system_secret("sys.a")
        assert info.value.code == "store.secret-undecryptable"
    async with fresh_store("sqlite", tmp_path, None, key=key) as s:
        assert await s.get_system_secret("sys.a") == "S3cr3t-visible?"


async def test_store_without_key_cannot_add_systems(tmp_path: Path) -> None:
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(ConfigError):
            await store.add_system(NewSystem("s", "n", "agency", (DEPT,), "s", "axis_t"))
    finally:
        await store.close()


# --- packets ----------------------------------------------------------------------------


async def test_commit_then_duplicate_returns_original_and_writes_nothing(store: Store) -> None:
    first = packet(recipients=(PROVINCE, DISTRICT))
    c1 = await store.commit_packet(first)
    assert c1.created and c1.document_id == first.document_id
    assert c1.answer == {"document_id": first.document_id, "verdict": "valid"}
    counts = await store.counter_rows()
    again = packet(recipients=(PROVINCE, DISTRICT), verdict="valid")
    c2 = await store.commit_packet(again)
    assert not c2.created
    assert c2.document_id == first.document_id
    assert c2.answer == c1.answer
    assert await store.counter_rows() == counts
    assert len(await store.list_inbox([PROVINCE, DISTRICT])) == 2
    with pytest.raises(NotFoundError):
        await store.get_document(again.document_id)


async def test_concurrent_duplicates_create_exactly_one(store: Store) -> None:
    copies = [packet(doc_id="RACE") for _ in range(6)]
    results = await asyncio.gather(*(store.commit_packet(p) for p in copies))
    assert sum(r.created for r in results) == 1
    assert len({r.document_id for r in results}) == 1
    assert len({repr(r.answer) for r in results}) == 1
    sent = await store.counter_rows(direction="sent")
    assert sum(r.count for r in sent) == 1


async def test_a_failing_packet_fails_alone(store: Store) -> None:
    good1 = packet(doc_id="G1")
    clash = dataclasses.replace(packet(doc_id="G2"), document_id=good1.document_id)
    good2 = packet(doc_id="G3")
    results = await asyncio.gather(
        *(store.commit_packet(p) for p in (good1, clash, good2)), return_exceptions=True
    )
    # good1 and clash race for one id: exactly one is stored. SQLite commits a group in
    # arrival order (good1 first); PostgreSQL's connections may take either order.
    failed = [r for r in results[:2] if isinstance(r, BaseException)]
    assert len(failed) == 1
    assert isinstance(failed[0], StoreError) and failed[0].code == "store.integrity"
    winner_index = 1 if isinstance(results[0], BaseException) else 0
    won = results[winner_index]
    assert not isinstance(won, BaseException) and won.created
    winner = ("G1", "G2")[winner_index]
    if store.dialect == "sqlite":
        assert winner == "G1"
    assert not isinstance(results[2], BaseException) and results[2].created
    stored = sorted(d.edxml_document_id for d in await store.sent_by([DEPT]))
    assert stored == sorted([winner, "G3"])
    assert sum(r.count for r in await store.counter_rows(direction="sent")) == 2
    assert await store.counter_rows() == await store.recount_from_events()


async def test_document_record_and_bytes_untouched(store: Store) -> None:
    data = b"\xef\xbb\xbf<?xml version='1.0'?>\r\n<x>\x00 bytes as sent</x>\r\n" + os.urandom(2048)
    p = packet(
        recipients=(PROVINCE,),
        national=(MINISTRY,),
        data=data,
        subject="Về việc A",
        code_number="12",
        code_notation="UBND-VP",
        verdict_reasons=("signature valid",),
        signer_sha256="cd" * 32,
        business_type="0",
        notes=("hello",),
    )
    await store.commit_packet(p)
    assert await store.get_packet(p.document_id) == data
    doc = await store.get_document(p.document_id)
    assert doc.subject == "Về việc A" and doc.code_notation == "UBND-VP"
    assert doc.size == len(data)
    assert doc.verdict_reasons == ("signature valid",)
    assert doc.received_at == T0
    assert [(d.target_code, d.route, d.state) for d in doc.deliveries] == [
        (PROVINCE, "local", "pending"),
        (MINISTRY, "national", "pending"),
    ]
    found = await store.find_document(DEPT, "DOC-1")
    assert found is not None and found.id == p.document_id
    assert await store.find_document(PROVINCE, "DOC-1") is None
    with pytest.raises(NotFoundError):
        await store.get_packet("nope")


async def test_successor_delivery_keeps_addressed_code(store: Store) -> None:
    p = dataclasses.replace(
        packet(recipients=()),
        deliveries=(
            NewDelivery(CLOSED_DISTRICT, DISTRICT, "local", "district", (CLOSED_DISTRICT,)),
        ),
    )
    await store.commit_packet(p)
    (item,) = await store.list_inbox([DISTRICT])
    assert item.recipient_code == CLOSED_DISTRICT and item.target_code == DISTRICT
    assert item.via_successor
    assert await store.list_inbox([CLOSED_DISTRICT]) == []
    (event,) = await store.document_trace(p.document_id)
    assert event.detail["deliveries"][0]["via_successor"] == [CLOSED_DISTRICT]


async def test_same_target_twice_is_delivered_once(store: Store) -> None:
    p = dataclasses.replace(
        packet(recipients=()),
        deliveries=(
            NewDelivery(DISTRICT, DISTRICT, "local", "district"),
            NewDelivery(CLOSED_DISTRICT, DISTRICT, "local", "district", (CLOSED_DISTRICT,)),
        ),
    )
    await store.commit_packet(p)
    assert len(await store.list_inbox([DISTRICT])) == 1
    received = await store.counter_rows(direction="received")
    assert [(r.agency_code, r.count) for r in received] == [(DISTRICT, 1)]


# --- inbox ------------------------------------------------------------------------------


async def test_inbox_is_per_agency_and_pattern(store: Store) -> None:
    await store.commit_packet(packet(recipients=(PROVINCE, COMMUNE), doc_id="A"))
    await store.commit_packet(packet(recipients=(COMMUNE,), doc_id="B"))
    await store.commit_packet(packet(recipients=(PROVINCE,), national=(MINISTRY,), doc_id="C"))
    assert [i.edxml_document_id for i in await store.list_inbox([PROVINCE])] == ["A", "C"]
    assert [i.edxml_document_id for i in await store.list_inbox([COMMUNE])] == ["A", "B"]
    assert len(await store.list_inbox(["*.H36"])) == 4
    assert await store.list_inbox([MINISTRY]) == []  # national route: not an inbox
    assert await store.list_inbox(["*.G22"]) == []
    assert await store.list_inbox([]) == []
    assert await store.list_inbox(["000.00.00.H3_"]) == []  # LIKE wildcards are escaped
    assert await store.count_inbox(["*.H36"]) == 4
    page1 = await store.list_inbox(["*.H36"], limit=3)
    page2 = await store.list_inbox(["*.H36"], limit=3, after_id=page1[-1].delivery_id)
    assert len(page1) == 3 and len(page2) == 1
    assert [i.delivery_id for i in page1 + page2] == sorted(i.delivery_id for i in page1 + page2)


async def test_inbox_kind_filter_and_fetch_ack_cycle(store: Store) -> None:
    doc = packet(recipients=(PROVINCE,), doc_id="D")
    await store.commit_packet(doc)
    status = packet(
        sender=PROVINCE,
        recipients=(DEPT,),
        doc_id="S-1",
        kind="status",
        status_code="03",
        response_for="D",
        response_for_organ=DEPT,
    )
    await store.commit_packet(status)
    assert [i.kind for i in await store.list_inbox([PROVINCE, DEPT], kind="status")] == ["status"]
    (item,) = await store.list_inbox([PROVINCE], kind="document")
    got, data = await store.fetch_delivery(item.delivery_id, [PROVINCE], actor="sys.p")
    assert data == doc.data
    assert got.state == "fetched" and got.fetched_at is not None
    assert await store.list_inbox([PROVINCE], include_fetched=False) == []
    assert len(await store.list_inbox([PROVINCE])) == 1
    # fetching again is allowed and changes nothing
    again, _ = await store.fetch_delivery(item.delivery_id, [PROVINCE])
    assert again.fetched_at == got.fetched_at
    assert await store.ack_delivery(item.delivery_id, [PROVINCE]) is True
    assert await store.ack_delivery(item.delivery_id, [PROVINCE]) is False
    assert await store.list_inbox([PROVINCE]) == []
    acks = await store.counter_rows(direction="acknowledged")
    assert [(r.agency_code, r.tier, r.count) for r in acks] == [(PROVINCE, "province", 1)]
    # the sender sees the state of its deliveries
    (sent,) = await store.sent_by([DEPT], kind="document")
    assert [(d.target_code, d.state) for d in sent.deliveries] == [(PROVINCE, "acked")]
    # the trace of the document includes the status that names it
    trace = await store.document_trace(doc.document_id)
    assert [e.kind for e in trace] == [
        "packet.accepted",
        "packet.accepted",
        "delivery.fetched",
        "delivery.acked",
    ]
    assert trace[1].status_code == "03" and trace[1].document_id == status.document_id
    assert all(e.node == "test" for e in trace)
    status_doc = await store.get_document(status.document_id)
    assert status_doc.related_document_id == doc.document_id


async def test_recipient_may_refuse_a_delivery(store: Store) -> None:
    p = packet(recipients=(PROVINCE, COMMUNE))
    await store.commit_packet(p)
    item = (await store.list_inbox([PROVINCE]))[0]
    with pytest.raises(NotFoundError):
        await store.fail_delivery(item.delivery_id, [COMMUNE], "not mine")
    assert await store.fail_delivery(item.delivery_id, [PROVINCE], "wrong recipient") is True
    assert await store.fail_delivery(item.delivery_id, [PROVINCE], "again") is False
    assert await store.ack_delivery(item.delivery_id, [PROVINCE]) is False
    assert await store.list_inbox([PROVINCE]) == []
    doc = await store.get_document(p.document_id)
    states = {(d.target_code, d.state, d.last_error) for d in doc.deliveries}
    assert states == {(PROVINCE, "failed", "wrong recipient"), (COMMUNE, "pending", None)}
    assert [e.kind for e in await store.document_trace(p.document_id)][-1] == "delivery.failed"
    assert await store.counter_rows(direction="acknowledged") == []
    assert await store.counter_rows() == await store.recount_from_events()


async def test_others_cannot_fetch_or_ack(store: Store) -> None:
    await store.commit_packet(packet(recipients=(PROVINCE,)))
    (item,) = await store.list_inbox([PROVINCE])
    for codes in ([COMMUNE], ["*.G22"], []):
        with pytest.raises(NotFoundError) as info:
            await store.fetch_delivery(item.delivery_id, codes)
        assert info.value.code == "inbox.not-found"
        with pytest.raises(NotFoundError):
            await store.ack_delivery(item.delivery_id, codes)
    with pytest.raises(NotFoundError) as missing:
        await store.fetch_delivery(10_000, [PROVINCE])
    assert missing.value.code == "inbox.not-found"
    (still,) = await store.list_inbox([PROVINCE])
    assert still.state == "pending"


async def test_sent_by_filters(store: Store) -> None:
    await store.commit_packet(packet(doc_id="A", at=T0))
    await store.commit_packet(packet(doc_id="B", at=T0 + timedelta(hours=1)))
    await store.commit_packet(packet(sender=PROVINCE, recipients=(DEPT,), doc_id="C"))
    assert [d.edxml_document_id for d in await store.sent_by([DEPT])] == ["B", "A"]
    assert [d.edxml_document_id for d in await store.sent_by([DEPT], edxml_document_id="A")] == [
        "A"
    ]
    assert [
        d.edxml_document_id for d in await store.sent_by([DEPT], since=T0 + timedelta(minutes=1))
    ] == ["B"]
    assert len(await store.sent_by(["*.H36"])) == 3
    assert await store.sent_by([COMMUNE]) == []


async def test_trace_of_unknown_document(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.document_trace("nope")
    with pytest.raises(NotFoundError):
        await store.get_document("nope")


# --- counters ---------------------------------------------------------------------------


async def test_counters_split_by_day_verdict_scope(store: Store) -> None:
    late = datetime(2026, 1, 1, 18, 30, tzinfo=UTC)  # 01:30 on 2 January in Vietnam
    await store.commit_packet(packet(doc_id="A", at=late, recipients=(PROVINCE, COMMUNE)))
    await store.commit_packet(
        packet(
            doc_id="B", at=late, verdict="unsigned", recipients=(PROVINCE,), national=(MINISTRY,)
        )
    )
    await store.record_refusal(
        Refusal(
            system_id="sys.test",
            code="sig.invalid",
            message="bad",
            at=late,
            sender_code=DEPT,
            sender_tier="province",
            verdict="invalid",
        )
    )
    await store.record_refusal(
        Refusal(system_id=None, code="xml.malformed", message="not XML", at=late)
    )
    rows = await store.counter_rows(date(2026, 1, 2), date(2026, 1, 2))
    got = {(r.agency_code, r.direction, r.verdict, r.scope): r.count for r in rows}
    assert got == {
        (DEPT, "sent", "valid", "internal"): 1,
        (DEPT, "sent", "unsigned", "national"): 1,
        (PROVINCE, "received", "valid", "internal"): 1,
        (PROVINCE, "received", "unsigned", "internal"): 1,
        (COMMUNE, "received", "valid", "internal"): 1,
        (DEPT, "refused", "invalid", "internal"): 1,
        (None, "refused", None, "internal"): 1,
    }
    assert all(r.day == date(2026, 1, 2) for r in rows)
    assert await store.counter_rows(date(2026, 1, 1), date(2026, 1, 1)) == []
    assert [r.tier for r in rows if r.agency_code == COMMUNE] == ["commune"]
    assert await store.counter_rows(agency_codes=[COMMUNE]) == [
        r for r in rows if r.agency_code == COMMUNE
    ]
    assert await store.counter_rows() == await store.recount_from_events()


async def test_record_event_is_audited(store: Store) -> None:
    await store.commit_packet(packet())
    doc_id = (await store.sent_by([DEPT]))[0].id
    await store.record_event("admin.note", document_id=doc_id, actor="admin", detail={"x": 1})
    trace = await store.document_trace(doc_id)
    assert trace[-1].kind == "admin.note" and trace[-1].detail == {"x": 1}
