"""Property tests of the transactional counters: random exchanges (with duplicates,
refusals and repeated acknowledgements) against a model of what must be counted."""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis.directory import Agency, Tier
from axis.store import (
    CounterRow,
    NewDelivery,
    NewPacket,
    Refusal,
    Store,
    dedup_key,
    new_document_id,
)
from tests.conftest import pg_url
from tests.store_support import fresh_store

AGENCIES: dict[str, Tier] = {
    "000.00.00.H36": "province",
    "000.01.00.H36": "province",
    "000.00.31.H36": "district",
    "000.31.31.H36": "commune",
    "000.32.31.H36": "commune",
}
CODES = sorted(AGENCIES)
MINISTRY = "000.00.00.G22"
VERDICTS = ("valid", "unsigned", "untrusted")
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Send:
    sender: str
    recipients: frozenset[str]
    national: bool
    doc: int  # small range: collisions are duplicates
    verdict: str
    hours: int


@dataclass(frozen=True)
class Refuse:
    sender: str | None
    verdict: str | None


@dataclass(frozen=True)
class Ack:
    index: int  # which delivery (modulo how many exist)
    times: int


sends = st.builds(
    Send,
    sender=st.sampled_from(CODES),
    recipients=st.frozensets(st.sampled_from(CODES), min_size=0, max_size=3),
    national=st.booleans(),
    doc=st.integers(0, 4),
    verdict=st.sampled_from(VERDICTS),
    hours=st.integers(0, 30),
)
refusals = st.builds(
    Refuse,
    sender=st.none() | st.sampled_from(CODES),
    verdict=st.none() | st.sampled_from(("invalid", "unsigned")),
)
acks = st.builds(Ack, index=st.integers(0, 50), times=st.integers(1, 3))
operations = st.lists(st.one_of(sends, refusals, acks), min_size=1, max_size=14)


def _packet(op: Send) -> NewPacket:
    # a packet has at least one recipient
    recipients = op.recipients if op.recipients or op.national else frozenset({CODES[0]})
    deliveries = tuple(
        NewDelivery(code, code, "local", AGENCIES[code]) for code in sorted(recipients)
    ) + ((NewDelivery(MINISTRY, MINISTRY, "national", "central"),) if op.national else ())
    doc_id = f"DOC-{op.doc}"
    document_id = new_document_id()
    return NewPacket(
        kind="document",
        sender_code=op.sender,
        sender_tier=AGENCIES[op.sender],
        system_id="sys",
        edxml_document_id=doc_id,
        dedup_key=dedup_key("document", op.sender, doc_id),
        received_at=T0 + timedelta(hours=op.hours),
        verdict=op.verdict,
        data=f"<p>{doc_id}</p>".encode(),
        deliveries=deliveries,
        answer={"id": document_id},
        document_id=document_id,
    )


async def _play(store: Store, ops: list[Send | Refuse | Ack]) -> Counter[tuple[str, str]]:
    """Run the operations; return the model's expected totals per (agency, direction)."""
    expected: Counter[tuple[str, str]] = Counter()
    seen_keys: set[str] = set()
    for op in ops:
        if isinstance(op, Send):
            p = _packet(op)
            committed = await store.commit_packet(p)
            assert committed.created == (p.dedup_key not in seen_keys)
            if committed.created:
                seen_keys.add(p.dedup_key)
                expected[(p.sender_code, "sent")] += 1
                for d in p.deliveries:
                    if d.route == "local":
                        expected[(d.target_code, "received")] += 1
        elif isinstance(op, Refuse):
            await store.record_refusal(
                Refusal(
                    system_id=None,
                    code="sig.invalid",
                    message="refused",
                    at=T0,
                    sender_code=op.sender,
                    sender_tier=AGENCIES[op.sender] if op.sender else None,
                    verdict=op.verdict,
                )
            )
            expected[(op.sender or "", "refused")] += 1
        else:
            inbox = await store.list_inbox(CODES, limit=1000)
            if not inbox:
                continue
            item = inbox[op.index % len(inbox)]
            results = [
                await store.ack_delivery(item.delivery_id, [item.target_code])
                for _ in range(op.times)
            ]
            assert results == [True] + [False] * (op.times - 1)
            expected[(item.target_code, "acknowledged")] += 1
    return expected


async def _check(store: Store, ops: list[Send | Refuse | Ack]) -> None:
    expected = await _play(store, ops)
    rows = await store.counter_rows()
    got: Counter[tuple[str, str]] = Counter()
    for r in rows:
        assert r.count > 0
        got[(r.agency_code or "", r.direction)] += r.count
    assert got == +expected
    # totals equal the sum of parts, whatever the grouping
    by_tier: Counter[str] = Counter()
    by_verdict: Counter[str] = Counter()
    for r in rows:
        by_tier[r.tier or ""] += r.count
        by_verdict[r.verdict or ""] += r.count
    assert sum(by_tier.values()) == sum(by_verdict.values()) == sum(expected.values())
    # tiers are the agencies' own
    for r in rows:
        if r.agency_code:
            assert r.tier == AGENCIES[r.agency_code]
    # the counters are exactly what the audit events say
    assert rows == await store.recount_from_events()


def _run(backend: str, ops: list[Send | Refuse | Ack]) -> list[CounterRow]:
    async def main() -> list[CounterRow]:
        with tempfile.TemporaryDirectory() as tmp:
            async with fresh_store(backend, Path(tmp), pg_url()) as store:
                await store.upsert_agencies(
                    [Agency(code, code, tier) for code, tier in AGENCIES.items()]
                )
                await _check(store, ops)
                return await store.counter_rows()

    return asyncio.run(main())


@settings(max_examples=40)
@given(operations)
def test_counters_match_model_sqlite(ops: list[Send | Refuse | Ack]) -> None:
    _run("sqlite", ops)


@pytest.mark.postgres
@settings(max_examples=10)
@given(operations)
def test_counters_match_model_postgresql(ops: list[Send | Refuse | Ack]) -> None:
    if pg_url() is None:
        pytest.skip("PostgreSQL tests skipped: set AXIS_TEST_PG_URL")
    _run("postgresql", ops)


def test_three_recipients_count_one_send_three_receipts_and_duplicate_nothing() -> None:
    op = Send(CODES[1], frozenset(CODES[2:5]), national=False, doc=1, verdict="valid", hours=0)
    rows = _run("sqlite", [op, op, op])
    assert sorted((r.agency_code, r.direction, r.count) for r in rows) == sorted(
        [(CODES[1], "sent", 1)] + [(code, "received", 1) for code in CODES[2:5]]
    )


def test_national_recipient_makes_the_send_national_and_counts_no_receipt() -> None:
    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            async with fresh_store("sqlite", Path(tmp), None) as store:
                op = Send(CODES[0], frozenset({CODES[1]}), True, 0, "valid", 0)
                await store.commit_packet(_packet(op))
                rows = await store.counter_rows()
                assert [(r.agency_code, r.direction, r.scope) for r in rows] == [
                    (CODES[0], "sent", "national"),
                    (CODES[1], "received", "internal"),
                ]

    asyncio.run(main())
