"""Signed PDF attachments (PAdES): verdicts per PDF file with pyHanko against the axis's
own trust material, recorded in the packet's transaction, shown in the answer and on
the dashboard, and counted by the signature report as envelope / attachment / both /
neither. PDFs are written and signed by pyHanko with keys from certs.pki."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis.app import RunningDaemon, start_daemon
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.pades import AttachmentVerdict, attachment_summary, verify_attachments, verify_pdf
from axis.sigcarriers import CARRIERS, carrier_of, carrier_report
from certs.pki import Issued, issue_signing_cert, make_crl, make_issuing_ca, make_root_ca
from edxml.builder import build_document
from edxml.model import Attachment
from signing.policy import DEFAULT_POLICY
from signing.trust import RevocationData, TrustStore
from tests.harness import NOW, document, native, signed
from tests.pades_support import blank_pdf, sign_pdf, tamper

DEPT = "000.01.00.H36"
T = datetime.now(UTC)

# --------------------------------------------------------------------- pure


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    root = make_root_ca("PAdES Test Root", now=T - timedelta(days=30), key_size=2048)
    ca = make_issuing_ca(
        root, "PAdES Issuing CA", now=T - timedelta(days=30), key_size=2048,
        crl_url="http://crl.test/issuing.crl",
    )  # fmt: skip
    good = issue_signing_cert(ca, organ_id=PROVINCE, name="UBND", now=T - timedelta(days=1),
                              key_size=2048)  # fmt: skip
    bad = issue_signing_cert(ca, organ_id=DEPT, name="Sở", now=T - timedelta(days=1),
                             key_size=2048)  # fmt: skip
    crl = make_crl(
        ca, [(bad.cert.serial_number, T - timedelta(hours=2), None)],
        this_update=T - timedelta(hours=1), next_update=T + timedelta(days=7),
    )  # fmt: skip
    other = make_root_ca("Somebody Else's Root", now=T - timedelta(days=30), key_size=2048)
    stranger = issue_signing_cert(other, organ_id=PROVINCE, name="UBND (giả)",
                                  now=T - timedelta(days=1), key_size=2048)  # fmt: skip
    return {
        "trust": TrustStore(anchors=(root.cert,), intermediates=(ca.cert,)),
        "revocation": RevocationData(crls=(crl,)),
        "good": good,
        "revoked": bad,
        "stranger": stranger,
    }


def _verify(pki: dict[str, Any], data: bytes, at: datetime = T) -> AttachmentVerdict:
    return verify_pdf(
        data, content_id="cid:1", name="qd.pdf", trust=pki["trust"],
        revocation=pki["revocation"], policy=DEFAULT_POLICY, at=at,
    )  # fmt: skip


def test_verdicts_of_single_pdfs(pki: dict[str, Any]) -> None:
    good: Issued = pki["good"]
    signed_pdf = sign_pdf(blank_pdf(), good)
    v = _verify(pki, signed_pdf)
    assert (v.verdict, v.signatures, v.reasons) == ("valid", 1, ())
    assert v.signer_subject is not None and PROVINCE in v.signer_subject
    assert v.issuer is not None and "PAdES Issuing CA" in v.issuer
    assert _verify(pki, blank_pdf()).verdict == "unsigned"
    tampered = _verify(pki, tamper(signed_pdf))
    assert tampered.verdict == "invalid" and "do not match" in tampered.reasons[0]
    assert _verify(pki, sign_pdf(blank_pdf(), pki["stranger"])).verdict == "untrusted"
    revoked = _verify(pki, sign_pdf(blank_pdf(), pki["revoked"]))
    assert revoked.verdict == "revoked", revoked.reasons
    # before the revocation time it was good
    early = _verify(pki, sign_pdf(blank_pdf(), pki["revoked"]), at=T - timedelta(hours=3))
    assert early.verdict != "revoked"
    assert _verify(pki, signed_pdf, at=T + timedelta(days=800)).verdict == "expired"
    # a second signature over a tampered first: the worst wins
    twice = sign_pdf(signed_pdf, pki["stranger"], field="Signature2")
    assert _verify(pki, twice).verdict == "untrusted"
    assert _verify(pki, twice).signatures == 2


@given(st.binary(max_size=300))
def test_any_bytes_after_the_magic_give_a_verdict_never_an_error(tail: bytes) -> None:
    trust = TrustStore(anchors=(make_root_ca_cached(),))
    v = verify_pdf(
        b"%PDF-1.7\n" + tail, content_id="c", name="x.pdf", trust=trust,
        revocation=RevocationData(), policy=DEFAULT_POLICY, at=T,
    )  # fmt: skip
    assert v.verdict in ("invalid", "unsigned")


_ROOT: list[Any] = []


def make_root_ca_cached() -> Any:
    if not _ROOT:
        _ROOT.append(make_root_ca("Fuzz Root", now=T - timedelta(days=1), key_size=2048).cert)
    return _ROOT[0]


def test_zip_members_are_checked_and_other_files_skipped(pki: dict[str, Any]) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ho-so/qd.pdf", sign_pdf(blank_pdf(), pki["good"]))
        z.writestr("ho-so/readme.txt", "không phải PDF")
        z.writestr("ho-so/phu-luc.pdf", blank_pdf("Phu luc"))
    atts = [
        Attachment.from_bytes("cid:1", buf.getvalue(), attachment_name="hoso.zip"),
        Attachment.from_bytes("cid:2", b"plain text", attachment_name="notes.txt"),
        Attachment("cid:3", "!!not base64!!", attachment_name="broken.pdf"),
    ]
    got = verify_attachments(
        atts, trust=pki["trust"], revocation=pki["revocation"], policy=DEFAULT_POLICY, at=T
    )
    assert [(v.content_id, v.name, v.verdict) for v in got] == [
        ("cid:1", "ho-so/qd.pdf", "valid"),
        ("cid:1", "ho-so/phu-luc.pdf", "unsigned"),
    ]
    assert attachment_summary(got) == "valid"
    assert attachment_summary(got[1:]) == "unsigned"
    assert attachment_summary(()) == "none"


VERDICTS = ("valid", "invalid", "untrusted", "revoked", "unsigned", "legacy-unverifiable")


class Row:
    def __init__(self, period: str, agency: str, envelope: str, attachments: str, n: int):
        self.period, self.agency_code, self.sender_tier = period, agency, "province"
        self.envelope, self.attachments, self.count = envelope, attachments, n


rows = st.lists(
    st.builds(
        Row,
        st.sampled_from(["2026-01", "2026-02", "2026-03"]),
        st.sampled_from(["A", "B", "C"]),
        st.sampled_from(VERDICTS),
        st.sampled_from((*VERDICTS[:5], "none")),
        st.integers(0, 1000),
    ),
    max_size=40,
)


@given(rows, st.sampled_from(["agency", "tier", "month", "all"]))
def test_carriers_partition_the_documents(data: list[Row], by: str) -> None:
    r = carrier_report(data, by=by)  # type: ignore[arg-type]
    assert r.total.total == sum(x.count for x in data)
    for c in CARRIERS:
        expected = sum(x.count for x in data if carrier_of(x.envelope, x.attachments) == c)
        assert r.total.by_carrier.get(c, 0) == expected
        assert sum(line.by_carrier.get(c, 0) for line in r.lines) == expected
        assert sum(line.by_carrier.get(c, 0) for line in r.trend) == expected
    both = sum(x.count for x in data if x.envelope == "valid" and x.attachments == "valid")
    assert r.total.as_dict()["both"] == both


# --------------------------------------------------------------------- through a daemon


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    return await create_dev_deployment(
        tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW
    )


@pytest.fixture
async def daemon(deployment: DevDeployment) -> AsyncIterator[RunningDaemon]:
    d = await start_daemon(deployment.config)
    yield d
    await d.stop()


def _db(dep: DevDeployment, query: str, *params: Any) -> list[tuple[Any, ...]]:
    path = dep.config.database.url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as conn:
        return list(conn.execute(query, params))


def _plan(dep: DevDeployment) -> list[tuple[str, bool, list[tuple[str, str, bytes]]]]:
    """Four documents: signed in both, the envelope only, an attachment only, neither."""
    pki = dep.pki
    agency = pki.issued(pki.agency(PROVINCE))
    revoked = pki.issued(pki.revoked)
    foreign_root = make_root_ca("Foreign Root", now=T - timedelta(days=30), key_size=2048)
    foreign = issue_signing_cert(
        foreign_root, organ_id=PROVINCE, name="UBND (giả)", now=T - timedelta(days=1),
        key_size=2048,
    )  # fmt: skip
    good_pdf = sign_pdf(blank_pdf("Quyet dinh 1"), agency)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("qd.pdf", good_pdf)
        z.writestr("readme.txt", "x")
    return [
        ("1", True, [("qd.pdf", "application/pdf", good_pdf)]),  # both
        (
            "2",
            True,
            [  # envelope only: every PDF fails, one way each
                ("sua.pdf", "application/pdf", tamper(sign_pdf(blank_pdf(), agency))),
                ("la.pdf", "application/pdf", sign_pdf(blank_pdf(), foreign)),
                ("thuhoi.pdf", "application/pdf", sign_pdf(blank_pdf(), revoked)),
                ("trang.pdf", "application/pdf", blank_pdf()),
                ("hong.pdf", "application/pdf", b"%PDF-1.7\nnot really a PDF"),
                ("ghichu.txt", "text/plain", b"not a PDF"),
            ],
        ),
        ("3", False, [("hoso.zip", "application/zip", buf.getvalue())]),  # attachment only
        ("4", False, []),  # neither
    ]


async def test_attachment_verdicts_through_the_daemon(
    deployment: DevDeployment, daemon: RunningDaemon
) -> None:
    dep = deployment
    plan = await asyncio.to_thread(_plan, dep)  # pyHanko's sync signer runs its own loop
    answers: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        province = native(daemon, dep, "qlvb.lamdong", http)
        for number, sign_envelope, atts in plan:
            body = build_document(document(PROVINCE, [DEPT], number=number, attachments=atts))
            if sign_envelope:
                body = signed(dep, PROVINCE, body)
            status, answer = await province.send(body)
            assert status == 201, answer
            answers.append(answer)
    assert [a["verdict"] for a in answers] == ["valid", "valid", "unsigned", "unsigned"]
    # the answer names each PDF's verdict
    got = [[(x["name"], x["verdict"]) for x in a["attachments"]] for a in answers]
    assert got == [
        [("qd.pdf", "valid")],
        [
            ("sua.pdf", "invalid"),
            ("la.pdf", "untrusted"),
            ("thuhoi.pdf", "revoked"),
            ("trang.pdf", "unsigned"),
            ("hong.pdf", "invalid"),
        ],
        [("qd.pdf", "valid")],
        [],
    ]
    assert answers[1]["attachments"][4]["reasons"][0].startswith("unreadable PDF")
    # recorded durably, with the signer, in the same transaction as the document
    stored = _db(
        dep,
        "SELECT document_id, name, verdict, signer_subject, reasons FROM attachment_verdicts "
        "ORDER BY document_id, seq",
    )
    by_doc: dict[str, list[tuple[str, str]]] = {}
    for doc_id, name, verdict, _subject, _reasons in stored:
        by_doc.setdefault(doc_id, []).append((name, verdict))
    assert [by_doc.get(a["document_id"], []) for a in answers] == got
    subjects = {r[1]: r[3] for r in stored}
    assert PROVINCE in subjects["qd.pdf"] and subjects["trang.pdf"] is None
    assert json.loads(next(r[4] for r in stored if r[1] == "thuhoi.pdf"))
    # the audit event carries each PDF's hash and verdict
    detail = json.loads(
        _db(
            dep,
            "SELECT detail FROM events WHERE kind = 'packet.accepted' AND document_id = ?",
            answers[0]["document_id"],
        )[0][0]
    )
    assert detail["attachments"][0]["verdict"] == "valid"

    # the signature report: envelope / attachment / both / neither, on every face
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{daemon.base_url}/api/v1/reports/signatures",
            params={"by": "all"},
            headers={"Authorization": f"Bearer {dep.systems['kiemtoan'].token}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        report = await r.json()
    total = report["carriers"]["total"]
    assert {c: total[c] for c in CARRIERS} == {
        "both": 1,
        "envelope_only": 1,
        "attachment_only": 1,
        "neither": 1,
    }
    assert total["by_attachments"] == {"valid": 2, "unsigned": 1, "none": 1}
    assert total["total"] == report["total"]["total"] == 4
    # the counters equal a count over the stored verdicts and documents
    counted = _db(
        dep,
        "SELECT sum(count) FROM attachment_counters WHERE recipient_tier = '*' "
        "AND envelope = 'valid' AND attachments = 'valid'",
    )[0][0]
    assert counted == 1

    # the dashboard's document page lists the verdicts (auditor by token)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as web:
        async with web.post(
            f"{daemon.base_url}/login",
            data={"token": dep.systems["kiemtoan"].token},
            headers={"Origin": daemon.base_url},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        async with web.get(f"{daemon.base_url}/documents/{answers[1]['document_id']}") as r:
            page = await r.text()
    assert 'data-attachment="thuhoi.pdf" data-verdict="revoked"' in page
    assert 'data-attachment="la.pdf" data-verdict="untrusted"' in page
