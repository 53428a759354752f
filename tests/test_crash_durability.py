"""SIGKILL the daemon while clients are sending, restart it, and check DESIGN rule 4.1:

* every packet that got a 2xx answer is in the store, with all its deliveries;
* no delivery acknowledged before the kill is in an inbox again;
* the counters equal what the stored audit events say;
* a packet whose request got no answer is either wholly there (document, bytes,
  deliveries, counters, event) or wholly absent;
* sending the unanswered packets again after the restart leaves exactly one copy.

The daemon is a real ``axis serve`` child process on a SQLite file (and on a fresh
PostgreSQL database when one is configured); the clients talk to it over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.store import DocumentRecord, Store, open_configured_store
from certs.pki import Issued
from edxml.builder import build_document
from signing.sign import sign_packet
from tests.conftest import fresh_pg_database
from tests.daemon_process import DaemonProcess, free_port
from tests.harness import NOW, document

DEPT = "000.01.00.H36"
FINANCE = "000.02.00.H36"
CITY = "000.30.00.H36"
WARD1 = "000.01.30.H36"
WARD2 = "000.02.30.H36"
DUC_TRONG = "000.01.31.H36"

#: (systemid, From, To...) of the packets the clients send, in turn.
ROUTES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("qlvb.lamdong", PROVINCE, (DEPT, CITY, WARD1)),
    ("qlvb.lamdong", DEPT, (CITY,)),
    ("qlvb.lamdong", FINANCE, (PROVINCE, WARD2)),
    ("qlvb.dalat", CITY, (PROVINCE, DEPT)),
    ("qlvb.dalat", WARD1, (CITY, DUC_TRONG)),
    ("qlvb.ductrong", DUC_TRONG, (CITY, WARD2, PROVINCE)),
)
ACKER = "qlvb.dalat"  # acknowledges deliveries to Đà Lạt and its wards as they arrive
PACKETS = 900
KILL_AFTER = 300  # 2xx answers before the SIGKILL
SENDERS = 12  # concurrent sending clients


@dataclass(frozen=True)
class Packet:
    index: int
    systemid: str
    sender: str
    recipients: tuple[str, ...]
    edxml_id: str
    data: bytes


@dataclass
class Load:
    """What the clients saw. ``answered``: index -> axis document id (2xx)."""

    answered: dict[int, str] = field(default_factory=dict)
    unanswered: set[int] = field(default_factory=set)
    refused: dict[int, tuple[int, Any]] = field(default_factory=dict)
    acked: set[int] = field(default_factory=set)  # delivery ids whose ack got a 200
    seen: set[int] = field(default_factory=set)  # delivery ids the acker listed
    enough: asyncio.Event = field(default_factory=asyncio.Event)


def build_packets(dep: DevDeployment, count: int) -> list[Packet]:
    keys: dict[str, Issued] = {}
    out = []
    for i in range(count):
        systemid, sender, recipients = ROUTES[i % len(ROUTES)]
        if sender not in keys:
            keys[sender] = dep.pki.issued(dep.pki.agency(sender))
        issued = keys[sender]
        doc = document(sender, recipients, number=str(1000 + i), notation="KILL")
        data = sign_packet(build_document(doc), issued.key, issued.cert, chain=issued.chain[:1])
        out.append(Packet(i, systemid, sender, recipients, doc.document_id, data))
    return out


def auth(dep: DevDeployment, systemid: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {dep.systems[systemid].token}"}


async def send(
    session: aiohttp.ClientSession, base: str, dep: DevDeployment, p: Packet
) -> tuple[int, Any]:
    async with session.post(
        f"{base}/api/v1/packets", data=p.data, headers=auth(dep, p.systemid)
    ) as r:
        return r.status, await r.json()


async def sender_client(
    session: aiohttp.ClientSession,
    base: str,
    dep: DevDeployment,
    todo: list[Packet],
    load: Load,
) -> None:
    """Send packets from the shared list until it is empty or the daemon is gone."""
    while todo:
        p = todo.pop()
        try:
            status, answer = await send(session, base, dep, p)
        except (TimeoutError, aiohttp.ClientError):
            load.unanswered.add(p.index)
            # The daemon is dead: whatever is left was never answered either.
            load.unanswered.update(q.index for q in todo)
            todo.clear()
            return
        if status in (200, 201):
            load.answered[p.index] = answer["document_id"]
            if len(load.answered) >= KILL_AFTER:
                load.enough.set()
        else:
            load.refused[p.index] = (status, answer)


async def acker_client(
    session: aiohttp.ClientSession, base: str, dep: DevDeployment, load: Load
) -> None:
    """List the inbox page by page; acknowledge two deliveries out of three."""
    after = 0
    headers = auth(dep, ACKER)
    try:
        while True:
            async with session.get(
                f"{base}/api/v1/inbox", params={"after": str(after)}, headers=headers
            ) as r:
                items = (await r.json())["items"]
            if not items:
                await asyncio.sleep(0.01)
                continue
            for item in items:
                delivery_id = int(item["delivery_id"])
                after = max(after, delivery_id)
                load.seen.add(delivery_id)
                if delivery_id % 3 == 0:
                    continue
                async with session.post(
                    f"{base}/api/v1/inbox/{delivery_id}/ack", headers=headers
                ) as r:
                    if r.status == 200:
                        load.acked.add(delivery_id)
    except (TimeoutError, aiohttp.ClientError):
        return  # the daemon was killed


async def inbox_ids(session: aiohttp.ClientSession, base: str, dep: DevDeployment) -> set[int]:
    """Every delivery id in the acker's inbox (pending or fetched), all pages."""
    ids: set[int] = set()
    after = 0
    while True:
        async with session.get(
            f"{base}/api/v1/inbox",
            params={"after": str(after), "limit": "1000"},
            headers=auth(dep, ACKER),
        ) as r:
            assert r.status == 200
            items = (await r.json())["items"]
        if not items:
            return ids
        ids.update(int(i["delivery_id"]) for i in items)
        after = max(ids)


