"""Push delivery end to end against real endpoints on loopback: signed requests, retries
per policy, dead letters with their history, requeues, the circuit breaker, a slow
destination beside a healthy one, and several engines on one PostgreSQL database.

The engine runs as in the daemon (apscheduler sweep + wake-ups) on a real store; the
endpoints are aiohttp servers (tests/push_support.py) that count what they acknowledged
by X-Axis-Delivery-Id, so "never duplicated to an endpoint that answered 2xx" is a
count, not a guess."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.webhook import PushClient
from axis.breaker import BreakerPolicy
from axis.delivery import DeliveryEngine, EngineSettings
from axis.directory import Agency
from axis.push import PushTransport
from axis.retry import RetryPolicy
from axis.store import NewDelivery, NewPacket, Store, dedup_key, open_store
from axis.store.deliveries import destination_of
from tests.push_support import receiver, until
from tests.store_support import drop_schema, fresh_store

SENDER = "000.00.00.H36"
A = "000.01.30.H36"
B = "000.02.30.H36"
PULLED = "000.01.31.H36"
SECRET_A = "secret-of-phuong-1-" + "a" * 20
SECRET_B = "secret-of-phuong-2-" + "b" * 20
FAST = RetryPolicy(max_attempts=4, base_delay=0.05, factor=2, max_delay=0.2, jitter=0.2)
LENIENT = BreakerPolicy(failures=1000, failing_for=timedelta(days=1))


def packet(n: int, *targets: str) -> NewPacket:
    doc_id = f"{n}/UBND-{secrets.token_hex(3)}"
    return NewPacket(
        kind="document",
        sender_code=SENDER,
        sender_tier="province",
        system_id=None,
        edxml_document_id=doc_id,
        dedup_key=dedup_key("document", SENDER, doc_id, "0"),
        received_at=datetime.now(UTC),
        verdict="valid",
        data=f"<edXML n='{n}'>Về việc chuyển đổi số</edXML>".encode(),
        deliveries=tuple(NewDelivery(c, c, "local", "commune") for c in targets),
        answer={},
    )


async def setup_directory(store: Store, a_url: str, b_url: str | None = None) -> None:
    agencies = [
        Agency(SENDER, "UBND tỉnh Lâm Đồng", "province"),
        Agency(A, "UBND Phường 1", "commune"),
        Agency(B, "UBND Phường 2", "commune"),
        Agency(PULLED, "UBND xã Đức Trọng", "commune"),
    ]
    await store.upsert_agencies(agencies)
    await store.set_push_delivery(A, a_url, SECRET_A)
    if b_url:
        await store.set_push_delivery(B, b_url, SECRET_B)


def engine_for(
    store: Store,
    *,
    policy: RetryPolicy = FAST,
    breaker: BreakerPolicy = LENIENT,
    timeout: float = 5.0,
    per_destination: int = 4,
) -> DeliveryEngine:
    client = PushClient(timeout=timeout)
    return DeliveryEngine(
        store,
        {"local": PushTransport(store, client)},
        policy,
        breaker=breaker,
        settings=EngineSettings(
            per_destination=per_destination, attempt_timeout=timeout + 5, lease_seconds=60
        ),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    pg = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    async with fresh_store(request.param, tmp_path, pg) as s:
        yield s


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with fresh_store("sqlite", tmp_path, None) as s:
        yield s


async def states(store: Store, *ids: int) -> list[str]:
    return [(await store.get_delivery(i)).state for i in ids]


async def delivery_ids(store: Store, target: str) -> list[int]:
    return [d.delivery_id for d in await store.list_deliveries() if d.target_code == target]


async def test_pushed_once_signed_acknowledged_and_out_of_the_inbox(store: Store) -> None:
    async with receiver(SECRET_A) as ra, AsyncExitStack() as stack:
        await setup_directory(store, ra.url)
        packets = [packet(n, A, PULLED) for n in range(5)]
        for p in packets:
            await store.commit_packet(p)
        engine = engine_for(store)
        engine.start(sweep_interval=0.05)
        stack.push_async_callback(engine.close)
        ids = await delivery_ids(store, A)
        await until(lambda: _all(store, ids, "acked"), "every push acknowledged")
        assert ra.bad_signatures == 0
        assert sorted(ra.acked) == sorted(str(i) for i in ids)
        assert set(ra.acked.values()) == {1}
        assert sorted(ra.bodies.values()) == sorted(p.data for p in packets)
        first = ra.headers[0]
        assert first["X-Axis-Kind"] == "document" and first["X-Axis-To"] == A
        assert first["X-Axis-From"] == SENDER and first["X-Axis-Attempt"] == "1"
        # pushed means acknowledged: counted like a pull acknowledgement, out of the inbox
        acked = [r for r in await store.counter_rows() if r.direction == "acknowledged"]
        assert [(r.agency_code, r.count) for r in acked] == [(A, 5)]
        assert await store.recount_from_events() == await store.counter_rows()
        assert await store.list_inbox([A]) == []
        assert await store.ack_delivery(ids[0], [A]) is False
        # the pull agency's deliveries were never pushed: they wait in its inbox
        assert len(await store.list_inbox([PULLED])) == 5
        stats = {s.destination: s for s in await store.queue_stats(datetime.now(UTC))}
        dest = destination_of("local", ra.url)
        assert stats[dest].delivered_last_hour == 5 and stats[dest].pending == 0


async def _all(store: Store, ids: list[int], state: str) -> bool:
    return all(s == state for s in await states(store, *ids))


async def test_timeout_then_500_then_back_is_delivered_once(sqlite_store: Store) -> None:
    store = sqlite_store
    async with receiver(SECRET_A, script=["slow", "500"]) as ra, AsyncExitStack() as stack:
        await setup_directory(store, ra.url)
        await store.commit_packet(packet(1, A))
        engine = engine_for(store, timeout=0.5)
        engine.start(sweep_interval=0.05)
        stack.push_async_callback(engine.close)
        (did,) = await delivery_ids(store, A)
        await until(lambda: _all(store, [did], "acked"), "delivered after coming back")
        history = await store.delivery_history(did)
        assert [(a.attempt, a.ok, a.error_code) for a in history] == [
            (1, False, "push.timeout"),
            (2, False, "push.http-500"),
            (3, True, None),
        ]
        assert ra.acked == {str(did): 1}
        # the same delivery id on every attempt, so that receivers can deduplicate
        assert {h["X-Axis-Delivery-Id"] for h in ra.headers} == {str(did)}
        assert [h["X-Axis-Attempt"] for h in ra.headers] == ["1", "2", "3"]


async def test_dead_letter_after_the_last_attempt_then_requeued_and_delivered(
    store: Store,
) -> None:
    async with receiver(SECRET_A, default="500") as ra, AsyncExitStack() as stack:
        await setup_directory(store, ra.url)
        await store.commit_packet(packet(1, A))
        engine = engine_for(store)
        engine.start(sweep_interval=0.05)
        stack.push_async_callback(engine.close)
        (did,) = await delivery_ids(store, A)
        await until(lambda: _all(store, [did], "dead"), "a dead letter")
        history = await store.delivery_history(did)
        assert [a.error_code for a in history] == ["push.http-500"] * FAST.max_attempts
        assert ra.requests == FAST.max_attempts and not ra.acked
        view = await store.get_delivery(did)
        assert view.last_error is not None and "4 attempts" in view.last_error
        # nothing more happens to a dead letter
        for _ in range(3):
            await engine.tick()
            await engine.drain()
        assert ra.requests == FAST.max_attempts

        ra.default = "ok"  # the agency's system is back; the admin retries
        assert await store.requeue(did, actor="quantri") is True
        engine.wake()
        await until(lambda: _all(store, [did], "acked"), "delivered after the requeue")
        assert ra.acked == {str(did): 1}
        assert len(await store.delivery_history(did)) == FAST.max_attempts + 1
        trace = [e.kind for e in await store.document_trace(view.document_id)]
        assert trace[-3:] == ["delivery.dead", "delivery.requeued", "delivery.acked"]


async def test_a_refused_packet_is_dead_at_once(sqlite_store: Store) -> None:
    store = sqlite_store
    async with receiver(SECRET_A, default="400") as ra, AsyncExitStack() as stack:
        await setup_directory(store, ra.url)
        await store.commit_packet(packet(1, A))
        engine = engine_for(store)
        engine.start(sweep_interval=0.05)
        stack.push_async_callback(engine.close)
        (did,) = await delivery_ids(store, A)
        await until(lambda: _all(store, [did], "dead"), "dead at once")
        assert [a.error_code for a in await store.delivery_history(did)] == ["push.http-400"]
        assert ra.requests == 1


async def test_a_slow_destination_does_not_block_another(sqlite_store: Store) -> None:
    store = sqlite_store
    async with (
        receiver(SECRET_A, default="hold") as slow,
        receiver(SECRET_B) as quick,
        AsyncExitStack() as stack,
    ):
        await setup_directory(store, slow.url, quick.url)
        for n in range(6):
            await store.commit_packet(packet(n, A, B))
        engine = engine_for(store, timeout=30.0, per_destination=2)
        engine.start(sweep_interval=0.05)
        stack.push_async_callback(engine.close)
        a_ids, b_ids = await delivery_ids(store, A), await delivery_ids(store, B)
        # B is served completely while every request to A hangs
        await until(lambda: _all(store, b_ids, "acked"), "the quick destination served")
        assert not slow.gate.is_set() and not slow.acked
        assert 1 <= slow.max_active <= 2  # the per-destination limit
        assert await states(store, *a_ids) == ["pending"] * 6
        slow.gate.set()  # A answers at last
        await until(lambda: _all(store, a_ids, "acked"), "the slow destination served")
        assert set(slow.acked.values()) == {1} and len(slow.acked) == 6
        assert slow.max_active <= 2


async def test_a_failing_destination_is_paused_by_the_breaker(sqlite_store: Store) -> None:
    store = sqlite_store
    breaker = BreakerPolicy(failures=3, cooldown=timedelta(hours=1))
    policy = RetryPolicy(max_attempts=50, base_delay=0.05, max_delay=0.1)
    async with receiver(SECRET_A, default="500") as ra, AsyncExitStack() as stack:
        await setup_directory(store, ra.url)
        for n in range(5):
            await store.commit_packet(packet(n, A))
        engine = engine_for(store, policy=policy, breaker=breaker, per_destination=1)
        engine.start(sweep_interval=0.05)
        stack.push_async_callback(engine.close)
        dest = destination_of("local", ra.url)

        async def paused() -> bool:
            return any(s.destination == dest and s.paused for s in await store.queue_stats(_now()))

        await until(paused, "the destination paused")
        await engine.drain()
        tried = ra.requests
        assert tried == 3  # one at a time: exactly the breaker's failures
        for _ in range(5):
            await engine.tick()
            await engine.drain()
        assert ra.requests == tried  # paused: nothing is sent while the breaker is open
        (stat,) = [s for s in await store.queue_stats(_now()) if s.destination == dest]
        assert stat.breaker == "open" and stat.pending == 5 and stat.last_error == "push.http-500"
        assert engine.breaker(dest).paused

        # the admin fixes the endpoint and retries the destination: the breaker closes
        ra.default = "ok"
        assert await store.requeue_destination(dest, actor="quantri") == 0  # none dead yet
        engine.wake()
        ids = await delivery_ids(store, A)
        await until(lambda: _all(store, ids, "acked"), "delivered once the breaker closed")
        assert set(ra.acked.values()) == {1}


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.postgres
async def test_two_engines_on_one_postgresql_never_deliver_a_row_twice(
    postgres_url: str,
) -> None:
    schema = "t_" + secrets.token_hex(6)
    key = secrets.token_bytes(32)
    async with receiver(SECRET_A) as ra, AsyncExitStack() as stack:
        stores = []
        for node in ("n1", "n2"):
            s = await open_store(postgres_url, secret_key=key, schema=schema, node=node)
            stack.push_async_callback(s.close)
            stores.append(s)
        stack.push_async_callback(drop_schema, postgres_url, schema)
        await setup_directory(stores[0], ra.url)
        for n in range(40):
            await stores[0].commit_packet(packet(n, A))
        engines = [engine_for(s, per_destination=8) for s in stores]
        for e in engines:
            e.start(sweep_interval=0.02)
            stack.push_async_callback(e.close)
        ids = await delivery_ids(stores[0], A)
        await until(lambda: _all(stores[0], ids, "acked"), "all 40 delivered")
        assert len(ra.acked) == 40 and set(ra.acked.values()) == {1}
        assert ra.requests == 40
        nodes = {
            e.node
            for i in ids
            for e in await stores[0].document_trace((await stores[0].get_delivery(i)).document_id)
            if e.kind == "delivery.acked"
        }
        assert nodes <= {"n1", "n2"}
