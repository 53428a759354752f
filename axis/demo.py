"""``axis demo``: a realistic exchange through the daemon's real HTTP APIs.

It creates a development deployment (PKI, directory of Lâm Đồng on four tiers, office
systems), starts the daemon on its embedded SQLite store, and drives documents down and
up the tiers and statuses back — through the VXP-compatible API exactly as the vendor
SDK speaks it, and through the native REST API — then prints the exchange report.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from adapters.vxp.client import VxpClient
from axis.app import RunningDaemon, start_daemon
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS, name_of, party
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.report import ExchangeLine, render_table
from axis_errors import PeerError
from edxml.builder import build_document, build_status
from edxml.compose import compose_document, compose_status
from edxml.model import BusinessType, DocumentPacket, ResponseFor, StatusCode
from signing.sign import SigningAlgorithm, sign_packet

MARKER = ".axis-demo"
DEPT_HOME, DEPT_FIN = "000.01.00.H36", "000.02.00.H36"
CITY, WARD1, WARD2 = "000.30.00.H36", "000.01.30.H36", "000.02.30.H36"
OLD_DISTRICT, NEW_COMMUNE = "000.31.00.H36", "000.01.31.H36"
GOV_OFFICE, MIN_FINANCE = "000.00.00.G22", "000.00.00.G12"

TIER_LABEL = {
    "central": "Trung ương (bộ, ngành)",
    "province": "Tỉnh (UBND, sở)",
    "district": "Huyện",
    "commune": "Xã, phường",
}


@dataclass
class Step:
    """One packet of the scenario and what became of it."""

    channel: str
    sender: str
    recipients: Sequence[str]
    subject: str
    signing: str
    outcome: str = ""
    detail: str = ""


@dataclass
class Demo:
    dep: DevDeployment
    daemon: RunningDaemon
    session: aiohttp.ClientSession
    out: Callable[[str], None]
    now: datetime
    steps: list[Step] = field(default_factory=list)
    documents: dict[str, DocumentPacket] = field(default_factory=dict)
    counter: int = 100
    #: the first receipt the native API handed out (saved for the newcomer to check)
    receipt: str | None = None

    # ---------------------------------------------------------------- packets
    def _sign(self, code: str, data: bytes, algorithm: SigningAlgorithm) -> bytes:
        issued = self.dep.pki.issued(self.dep.pki.agency(code))
        return sign_packet(
            data, issued.key, issued.cert, chain=issued.chain[:1], algorithm=algorithm
        )

    def document(
        self, sender: str, recipients: Sequence[str], subject: str, **kw: Any
    ) -> DocumentPacket:
        self.counter += 1
        notation = {
            "central": "VPCP-KGVX",
            "province": "UBND-VP",
            "district": "UBND",
            "commune": "UBND",
        }[_tier(sender)]
        attachment = (f"{self.counter}-{notation}.pdf", "application/pdf", _fake_pdf(subject))
        return compose_document(
            party(sender),
            [party(r) for r in recipients],
            when=self.now,
            number=str(self.counter),
            notation=notation,
            subject=subject,
            attachments=[attachment],
            **kw,
        )

    # ---------------------------------------------------------------- channels
    def vxp(self, systemid: str) -> VxpClient:
        creds = self.dep.systems[systemid]
        return VxpClient(
            f"{self.daemon.base_url}/vxp",
            creds.systemid,
            creds.secret,
            session=self.session,
            sdk_sticky_params=True,
        )

    def _auth(self, systemid: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.dep.systems[systemid].token}"}

    async def send_native(self, systemid: str, data: bytes) -> dict[str, Any]:
        async with self.session.post(
            f"{self.daemon.base_url}/api/v1/packets", data=data, headers=self._auth(systemid)
        ) as r:
            answer: dict[str, Any] = await r.json()
            return answer

    async def send(self, step: Step, systemid: str, data: bytes) -> None:
        if step.channel == "VXP":
            try:
                doc_id = await self.vxp(systemid).send_edoc(data, from_code=step.sender)
                step.outcome, step.detail = "accepted", f"DocId {doc_id}"
            except PeerError as exc:
                step.outcome = "refused"
                code = exc.details.get("ErrorCode", exc.code)
                step.detail = f"{code}: {exc.details.get('ErrorDesc', exc.message)}"
        else:
            answer = await self.send_native(systemid, data)
            if "error" in answer:
                step.outcome = "refused"
                step.detail = f"{answer['error']['code']}: {answer['error']['message']}"
            else:
                self.receipt = self.receipt or answer.get("receipt")
                step.outcome = f"accepted, verdict {answer['verdict']}"
                step.detail = "; ".join(answer.get("notes") or []) or f"id {answer['document_id']}"
        self.steps.append(step)
        mark = "✓" if step.outcome.startswith("accepted") else "✗"
        to = ", ".join(name_of(r) for r in step.recipients)
        self.out(f"  {mark} [{step.channel:4}] {name_of(step.sender)} → {to}")
        self.out(f"      «{step.subject}» — {step.signing}")
        self.out(f"      {step.outcome}: {step.detail}")

    async def post(
        self,
        systemid: str,
        sender: str,
        recipients: Sequence[str],
        subject: str,
        *,
        channel: str,
        algorithm: SigningAlgorithm | None,
        **kw: Any,
    ) -> DocumentPacket:
        doc = self.document(sender, recipients, subject, **kw)
        data = build_document(doc)
        label = "unsigned" if algorithm is None else f"signed {algorithm}"
        if algorithm is not None:
            data = self._sign(sender, data, algorithm)
        await self.send(Step(channel, sender, recipients, subject, label), systemid, data)
        self.documents[doc.document_id] = doc
        return doc

    # ---------------------------------------------------------------- pulling
    async def pull_vxp(self, systemid: str, statuses: Sequence[tuple[str, StatusCode, str]]) -> int:
        """List, fetch and acknowledge everything waiting; answer documents with statuses."""
        client = self.vxp(systemid)
        got = 0
        for messagetype in ("edoc", "status"):
            for item in await client.get_received_edoc_list(messagetype=messagetype):
                await client.get_edoc(item.doc_id)
                await client.update_status(item.doc_id, "done")
                got += 1
        for code, status, text in statuses:
            await self._status(systemid, code, status, text, channel="VXP")
        return got

    async def pull_native(self, systemid: str) -> int:
        base = f"{self.daemon.base_url}/api/v1/inbox"
        async with self.session.get(base, headers=self._auth(systemid)) as r:
            items = (await r.json())["items"]
        for item in items:
            async with self.session.get(
                f"{base}/{item['delivery_id']}", headers=self._auth(systemid)
            ) as r:
                await r.read()
            async with self.session.post(
                f"{base}/{item['delivery_id']}/ack", headers=self._auth(systemid)
            ):
                pass
        return len(items)

    async def _status(
        self, systemid: str, code: str, status: StatusCode, docid: str, *, channel: str
    ) -> None:
        doc = self.documents[docid]
        data = build_status(
            compose_status(party(code), doc, status, when=self.now, description=STATUS_TEXT[status])
        )
        data = self._sign(code, data, "rsa-sha256")
        if channel == "VXP":
            await self.vxp(systemid).send_edoc(data, from_code=code, messagetype="status")
        else:
            await self.send_native(systemid, data)
        self.out(
            f"  ↩ {name_of(code)} → {name_of(doc.sender)}: {status.value} {STATUS_TEXT[status]}"
        )


STATUS_TEXT = {
    StatusCode("01"): "Đã đến hệ thống bên nhận",
    StatusCode("03"): "Đã tiếp nhận, vào sổ văn bản đến",
    StatusCode("05"): "Đang xử lý",
    StatusCode("06"): "Đã hoàn thành xử lý",
}


def _tier(code: str) -> str:
    return next(a.tier for a in AGENCIES if a.code == code)


def _fake_pdf(subject: str) -> bytes:
    body = f"%PDF-1.4\n% Axis demo attachment\n% {subject}\n".encode()
    return body + b"0" * 4096 + b"\n%%EOF\n"


def prepare_directory(root: Path) -> None:
    """Start from a clean demo directory; never delete a directory the demo did not make."""
    if root.exists():
        if not (root / MARKER).exists():
            raise SystemExit(
                f"axis demo: {root} exists and was not made by the demo; choose --dir elsewhere."
            )
        shutil.rmtree(root)
    root.mkdir(parents=True)
    (root / MARKER).write_text("made by axis demo; deleted by the next run\n", encoding="utf-8")


async def scenario(demo: Demo) -> None:
    out = demo.out
    out("\n5. The exchange (every packet goes through the daemon's real HTTP APIs)")
    out("   Down the tiers:")
    plan = await demo.post(
        "qlvb.lamdong",
        PROVINCE,
        [DEPT_HOME, DEPT_FIN, CITY],
        "Kế hoạch chuyển đổi số tỉnh Lâm Đồng năm 2026",
        channel="VXP",
        algorithm="rsa-pss-sha256",
    )
    directive = await demo.post(
        "qlvb.dalat",
        CITY,
        [WARD1, WARD2],
        "Triển khai Kế hoạch chuyển đổi số năm 2026 tại các phường",
        channel="REST",
        algorithm="rsa-sha256",
    )
    gov = await demo.post(
        "qlvb.bo-nganh",
        GOV_OFFICE,
        [PROVINCE],
        "Thông báo kết luận của Thủ tướng Chính phủ về cải cách hành chính",
        channel="VXP",
        algorithm="rsa-sha256",
    )
    await demo.post(
        "qlvb.lamdong",
        PROVINCE,
        [OLD_DISTRICT],
        "Về việc bàn giao hồ sơ, tài liệu sau sắp xếp đơn vị hành chính",
        channel="REST",
        algorithm="rsa-pss-sha256",
    )
    out("   Up the tiers:")
    report = await demo.post(
        "qlvb.dalat",
        WARD1,
        [CITY],
        "Báo cáo kết quả thực hiện chuyển đổi số quý IV năm 2026",
        channel="REST",
        algorithm=None,
    )
    await demo.post(
        "qlvb.dalat",
        CITY,
        [PROVINCE],
        "Báo cáo tổng hợp chuyển đổi số của thành phố Đà Lạt",
        channel="VXP",
        algorithm=None,
    )
    await demo.post(
        "qlvb.lamdong",
        DEPT_FIN,
        [MIN_FINANCE],
        "Báo cáo quyết toán ngân sách địa phương năm 2025",
        channel="VXP",
        algorithm="rsa-pss-sha256",
    )
    await demo.post(
        "qlvb.ductrong",
        NEW_COMMUNE,
        [PROVINCE],
        "Báo cáo tình hình hoạt động sau sắp xếp chính quyền địa phương hai cấp",
        channel="REST",
        algorithm="rsa-sha256",
    )
    out("   Revocation of a document already sent (business type 1):")
    await demo.post(
        "qlvb.dalat",
        CITY,
        [WARD1, WARD2],
        "Thu hồi văn bản triển khai kế hoạch (ban hành nhầm phụ lục)",
        channel="REST",
        algorithm="rsa-sha256",
        business_type=BusinessType.REVOKE,
        responds_to=ResponseFor(organ_id=CITY, document_id=directive.document_id),
        reason="Ban hành nhầm phụ lục",
    )
    out("   What the axis refuses:")
    tampered_doc = demo.document(WARD2, [CITY], "Báo cáo số liệu dân cư phường 2")
    signed = demo._sign(WARD2, build_document(tampered_doc), "rsa-sha256")
    tampered = signed.replace("dân cư".encode(), "dân số".encode(), 1)
    await demo.send(
        Step(
            "REST",
            WARD2,
            [CITY],
            "Báo cáo số liệu dân cư phường 2",
            "signed rsa-sha256, then altered in transit",
        ),
        "qlvb.dalat",
        tampered,
    )
    await demo.post(
        "qlvb.dalat",
        CITY,
        ["000.77.00.H36"],
        "Văn bản gửi nhầm mã định danh không tồn tại",
        channel="VXP",
        algorithm="rsa-sha256",
    )
    forged = demo.document(PROVINCE, [CITY], "Văn bản giả danh UBND tỉnh")
    await demo.send(
        Step(
            "REST",
            PROVINCE,
            [CITY],
            "Văn bản giả danh UBND tỉnh",
            "sent by Đà Lạt's system pretending to be the province",
        ),
        "qlvb.dalat",
        build_document(forged),
    )

    out("\n6. Recipients pull their inboxes and answer with statuses")
    got = await demo.pull_vxp(
        "qlvb.lamdong",
        [
            (DEPT_HOME, StatusCode("03"), plan.document_id),
            (PROVINCE, StatusCode("05"), gov.document_id),
        ],
    )
    out(f"   qlvb.lamdong (VXP getReceivedEdocList/getEdoc/updateStatus): {got} packets")
    got = await demo.pull_native("qlvb.dalat")
    out(f"   qlvb.dalat (native API inbox/ack): {got} packets")
    await demo._status("qlvb.dalat", CITY, StatusCode("01"), plan.document_id, channel="VXP")
    await demo._status("qlvb.dalat", CITY, StatusCode("06"), report.document_id, channel="REST")
    got = await demo.pull_native("qlvb.ductrong")
    out(f"   qlvb.ductrong (native API): {got} packet(s), incl. the one for the old district")
    for systemid in ("qlvb.lamdong", "qlvb.dalat", "qlvb.bo-nganh"):
        await demo.pull_vxp(systemid, [])
    out("   Statuses reached the original senders, who pulled them too.")


async def print_report(demo: Demo) -> None:
    out = demo.out
    auth = demo._auth("kiemtoan")
    async with demo.session.get(
        f"{demo.daemon.base_url}/api/v1/reports/exchange", params={"by": "tier"}, headers=auth
    ) as r:
        report = await r.json()
    out("\n7. Exchange report (auditor role, GET /api/v1/reports/exchange?by=tier)")
    lines = [ExchangeLine.from_dict(line) for line in report["lines"]]
    table = render_table(lines, names=TIER_LABEL)
    out("   " + table.replace("\n", "\n   "))
    total = report["total"]
    verdicts = ", ".join(f"{k} {v}" for k, v in total["sent_by_verdict"].items())
    share = total["signed_share"]
    out(
        f"\n   Sent {total['sent']} packets, delivered {total['received']}, "
        f"acknowledged {total['acknowledged']}, refused {total['refused']}."
    )
    out(f"   Signature verdicts of accepted packets: {verdicts}.")
    if share is not None:
        out(
            f"   {share * 100:.0f}% of accepted packets were validly signed "
            f"({total['validly_signed']} of {total['sent']})."
        )


async def run_demo(
    root: Path, *, port: int, keep_serving: bool, out: Callable[[str], None] = print
) -> int:
    now = datetime.now(UTC)
    await asyncio.to_thread(prepare_directory, root)
    out("Axis demo — trục liên thông văn bản điện tử tỉnh Lâm Đồng (H36)\n")
    out(f"1. Development PKI in {root / 'pki'}")
    dep = await create_dev_deployment(root, agencies=AGENCIES, systems=SYSTEMS, now=now, port=port)
    out(
        f"   root CA, issuing CA (in the role of the Government Cipher Committee's CA), "
        f"{len(dep.pki.agencies)} agency signing certificates (OrganId in the subject UID), "
        f"a CRL listing one revoked certificate"
    )
    out("\n2. Directory of agencies (4 tiers)")
    for tier, label in TIER_LABEL.items():
        members = [a for a in AGENCIES if a.tier == tier]
        out(f"   {label}:")
        for a in members:
            extra = f"  [closed → {a.successor}]" if a.status == "closed" else ""
            out(f"     {a.code}  {a.name}{extra}")
    out(f"\n3. Office systems ({len(dep.systems)}), credentials in {root / 'systems.json'}")
    for sid, creds in dep.systems.items():
        out(f"   {sid:15} {creds.role:8} speaks for {', '.join(creds.agencies)}")
    daemon = await start_daemon(dep.config)
    out(f"\n4. Daemon listening on {daemon.base_url} (SQLite: {dep.config.database.url})")
    try:
        async with aiohttp.ClientSession() as session:
            demo = Demo(dep, daemon, session, out, now)
            await scenario(demo)
            await print_report(demo)
        admin = dep.systems["quantri"].token
        auditor = dep.systems["kiemtoan"].token
        base = daemon.base_url
        out("\n8. Look around")
        for label, text in [
            (
                "Dashboard",
                f"{base}/  (log in with the admin token below, or a user made by"
                " `axis admin add-user NAME --role admin`)",
            ),
            ("Metrics", f"{base}/metrics   {base}/readyz"),
            ("OpenAPI", f"{base}/api/v1/openapi.json"),
            (
                "Report",
                f"curl -H 'Authorization: Bearer {auditor}' \\\n"
                f"                      '{base}/api/v1/reports/exchange?by=agency'",
            ),
            ("Agencies", f"curl -H 'Authorization: Bearer {admin}' {base}/api/v1/agencies"),
            (
                "VXP endpoint",
                f"service.endpoint = {base}/vxp (systemid/secret: {root / 'systems.json'})",
            ),
            (
                "Verify",
                f"axis verify FILE --trust {dep.pki.root_cert} \\\n"
                f"                      --trust {dep.pki.issuing.cert}",
            ),
        ]:
            out(f"   {label + ':':18} {text}")
        if demo.receipt is not None:  # the axis's signed proof of one accepted packet
            held = root / "receipt.xml"
            held.write_text(demo.receipt, encoding="utf-8")
            out(f"   {'Receipt:':18} axis audit receipt {held} --config {dep.config_path}")
        if keep_serving:
            out("\nThe daemon keeps serving; press Ctrl-C to stop.")
            await asyncio.Event().wait()
    finally:
        await daemon.stop()
    return 0
