"""The daemon end to end over real HTTP on loopback, with a real SQLite file: documents
across the four tiers, statuses back, who may read what, refusals, duplicates."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from axis.app import RunningDaemon, start_daemon
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from edxml.builder import build_document
from tests.conftest import fresh_pg_database
from tests.harness import (
    NOW,
    Native,
    document,
    native,
    signed,
    signed_document,
    status_bytes,
)

DEPT = "000.01.00.H36"
CITY = "000.30.00.H36"
WARD = "000.01.30.H36"
CLOSED_DISTRICT = "000.31.00.H36"
SUCCESSOR = "000.01.31.H36"
MINISTRY = "000.00.00.G22"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def deployment(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[DevDeployment]:
    """A deployment on a SQLite file, or on a fresh PostgreSQL database."""
    async with contextlib.AsyncExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = await stack.enter_async_context(
                fresh_pg_database(request.getfixturevalue("postgres_url"))
            )
        yield await create_dev_deployment(
            tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW, database_url=url
        )


@pytest.fixture
async def daemon(deployment: DevDeployment) -> AsyncIterator[RunningDaemon]:
    d = await start_daemon(deployment.config)
    yield d
    await d.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def clients(
    daemon: RunningDaemon, deployment: DevDeployment, session: aiohttp.ClientSession
) -> dict[str, Native]:
    return {sid: native(daemon, deployment, sid, session) for sid in SYSTEMS}


async def test_document_down_the_tiers_is_delivered_byte_for_byte(
    deployment: DevDeployment, clients: dict[str, Native]
) -> None:
    province, dalat = clients["qlvb.lamdong"], clients["qlvb.dalat"]
    data = signed_document(deployment, PROVINCE, [DEPT, CITY, WARD])
    status, answer = await province.send(data)
    assert status == 201, answer
    assert answer["verdict"] == "valid"
    assert [r["target"] for r in answer["recipients"]] == [DEPT, CITY, WARD]

    items = await dalat.inbox()
    assert sorted(i["to"] for i in items) == sorted([CITY, WARD])
    for item in items:
        code, body = await dalat.fetch(item["delivery_id"])
        assert code == 200 and body == data
    # the department's item is the provincial system's, not Đà Lạt's
    mine = await province.inbox()
    assert [i["to"] for i in mine] == [DEPT]
    code, _ = await dalat.fetch(mine[0]["delivery_id"])
    assert code == 404

    first = items[0]["delivery_id"]
    assert await dalat.ack(first) == (
        200,
        {"delivery_id": first, "acknowledged": True, "first": True},
    )
    assert (await dalat.ack(first))[1]["first"] is False
    assert [i["delivery_id"] for i in await dalat.inbox()] == [items[1]["delivery_id"]]


async def test_status_goes_back_to_the_sender(
    deployment: DevDeployment, clients: dict[str, Native]
) -> None:
    dalat, province = clients["qlvb.dalat"], clients["qlvb.lamdong"]
    doc = document(WARD, [CITY], number="7", notation="UBND")
    status, _ = await dalat.send(signed(deployment, WARD, build_document(doc)))
    assert status == 201
    # the city answers "05 processing" about the ward's document: it lands with the ward
    status, answer = await dalat.send(status_bytes(CITY, doc, "05"))
    assert status == 201, answer
    assert answer["kind"] == "status" and answer["recipients"][0]["target"] == WARD
    statuses = await dalat.inbox(kind="status")
    assert [(s["to"], s["status_code"]) for s in statuses] == [(WARD, "05")]
    assert await province.inbox(kind="status") == []


async def test_forged_from_and_tampered_packets_are_refused(
    deployment: DevDeployment, clients: dict[str, Native]
) -> None:
    dalat = clients["qlvb.dalat"]
    forged = signed_document(deployment, PROVINCE, [CITY])
    status, answer = await dalat.send(forged)
    assert status == 403 and answer["error"]["code"] == "auth.forged-from"

    data = signed_document(deployment, CITY, [WARD], subject="Kế hoạch năm 2026")
    tampered = data.replace("Kế hoạch năm 2026".encode(), "Kế hoạch năm 2027".encode())
    status, answer = await dalat.send(tampered)
    assert status == 422 and answer["error"]["code"] == "signature.invalid"
    assert await clients["qlvb.dalat"].inbox() == []

    status, answer = await clients["kiemtoan"].get("/api/v1/reports/exchange", by="all")
    assert status == 200
    assert answer["total"]["refused"] == 2 and answer["total"]["sent"] == 0


async def test_duplicate_returns_the_original_answer(
    deployment: DevDeployment, clients: dict[str, Native]
) -> None:
    province = clients["qlvb.lamdong"]
    data = signed_document(deployment, PROVINCE, [DEPT])
    s1, a1 = await province.send(data)
    s2, a2 = await province.send(data)
    assert (s1, s2) == (201, 200)
    assert a2["document_id"] == a1["document_id"] and a2["duplicate"] is True
    assert len(await province.inbox()) == 1
    _, report = await clients["kiemtoan"].get("/api/v1/reports/exchange", by="all")
    assert report["total"]["sent"] == 1 and report["total"]["received"] == 1


async def test_closed_code_goes_to_its_successor_and_unknown_codes_are_named(
    deployment: DevDeployment, clients: dict[str, Native]
) -> None:
    province = clients["qlvb.lamdong"]
    status, answer = await province.send(signed_document(deployment, PROVINCE, [CLOSED_DISTRICT]))
    assert status == 201
    assert answer["recipients"] == [
        {"addressed": CLOSED_DISTRICT, "target": SUCCESSOR, "route": "local"}
    ]
    assert SUCCESSOR in answer["notes"][0]
    code, trace = await province.get(f"/api/v1/documents/{answer['document_id']}/trace")
    assert code == 200
    accepted = [e for e in trace["events"] if e["kind"] == "packet.accepted"]
    assert SUCCESSOR in accepted[0]["detail"]["notes"][0]
    assert accepted[0]["detail"]["deliveries"][0]["via_successor"] == [CLOSED_DISTRICT]
    items = await clients["qlvb.ductrong"].inbox()
    assert [(i["to"], i["addressed_to"]) for i in items] == [(SUCCESSOR, CLOSED_DISTRICT)]

    status, answer = await province.send(
        signed_document(deployment, PROVINCE, [DEPT, "000.77.00.H36"], number="102")
    )
    assert status == 422
    assert answer["error"]["code"] == "route.unknown-recipient"
    assert "000.77.00.H36" in answer["error"]["message"]


async def test_national_codes_are_refused_as_not_local_without_a_national_axis(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    dep = await create_dev_deployment(
        tmp_path / "routed",
        agencies=AGENCIES,
        systems=SYSTEMS,
        now=NOW,
        routes=(("*.H36", "local"), ("*", "national")),
    )
    d = await start_daemon(dep.config)
    try:
        ward = native(d, dep, "qlvb.dalat", session)
        status, answer = await ward.send(signed_document(dep, WARD, [MINISTRY]))
        assert status == 422
        assert answer["error"]["code"] == "route.not-local"
        assert MINISTRY in answer["error"]["message"]
        # local recipients of the same province still work on this axis
        status, _ = await ward.send(signed_document(dep, WARD, [CITY], number="9"))
        assert status == 201
    finally:
        await d.stop()


async def test_unsigned_packets_are_accepted_and_counted_as_unsigned(
    clients: dict[str, Native],
) -> None:
    dalat = clients["qlvb.dalat"]
    status, answer = await dalat.send(build_document(document(CITY, [PROVINCE])))
    assert status == 201 and answer["verdict"] == "unsigned"
    _, report = await clients["kiemtoan"].get("/api/v1/reports/exchange", by="tier")
    lines = {line["key"]: line for line in report["lines"]}
    assert lines["district"]["sent"] == 1 and lines["district"]["validly_signed"] == 0
    assert lines["province"]["received"] == 1


async def test_a_body_is_read_whole_in_any_pieces_up_to_the_cap_and_refused_past_it(
    deployment: DevDeployment, session: aiohttp.ClientSession
) -> None:
    data = signed_document(deployment, PROVINCE, [CITY])
    config = dataclasses.replace(
        deployment.config,
        server=dataclasses.replace(deployment.config.server, max_body_bytes=len(data)),
    )
    d = await start_daemon(config)
    try:
        province = native(d, deployment, "qlvb.lamdong", session)
        dalat = native(d, deployment, "qlvb.dalat", session)

        async def pieces(body: bytes, size: int) -> AsyncIterator[bytes]:
            for i in range(0, len(body), size):  # chunked: no Content-Length
                yield body[i : i + size]
                await asyncio.sleep(0)

        async def post(body: Any) -> tuple[int, dict[str, Any]]:
            async with session.post(
                f"{d.base_url}/api/v1/packets", data=body, headers=province.auth
            ) as r:
                return r.status, await r.json()

        # exactly the cap, in uneven pieces: stored byte for byte
        status, answer = await post(pieces(data, 7_777))
        assert status == 201, answer
        (item,) = await dalat.inbox()
        assert await dalat.fetch(item["delivery_id"]) == (200, data)
        # one byte past the cap: refused, whether its length is announced or not
        too_big = data + b"\n"
        for body in (too_big, pieces(too_big, 4_096)):
            status, answer = await post(body)
            assert status == 400, answer
            assert answer["error"]["code"] == "input.too-large"
            assert str(len(data)) in answer["error"]["message"]
    finally:
        await d.stop()
