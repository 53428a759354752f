"""Federation end to end: three REAL daemons on loopback — the national axis and two
provinces (Lâm Đồng H36, Tây Ninh H53) — pass documents and statuses commune → province
→ national → another province's department and back, over the VXP protocol between
axes and the native API at the edges.

Shown here: the packet arrives byte for byte (the sender's signature still verifies at
the final recipient) with the hops of every axis beside it; statuses travel both ways;
the national axis down for a while loses and duplicates nothing; a national ErrorCode is
retried per policy (or not, for a refusal) and shown to admins; a province killed with
SIGKILL after storing a packet but before its updateStatus stores it once; directory
sync and a reorganization.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.vxp.client import VxpClient
from axis.app import RunningDaemon, start_daemon
from axis.devsetup import DevDeployment
from axis.hops import parse_hops
from axis.store import open_configured_store
from axis.store.national import NationalStore
from signing.policy import DEFAULT_POLICY
from signing.trust import NO_REVOCATION_DATA, TrustStore, load_certificates
from signing.verify import verify_packet
from tests.daemon_process import DaemonProcess, free_port
from tests.federation_support import (
    BTC,
    H36,
    H36_COMMUNE,
    H36_DEPT,
    H36_OLD_DISTRICT,
    H36_WARD,
    H53,
    H53_DEPT,
    NATIONAL_ORGAN,
    Federation,
    create_federation,
    document,
    eventually,
    signed_document,
    signed_status,
)
from tests.harness import NOW, Native

pytestmark = pytest.mark.slow


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@dataclass
class Running:
    fed: Federation
    national: RunningDaemon
    h36: RunningDaemon
    h53: RunningDaemon

    def client(self, daemon: RunningDaemon, dep: DevDeployment, systemid: str, s: Any) -> Native:
        return Native(daemon.base_url, dep.systems[systemid], s)


@contextlib.asynccontextmanager
async def running(fed: Federation) -> AsyncIterator[Running]:
    national = await start_daemon(fed.national.config)
    h36 = await start_daemon(fed.h36.config)
    h53 = await start_daemon(fed.h53.config)
    try:
        yield Running(fed, national, h36, h53)
    finally:
        for d in (h53, h36, national):
            await d.stop()


async def inbox_item(client: Native, **params: str) -> dict[str, Any] | None:
    items = await client.inbox(**params)
    return items[0] if items else None


def trust_of(fed: Federation) -> TrustStore:
    anchors = []
    for dep in (fed.national, fed.h36, fed.h53):
        anchors.extend(load_certificates(dep.pki.root_cert.read_bytes()))
    return TrustStore(anchors=tuple(anchors))


# --- the way there and back ------------------------------------------------------------


async def test_a_document_crosses_provinces_and_its_status_comes_back(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    fed = await create_federation(tmp_path)
    async with running(fed) as run:
        ward = run.client(run.h36, fed.h36, "qlvb.phuong", session)
        tayninh = run.client(run.h53, fed.h53, "qlvb.tayninh", session)
        admin36 = run.client(run.h36, fed.h36, "quantri", session)

        doc = document(H36_WARD, [H53_DEPT, H36_DEPT], number="41")
        assert doc.attachments == ()  # a packet without attachments goes like any other
        data = signed_document(fed, doc)
        status, answer = await ward.send(data)
        assert status == 201, answer
        assert {(r["target"], r["route"]) for r in answer["recipients"]} == {
            (H53_DEPT, "national"),
            (H36_DEPT, "local"),
        }
        assert [h["organ_id"] for h in answer["hops"]] == [H36]

        # Tây Ninh's department finds it in its inbox: the bytes exactly as signed
        item = await eventually(lambda: inbox_item(tayninh))
        assert item["from"] == H36_WARD and item["to"] == H53_DEPT
        async with session.get(
            f"{run.h53.base_url}/api/v1/inbox/{item['delivery_id']}", headers=tayninh.auth
        ) as r:
            assert r.status == 200
            body = await r.read()
            trace = parse_hops(r.headers["X-Axis-Trace"])
        assert body == data
        assert [h.organ_id for h in trace] == [H36, NATIONAL_ORGAN, H53]
        assert all(h.verdict == "valid" for h in trace)
        # the final recipient checks the sender's signature itself, on the same bytes
        verdict = verify_packet(
            body, policy=DEFAULT_POLICY, trust=trust_of(fed), revocation=NO_REVOCATION_DATA, at=NOW
        )
        assert verdict.outcome.value == "valid" and verdict.signer is not None
        assert verdict.signer.organ_id == H36_WARD

        # at Lâm Đồng the delivery to the national axis carries the national DocId
        doc_id = answer["document_id"]
        record = await run.h36.services.store.get_document(doc_id)
        national = next(d for d in record.deliveries if d.route == "national")
        assert national.state == "acked" and national.remote_id
        remote = await run.national.services.store.get_document(national.remote_id)
        assert remote.sender_code == H36_WARD and remote.packet_sha256 == record.packet_sha256
        # the H36 department's copy came back to Lâm Đồng from the national axis (it is
        # in the packet's To): recognised as ours, acknowledged, not stored twice
        h36_dept = run.client(run.h36, fed.h36, "qlvb.lamdong", session)
        assert len(await h36_dept.inbox()) == 1

        # the trace API of the final province shows the hops too
        status, traced = await admin36.get(f"/api/v1/documents/{doc_id}/trace")
        assert status == 200 and [h["organ_id"] for h in traced["document"]["hops"]] == [H36]

        # the department answers "05 being processed": it lands in the ward's inbox
        status, sent = await tayninh.send(signed_status(fed, H53_DEPT, doc, "05"))
        assert status == 201, sent
        assert sent["recipients"] == [
            {"addressed": H36_WARD, "target": H36_WARD, "route": "national"}
        ]
        back = await eventually(lambda: inbox_item(ward, kind="status"))
        assert (back["from"], back["to"], back["status_code"]) == (H53_DEPT, H36_WARD, "05")

        # nothing is left on the national axis for either province
        for name in ("axis.h36", "axis.h53"):
            creds = fed.national.systems[name]
            async with VxpClient(
                f"{run.national.base_url}/vxp", creds.systemid, creds.secret
            ) as vxp:
                await eventually(
                    lambda v=vxp: _nothing_waiting(v)  # type: ignore[misc]
                )

        # the admins see the link's health
        status, health = await admin36.get("/api/v1/admin/national")
        assert status == 200 and health["configured"] is True
        assert health["poll"]["last_success"] and health["poll"]["backlog"] == 0
        async with session.post(
            f"{run.h36.base_url}/api/v1/admin/national/poll", headers=admin36.auth
        ) as r:
            assert r.status == 200
            report = await r.json()
        assert report["ok"] is True and report["refused"] == 0


async def _nothing_waiting(vxp: VxpClient) -> bool:
    return not await vxp.get_received_edoc_list("edoc") and not await vxp.get_received_edoc_list(
        "status"
    )


async def _deliveries_to(run: Running, doc_id: str) -> Any:
    return (await run.h36.services.store.get_document(doc_id)).deliveries


# --- the national axis down ------------------------------------------------------------


async def test_packets_wait_while_the_national_axis_is_down_and_go_once_it_returns(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    fed = await create_federation(tmp_path)
    async with running(fed) as run:
        ward = run.client(run.h36, fed.h36, "qlvb.phuong", session)
        tayninh = run.client(run.h53, fed.h53, "qlvb.tayninh", session)
        await run.national.stop()  # the national axis goes away

        sent = []
        for n in range(3):
            doc = document(H36_WARD, [H53_DEPT], number=str(100 + n))
            status, answer = await ward.send(signed_document(fed, doc))
            assert status == 201, answer  # accepted at once: never inside the request
            sent.append(answer["document_id"])

        async def all_tried_and_waiting() -> bool:
            for doc_id in sent:
                (d,) = await _deliveries_to(run, doc_id)
                if d.state != "pending" or d.attempts < 1 or not d.last_error:
                    return False
                assert "vxp.unreachable" in d.last_error or "vxp.timeout" in d.last_error
            return True

        await eventually(all_tried_and_waiting)

        run.national = await start_daemon(fed.national.config)  # back, same port and data

        async def three() -> list[dict[str, Any]] | None:
            items = await tayninh.inbox()
            return items if len(items) >= 3 else None

        items = await eventually(three)
        for doc_id in sent:
            await eventually(
                lambda i=doc_id: _state_is(run, i, "acked")  # type: ignore[misc]
            )
        await asyncio.sleep(1.0)  # give a duplicate every chance to show up
        items = await tayninh.inbox()
        assert len(items) == 3
        assert len({i["edxml_document_id"] for i in items}) == 3
        national_docs = await run.national.services.store.sent_by([H36_WARD], limit=100)
        assert len(national_docs) == 3  # stored once each at the national axis


async def _state_is(run: Running, doc_id: str, state: str) -> bool:
    (d,) = await _deliveries_to(run, doc_id)
    return d.state == state


# --- national error codes --------------------------------------------------------------


async def test_a_national_error_code_is_retried_per_policy_and_shown_to_admins(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    fed = await create_federation(tmp_path)
    async with running(fed) as run:
        ward = run.client(run.h36, fed.h36, "qlvb.phuong", session)
        admin = run.client(run.h36, fed.h36, "quantri", session)
        tayninh = run.client(run.h53, fed.h53, "qlvb.tayninh", session)
        # the national axis stops accepting Lâm Đồng's system: ErrorCode vxp.unknown-system
        await run.national.services.store.set_system_disabled("axis.h36", True)
        status, answer = await ward.send(
            signed_document(fed, document(H36_WARD, [H53_DEPT], number="7"))
        )
        assert status == 201
        (delivery,) = await _deliveries_to(run, answer["document_id"])

        async def shown() -> dict[str, Any] | None:
            code, body = await admin.get(f"/api/v1/admin/deliveries/{delivery.delivery_id}")
            assert code == 200, body
            return body if len(body["attempts"]) >= 2 else None

        seen = await eventually(shown)
        assert seen["delivery"]["state"] == "pending"  # retried, not given up
        assert seen["delivery"]["destination"] == "national"
        assert "national.vxp.unknown-system" in seen["delivery"]["last_error"]
        assert all(not a["ok"] for a in seen["attempts"])
        assert {a["error_code"] for a in seen["attempts"]} == {"national.vxp.unknown-system"}

        await run.national.services.store.set_system_disabled("axis.h36", False)
        await eventually(lambda: inbox_item(tayninh))
        await eventually(lambda: _state_is(run, answer["document_id"], "acked"))

        # a refusal of the packet itself is final: no retry can help
        unknown = "000.00.77.H53"  # routed national, unknown to the national axis
        status, answer = await ward.send(
            signed_document(fed, document(H36_WARD, [unknown], number="8"))
        )
        assert status == 201
        await eventually(lambda: _state_is(run, answer["document_id"], "dead"))
        (dead,) = await _deliveries_to(run, answer["document_id"])
        assert dead.attempts == 1
        assert dead.last_error and "national.route.unknown-recipient" in dead.last_error


# --- what the national axis may not claim ------------------------------------------------


async def test_a_packet_from_the_national_axis_claiming_one_of_our_agencies_is_failed(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    fed = await create_federation(tmp_path)
    async with running(fed) as run:
        # the national axis's admin system may send as anyone there: a packet "from" a
        # Lâm Đồng department that Lâm Đồng never sent
        creds = fed.national.systems["quantri"]
        forged = signed_document(fed, document(H36_DEPT, [H36_WARD], number="666"))
        async with VxpClient(f"{run.national.base_url}/vxp", creds.systemid, creds.secret) as vxp:
            await vxp.send_edoc(forged, from_code=H36_DEPT)
        store = run.national.services.store

        async def failed() -> Any:
            (doc,) = await store.sent_by([H36_DEPT], limit=10)
            (d,) = doc.deliveries
            return d if d.state == "failed" else None

        d = await eventually(failed)
        assert d.last_error and d.last_error.startswith("[auth.forged-from]")
        ward = run.client(run.h36, fed.h36, "qlvb.phuong", session)
        assert await ward.inbox() == []


# --- directory sync and reorganization ---------------------------------------------------


async def test_directory_sync_and_a_reorganization(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    fed = await create_federation(tmp_path)
    async with running(fed) as run:
        admin = run.client(run.h36, fed.h36, "quantri", session)
        nat = run.national.services.store
        # at the national axis: a new department of Tây Ninh, a renamed one, an old code
        # of Tây Ninh replaced by its commune
        from axis.directory import Agency

        await nat.upsert_agencies(
            [
                Agency("000.00.06.H53", "Sở Tài chính tỉnh Tây Ninh", "province", H53),
                Agency(H53_DEPT, "Sở Nội vụ tỉnh Tây Ninh (mới)", "province", H53),
                Agency(
                    "000.00.32.H53",
                    "UBND huyện Hòa Thành",
                    "district",
                    H53,
                    "closed",
                    "000.21.32.H53",
                ),
            ]
        )
        async with session.post(
            f"{run.h36.base_url}/api/v1/admin/national/directory-sync", headers=admin.auth
        ) as r:
            assert r.status == 200, await r.text()
            changes = await r.json()
        assert "000.00.06.H53" in changes["added"] and BTC in changes["added"]
        assert {"code": "000.00.32.H53", "successor": "000.21.32.H53"} in changes["closed"]
        assert not any(c.endswith(".H36") for c in changes["added"] + changes["updated"])
        h36 = run.h36.services.store
        assert (await h36.get_agency(H53_DEPT)).name == "Sở Nội vụ tỉnh Tây Ninh (mới)"  # type: ignore[union-attr]
        # a packet to the replaced code goes to the national axis for its successor
        ward = run.client(run.h36, fed.h36, "qlvb.phuong", session)
        status, answer = await ward.send(
            signed_document(fed, document(H36_WARD, ["000.00.32.H53"], number="9"))
        )
        assert status == 201
        assert answer["recipients"] == [
            {"addressed": "000.00.32.H53", "target": "000.21.32.H53", "route": "national"}
        ]
        # a second sync, by the command line, finds nothing new
        from axis.cli import main

        assert (
            await asyncio.to_thread(
                main, ["directory", "sync", "--config", str(fed.h36.config_path)]
            )
            == 0
        )
        state = await NationalStore(h36).get_state("national.directory-sync")
        assert state is not None and state["added"] == 0 and state["closed"] == 0

        # the district tier is gone: Đức Trọng's code closes into its commune
        lamdong = run.client(run.h36, fed.h36, "qlvb.lamdong", session)
        before = signed_document(fed, document(H36_DEPT, [H36_OLD_DISTRICT], number="10"))
        assert (await lamdong.send(before))[0] == 201
        future = tmp_path / "future.csv"
        future.write_text(f"old_code,new_code,date\n{H36_OLD_DISTRICT},{H36_COMMUNE},2999-01-01\n")
        assert (
            await asyncio.to_thread(
                main, ["directory", "reorganize", str(future), "--config", str(fed.h36.config_path)]
            )
            == 2
        )
        assert (await h36.get_agency(H36_OLD_DISTRICT)).status == "active"  # type: ignore[union-attr]
        reorg = tmp_path / "reorg.csv"
        reorg.write_text(
            "old_code,new_code,date,name\n"
            f"{H36_OLD_DISTRICT},{H36_COMMUNE},2025-07-01,UBND xã Đức Trọng (sáp nhập)\n",
            encoding="utf-8",
        )
        assert (
            await asyncio.to_thread(
                main, ["directory", "reorganize", str(reorg), "--config", str(fed.h36.config_path)]
            )
            == 0
        )
        old = await h36.get_agency(H36_OLD_DISTRICT)
        assert old is not None and (old.status, old.successor) == ("closed", H36_COMMUNE)
        closure = (await NationalStore(h36).closures())[H36_OLD_DISTRICT]
        assert closure.closed_on.isoformat() == "2025-07-01" and closure.source == "reorganize"
        after = signed_document(fed, document(H36_DEPT, [H36_OLD_DISTRICT], number="11"))
        status, answer = await lamdong.send(after)
        assert status == 201
        assert answer["recipients"] == [
            {"addressed": H36_OLD_DISTRICT, "target": H36_COMMUNE, "route": "local"}
        ]
        # reports by the codes of the time, and by today's structure: same totals
        auditor = admin
        _, by_time = await auditor.get("/api/v1/reports/exchange", by="agency")
        _, by_now = await auditor.get("/api/v1/reports/exchange", by="agency", structure="current")
        received_then = {line["key"]: line["received"] for line in by_time["lines"]}
        received_now = {line["key"]: line["received"] for line in by_now["lines"]}
        assert received_then[H36_OLD_DISTRICT] == 1 and received_then[H36_COMMUNE] == 1
        assert H36_OLD_DISTRICT not in received_now and received_now[H36_COMMUNE] == 2
        assert by_now["total"] == by_time["total"]


# --- SIGKILL between the commit and updateStatus -----------------------------------------


class HoldingProxy:
    """A real HTTP relay between a province and the national axis that can HOLD the
    province's updateStatus calls (never forwarding nor answering them): the province has
    then committed the packet — it answers only after its commit — and the national axis
    still holds the item. A stand-in for a network that loses an answer; no part of Axis
    is replaced."""

    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.hold_update_status = False
        self.held = asyncio.Event()
        self._release = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self, port: int) -> None:
        self._session = aiohttp.ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._relay)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port, reuse_address=True).start()

    async def _relay(self, request: web.Request) -> web.StreamResponse:
        if self.hold_update_status and request.path.endswith("/updateStatus"):
            self.held.set()
            await self._release.wait()  # until the test ends: the caller is killed first
            raise web.HTTPServiceUnavailable()
        assert self._session is not None
        body = await request.read()
        skip = {"host", "content-length", "transfer-encoding", "connection"}
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in skip]
        async with self._session.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as r:
            payload = await r.read()
            return web.Response(body=payload, status=r.status, content_type=r.content_type)

    async def close(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()


async def test_a_packet_stored_before_a_sigkill_is_taken_once_after_restart(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    proxy_port = free_port()
    fed = await create_federation(
        tmp_path, h53_endpoint=f"http://127.0.0.1:{proxy_port}/vxp", poll_interval=0.3
    )
    national = await start_daemon(fed.national.config)
    h36 = await start_daemon(fed.h36.config)
    proxy = HoldingProxy(national.base_url)
    await proxy.start(proxy_port)
    h53_url = f"http://127.0.0.1:{fed.h53.config.server.port}"
    h53 = DaemonProcess(fed.h53.config_path, h53_url, tmp_path / "h53.log")
    try:
        proxy.hold_update_status = True
        await h53.start()
        ward = Native(h36.base_url, fed.h36.systems["qlvb.phuong"], session)
        doc = document(H36_WARD, [H53_DEPT], number="77")
        status, _ = await ward.send(signed_document(fed, doc))
        assert status == 201

        await asyncio.wait_for(proxy.held.wait(), 60)  # stored at H53, not yet answered
        h53.kill()  # SIGKILL: nothing of the daemon runs any more

        creds = fed.national.systems["axis.h53"]
        async with VxpClient(f"{national.base_url}/vxp", creds.systemid, creds.secret) as vxp:
            (waiting,) = await vxp.get_received_edoc_list("edoc")  # still held for H53
            assert waiting.status == "fetched"
            store = await open_configured_store(fed.h53.config)
            try:
                stored = await store.sent_by([H36_WARD], limit=10)
                assert len(stored) == 1  # committed before the kill
            finally:
                await store.close()

            proxy.hold_update_status = False
            await h53.start()  # the restarted province polls: fetched again, a duplicate
            await eventually(lambda: _nothing_waiting(vxp))

        tayninh = Native(h53_url, fed.h53.systems["qlvb.tayninh"], session)
        items = await tayninh.inbox()
        assert [(i["from"], i["to"]) for i in items] == [(H36_WARD, H53_DEPT)]
        admin = Native(h53_url, fed.h53.systems["quantri"], session)
        status, health = await admin.get("/api/v1/admin/national")
        assert status == 200 and health["poll"]["last_success"]
    finally:
        h53.kill()
        await proxy.close()
        await h36.stop()
        await national.stop()
    store = await open_configured_store(fed.h53.config)
    try:
        (record,) = await store.sent_by([H36_WARD], limit=10)  # one copy, one delivery
        assert [d.target_code for d in record.deliveries] == [H53_DEPT]
        events = await store.document_trace(record.id)
        assert [e.kind for e in events].count("packet.accepted") == 1
    finally:
        await store.close()
