"""The delivery queue in the store, on SQLite and PostgreSQL: what is claimable, leases,
attempts and their consequences, dead letters and requeues, push secrets, queue figures,
and (PostgreSQL) several claimers on one database never taking the same row."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from axis.breaker import BreakerState
from axis.directory import Agency
from axis.retry import Dead, Done, Retry
from axis.store import NewDelivery, NewPacket, Store, dedup_key, open_store
from axis.store import schema as t
from axis.store.deliveries import destination_of
from axis.transport import DeliveryOutcome
from axis_errors import NotFoundError
from tests.store_support import drop_schema, fresh_store

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SENDER = "000.00.00.H36"
PUSHED = "000.01.30.H36"  # receives by push
PULLED = "000.02.30.H36"  # receives by pull
MINISTRY = "000.00.00.G22"  # through the national axis
URL = "http://127.0.0.1:9/axis/inbox"
DEST = "http://127.0.0.1:9"
OK = DeliveryOutcome(ok=True)
FAIL = DeliveryOutcome(ok=False, error_code="push.http-500", error="The endpoint answered 500.")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    pg = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    async with fresh_store(request.param, tmp_path, pg, now=Clock()) as s:
        await s.upsert_agencies(
            [
                Agency(SENDER, "UBND tỉnh", "province"),
                Agency(PUSHED, "Phường 1", "commune", delivery_mode="push", push_url=URL),
                Agency(PULLED, "Phường 2", "commune"),
            ]
        )
        await s.set_push_delivery(PUSHED, URL, "s3cret-push-key")
        yield s


def packet(n: int, targets: list[tuple[str, str]], at: datetime = T0) -> NewPacket:
    doc_id = f"{n}/UBND"
    return NewPacket(
        kind="document",
        sender_code=SENDER,
        sender_tier="province",
        system_id=None,
        edxml_document_id=doc_id,
        dedup_key=dedup_key("document", SENDER, doc_id, "0"),
        received_at=at,
        verdict="valid",
        data=f"<packet n='{n}'/>".encode(),
        deliveries=tuple(
            NewDelivery(code, code, route, "commune" if route == "local" else "central")  # type: ignore[arg-type]
            for code, route in targets
        ),
        answer={},
    )


ALL = [(PUSHED, "local"), (PULLED, "local"), (MINISTRY, "national")]


async def test_only_push_and_national_deliveries_are_claimed(store: Store) -> None:
    await store.commit_packet(packet(1, ALL))
    claims = await store.claim_due(T0, limit=10, lease_seconds=60)
    got = {(c.job.target_code, c.job.route, c.job.destination) for c in claims}
    assert got == {(PUSHED, "local", DEST), (MINISTRY, "national", "national")}
    assert all(c.data == b"<packet n='1'/>" and c.since == T0 for c in claims)
    # leased: nobody claims them again until the lease ends
    assert await store.claim_due(T0 + timedelta(seconds=59), limit=10, lease_seconds=60) == []
    again = await store.claim_due(T0 + timedelta(seconds=61), limit=10, lease_seconds=60)
    assert len(again) == 2
    # the pull delivery is in its inbox, never claimed; the push one waits in its inbox too
    assert [i.target_code for i in await store.list_inbox([PULLED])] == [PULLED]
    assert [i.target_code for i in await store.list_inbox([PUSHED])] == [PUSHED]
    # only the routes asked for
    later = T0 + timedelta(seconds=200)
    only = await store.claim_due(later, limit=10, lease_seconds=60, routes=("national",))
    assert [c.job.route for c in only] == ["national"]


async def test_a_pushed_delivery_is_acknowledged_counted_and_leaves_the_inbox(
    store: Store,
) -> None:
    await store.commit_packet(packet(1, ALL))
    (claim,) = await store.claim_due(T0, limit=10, lease_seconds=60, routes=("local",))
    state = await store.record_attempt(claim.job, OK, Done(), T0, duration_ms=12)
    assert state == "acked"
    assert [i.target_code for i in await store.list_inbox([PUSHED])] == []
    acked = [r for r in await store.counter_rows() if r.direction == "acknowledged"]
    assert [(r.agency_code, r.count) for r in acked] == [(PUSHED, 1)]
    assert await store.recount_from_events() == await store.counter_rows()
    # a later acknowledgement by pull changes nothing
    assert await store.ack_delivery(claim.job.delivery_id, [PUSHED]) is False
    (attempt,) = await store.delivery_history(claim.job.delivery_id)
    assert attempt.ok and attempt.attempt == 1 and attempt.duration_ms == 12


async def test_acknowledged_by_pull_during_a_push_counts_once(store: Store) -> None:
    await store.commit_packet(packet(1, ALL))
    (claim,) = await store.claim_due(T0, limit=10, lease_seconds=60, routes=("local",))
    assert await store.ack_delivery(claim.job.delivery_id, [PUSHED]) is True
    assert await store.record_attempt(claim.job, OK, Done(), T0) == "acked"
    acked = [r for r in await store.counter_rows() if r.direction == "acknowledged"]
    assert [(r.agency_code, r.count) for r in acked] == [(PUSHED, 1)]


async def test_fetched_by_pull_leaves_the_push_queue(store: Store) -> None:
    await store.commit_packet(packet(1, ALL))
    (item,) = await store.list_inbox([PUSHED])
    await store.fetch_delivery(item.delivery_id, [PUSHED])
    claims = await store.claim_due(T0, limit=10, lease_seconds=60, routes=("local",))
    assert claims == []


async def test_retry_then_dead_letter_then_requeue(store: Store) -> None:
    await store.commit_packet(packet(1, ALL))
    (claim,) = await store.claim_due(T0, limit=10, lease_seconds=60, routes=("local",))
    at = T0 + timedelta(seconds=30)
    assert await store.record_attempt(claim.job, FAIL, Retry(at), T0) == "pending"
    early = at - timedelta(seconds=1)
    assert await store.claim_due(early, limit=10, lease_seconds=60, routes=("local",)) == []
    (claim2,) = await store.claim_due(at, limit=10, lease_seconds=60, routes=("local",))
    assert claim2.job.attempts == 1 and claim2.job.delivery_id == claim.job.delivery_id
    view = await store.get_delivery(claim.job.delivery_id)
    assert view.state == "pending" and view.last_error and "push.http-500" in view.last_error
    assert view.mode == "push" and view.destination == DEST

    assert await store.record_attempt(claim2.job, FAIL, Dead("Gave up."), at) == "dead"
    history = await store.delivery_history(claim.job.delivery_id)
    assert [(a.attempt, a.ok, a.error_code) for a in history] == [
        (1, False, "push.http-500"),
        (2, False, "push.http-500"),
    ]
    dead = await store.list_deliveries(destination=DEST, state="dead")
    assert [x.delivery_id for x in dead] == [claim.job.delivery_id]
    assert await store.list_inbox([PUSHED]) == []  # a dead letter is not in the inbox

    later = at + timedelta(minutes=5)
    store._now = lambda: later
    assert await store.requeue(claim.job.delivery_id, actor="quantri") is True
    assert await store.requeue(claim.job.delivery_id, actor="quantri") is False
    (claim3,) = await store.claim_due(later, limit=10, lease_seconds=60, routes=("local",))
    assert claim3.job.attempts == 0 and claim3.since == later
    assert len(await store.delivery_history(claim.job.delivery_id)) == 2
    trace = [e.kind for e in await store.document_trace(claim.job.document_id)]
    assert "delivery.dead" in trace and "delivery.requeued" in trace
    with pytest.raises(NotFoundError):
        await store.requeue(999_999)


async def test_requeue_all_of_a_destination_resets_its_breaker(store: Store) -> None:
    for n in range(3):
        await store.commit_packet(packet(n, [(PUSHED, "local"), (PULLED, "local")]))
    claims = await store.claim_due(T0, limit=10, lease_seconds=60)
    assert len(claims) == 3
    opened = BreakerState(DEST, "open", 5, T0, T0, "push.timeout", T0)
    for c in claims:
        await store.record_attempt(c.job, FAIL, Dead("Gave up."), T0, breaker=opened)
    stats = {s.destination: s for s in await store.queue_stats(T0)}
    assert stats[DEST].dead == 3 and stats[DEST].paused and stats[DEST].breaker == "open"
    assert await store.requeue_destination(DEST, actor="quantri") == 3
    stats = {s.destination: s for s in await store.queue_stats(T0)}
    assert stats[DEST].dead == 0 and stats[DEST].pending == 3 and not stats[DEST].paused
    assert (await store.breaker_states())[DEST].state == "closed"


async def test_per_destination_limit_and_skip(store: Store) -> None:
    for n in range(6):
        await store.commit_packet(packet(n, [(PUSHED, "local"), (MINISTRY, "national")]))
    claims = await store.claim_due(
        T0, limit=100, lease_seconds=60, per_destination=2, national_limit=3
    )
    routes = sorted(c.job.route for c in claims)
    assert routes == ["local", "local", "national", "national", "national"]
    later = T0 + timedelta(minutes=5)
    skipped = await store.claim_due(later, limit=100, lease_seconds=60, skip={DEST, "national"})
    assert skipped == []


async def test_push_secret_is_encrypted_and_pull_keeps_the_inbox(store: Store) -> None:
    target = await store.push_target(PUSHED)
    assert target is not None and target.url == URL and target.secret == "s3cret-push-key"
    assert "s3cret" not in repr(target)
    async with store._read() as conn:
        sealed = (await conn.execute(sa.select(t.push_secrets.c.secret_enc))).scalar_one()
    assert b"s3cret-push-key" not in bytes(sealed)
    await store.commit_packet(packet(1, ALL))
    await store.set_pull_delivery(PUSHED, actor="quantri")
    assert await store.push_target(PUSHED) is None
    claims = await store.claim_due(T0, limit=10, lease_seconds=60, routes=("local",))
    assert claims == []
    assert [i.target_code for i in await store.list_inbox([PUSHED])] == [PUSHED]
    with pytest.raises(NotFoundError):
        await store.set_push_delivery("000.09.99.H36", URL, "x")


async def test_queue_stats(store: Store) -> None:
    for n in range(3):
        await store.commit_packet(packet(n, ALL, at=T0 + timedelta(seconds=n)))
    claims = await store.claim_due(T0, limit=1, lease_seconds=60, routes=("local",))
    await store.record_attempt(claims[0].job, OK, Done(), T0)
    now = T0 + timedelta(minutes=2)
    stats = {s.destination: s for s in await store.queue_stats(now, include_pull=True)}
    push = stats[DEST]
    assert (push.mode, push.agencies, push.pending, push.delivered_last_hour) == (
        "push",
        (PUSHED,),
        2,
        1,
    )
    assert push.oldest_pending_age == 119.0
    assert stats["national"].pending == 3 and stats["national"].mode == "national"
    assert stats["inbox:" + PULLED].pending == 3 and stats["inbox:" + PULLED].mode == "pull"
    assert "inbox:" + PULLED not in {s.destination for s in await store.queue_stats(now)}


def test_destination_is_the_origin() -> None:
    assert destination_of("local", "HTTPS://Agency.example:443/a/b?x=1") == "https://agency.example"
    assert destination_of("local", "http://10.0.0.1:8080/in") == "http://10.0.0.1:8080"
    assert destination_of("national", None) == "national"
    assert destination_of("local", None, "000.01.30.H36") == "inbox:000.01.30.H36"


@pytest.mark.postgres
async def test_claimers_on_one_postgresql_database_never_share_a_row(
    tmp_path: Path, postgres_url: str
) -> None:
    schema = "t_" + secrets.token_hex(6)
    key = secrets.token_bytes(32)
    stores = [
        await open_store(postgres_url, secret_key=key, schema=schema, node=f"n{i}")
        for i in range(3)
    ]
    try:
        first = stores[0]
        await first.upsert_agencies(
            [
                Agency(SENDER, "UBND tỉnh", "province"),
                Agency(PUSHED, "Phường 1", "commune", delivery_mode="push", push_url=URL),
            ]
        )
        for n in range(60):
            await first.commit_packet(packet(n, [(PUSHED, "local"), (MINISTRY, "national")]))

        async def claim_all(s: Store) -> list[int]:
            got: list[int] = []
            for _ in range(30):
                claims = await s.claim_due(
                    T0, limit=5, lease_seconds=600, per_destination=5, national_limit=5
                )
                got += [c.job.delivery_id for c in claims]
                await asyncio.sleep(0)
            return got

        results = await asyncio.gather(*(claim_all(s) for s in stores))
        every = [i for r in results for i in r]
        assert len(every) == len(set(every)) == 120
        assert all(results), "each claimer got some work"
    finally:
        for s in stores:
            await s.close()
        await drop_schema(postgres_url, schema)