async def stored(store: Store, p: Packet) -> list[DocumentRecord]:
    return await store.sent_by([p.sender], edxml_document_id=p.edxml_id)


def assert_whole(doc: DocumentRecord, p: Packet) -> None:
    """A stored packet has every part: its deliveries, its bytes' hash, its answer."""
    assert doc.edxml_document_id == p.edxml_id
    assert sorted(d.target_code for d in doc.deliveries) == sorted(p.recipients), doc
    assert doc.answer["document_id"] == doc.id
    assert doc.size == len(p.data)


async def check_store(store: Store, packets: list[Packet], load: Load) -> dict[int, str]:
    """Rule 4.1 on the store after the restart. Returns the unanswered packets that are
    stored (index -> axis document id)."""
    for index, doc_id in load.answered.items():
        docs = await stored(store, packets[index])
        assert [d.id for d in docs] == [doc_id], f"2xx packet {index} lost"
        assert_whole(docs[0], packets[index])
        assert await store.get_packet(doc_id) == packets[index].data
    present: dict[int, str] = {}
    for index in load.unanswered:
        docs = await stored(store, packets[index])
        assert len(docs) <= 1
        if docs:
            assert_whole(docs[0], packets[index])
            assert await store.get_packet(docs[0].id) == packets[index].data
            trace = await store.document_trace(docs[0].id)
            assert "packet.accepted" in [e.kind for e in trace]
            present[index] = docs[0].id
    # Counters are written in the packet's transaction: a packet with deliveries and no
    # counters (or counters and no event) would make these differ.
    counters = await store.counter_rows()
    assert counters == await store.recount_from_events()
    total = {
        d: sum(r.count for r in counters if r.direction == d)
        for d in ("sent", "received", "acknowledged")
    }
    stored_indexes = [*load.answered, *present]
    assert total["sent"] == len(stored_indexes)
    assert total["received"] == sum(len(packets[i].recipients) for i in stored_indexes)
    assert total["acknowledged"] >= len(load.acked)
    return present


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def deployment(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[DevDeployment]:
    """A deployment on a free port, on a SQLite file or a fresh PostgreSQL database."""
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = await stack.enter_async_context(
                fresh_pg_database(request.getfixturevalue("postgres_url"))
            )
        yield await create_dev_deployment(
            tmp_path / "dep",
            agencies=AGENCIES,
            systems=SYSTEMS,
            now=NOW,
            port=free_port(),
            database_url=url,
        )


@pytest.fixture
async def daemon(deployment: DevDeployment, tmp_path: Path) -> AsyncIterator[DaemonProcess]:
    cfg = deployment.config.server
    d = DaemonProcess(
        deployment.config_path, f"http://{cfg.host}:{cfg.port}", tmp_path / "daemon.log"
    )
    try:
        yield d
    finally:
        d.kill()


@pytest.mark.slow
async def test_sigkill_mid_load_loses_nothing_committed(
    deployment: DevDeployment, daemon: DaemonProcess
) -> None:
    packets = await asyncio.to_thread(build_packets, deployment, PACKETS)
    load = Load()
    base = daemon.base_url
    await daemon.start()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        todo = list(reversed(packets))
        clients = [
            asyncio.create_task(sender_client(session, base, deployment, todo, load))
            for _ in range(SENDERS)
        ]
        acker = asyncio.create_task(acker_client(session, base, deployment, load))
        enough = asyncio.create_task(load.enough.wait())
        await asyncio.wait([enough, *clients], return_when=asyncio.FIRST_COMPLETED)
        assert load.enough.is_set(), f"the load ended early: {daemon.log_text()}"
        os.kill(daemon.pid, signal.SIGKILL)
        await asyncio.gather(*clients, acker)
    daemon.kill()  # reap it

    assert load.refused == {}
    assert len(load.answered) >= KILL_AFTER
    assert load.unanswered, "the kill came after the last packet: nothing was in flight"
    assert load.acked, "the acker acknowledged nothing before the kill"
    assert set(load.answered) | load.unanswered == {p.index for p in packets}

    await daemon.start()
    store = await open_configured_store(deployment.config)
    try:
        present = await check_store(store, packets, load)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            # nothing acknowledged before the kill is offered again
            assert not (await inbox_ids(session, base, deployment)) & load.acked
            # the deliveries the acker saw but left alone are still there
            left = {d for d in load.seen if d % 3 == 0}
            assert left <= await inbox_ids(session, base, deployment)

            # every unanswered packet again: stored ones answer with their original id
            for index in sorted(load.unanswered):
                status, answer = await send(session, base, deployment, packets[index])
                if index in present:
                    assert (status, answer["document_id"]) == (200, present[index])
                    assert answer["duplicate"] is True
                else:
                    assert status == 201, answer
            # and a few answered ones: the duplicate rule, with the original answer
            for index in sorted(load.answered)[:: max(1, len(load.answered) // 20)]:
                status, answer = await send(session, base, deployment, packets[index])
                assert (status, answer["document_id"]) == (200, load.answered[index])

        for p in packets:
            docs = await stored(store, p)
            assert len(docs) == 1, f"packet {p.index}: {len(docs)} copies"
            assert_whole(docs[0], p)
        counters = await store.counter_rows()
        assert counters == await store.recount_from_events()
        assert sum(r.count for r in counters if r.direction == "sent") == len(packets)
    finally:
        await store.close()
        daemon.stop()
