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
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.vxp.client import VxpClient
from axis.app import RunningDaemon, start_daemon
from axis.config import load_config
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
