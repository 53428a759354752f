"""Signed receipts: the axis signs (document id, packet SHA-256, verdict, time) with its
own certificate; xmlsec1 and the project's verifier accept them, and refuse them once a
single character changed; the native API returns one with every accepted packet."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from axis.app import RunningDaemon, start_daemon
from axis.auditsign import AxisSigner
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.receipts import Receipt, sign_receipt, verify_receipt
from axis_errors import SignatureError
from certs.pki import Issued, issue_signing_cert, make_root_ca
from tests.harness import NOW, signed_document

XMLSEC1 = shutil.which("xmlsec1")
T = datetime(2026, 11, 27, 3, 4, 5, 678901, tzinfo=UTC)
RECEIPT = Receipt(
    axis_organ_id="000.00.00.H36",
    axis_name="Trục liên thông văn bản tỉnh Lâm Đồng",
    document_id="01JDEMO0000000000000000000",
    edxml_document_id="123/UBND-VP",
    sender_code="000.01.00.H36",
    packet_sha256="ab" * 32,
    verdict="valid",
    received_at=T,
    issued_at=T + timedelta(seconds=1),
)


def _identity(key_type: str = "rsa") -> tuple[Issued, Issued]:
    root = make_root_ca("Receipt Root", now=T - timedelta(days=1), key_size=2048)
    axis = issue_signing_cert(
        root,
        organ_id="000.99.00.H36",
        name="Trục (test)",
        now=T - timedelta(days=1),
        key_type=key_type,  # type: ignore[arg-type]
        key_size=2048 if key_type == "rsa" else None,
        crl_url=None,
        ocsp_url=None,
    )
    return root, axis


@pytest.mark.parametrize("key_type", ["rsa", "ec"])
def test_a_receipt_verifies_and_says_what_was_signed(key_type: str) -> None:
    root, axis = _identity(key_type)
    data = sign_receipt(RECEIPT, AxisSigner(axis.key, axis.cert, (root.cert,)))
    assert verify_receipt(data, axis.cert) == RECEIPT


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"<Verdict>valid<", b"<Verdict>invalid<"),
        (b"ababab", b"abacab"),
        (b"01JDEMO0", b"01JDEMO1"),
        (b"2026-11-27T03:04:05.678901", b"2026-11-27T03:04:06.678901"),
    ],
)
def test_any_change_breaks_the_receipt(old: bytes, new: bytes) -> None:
    root, axis = _identity()
    data = sign_receipt(RECEIPT, AxisSigner(axis.key, axis.cert, (root.cert,)))
    assert old in data
    with pytest.raises(SignatureError) as info:
        verify_receipt(data.replace(old, new, 1), axis.cert)
    assert info.value.code == "receipt.invalid"


def test_a_receipt_of_another_axis_is_refused() -> None:
    root, axis = _identity()
    _root2, other = _identity()
    data = sign_receipt(RECEIPT, AxisSigner(axis.key, axis.cert, (root.cert,)))
    with pytest.raises(SignatureError, match="not signed with the given axis certificate"):
        verify_receipt(data, other.cert)
    # a forger who puts the real certificate in KeyInfo but signs with his own key
    forged = sign_receipt(RECEIPT, AxisSigner(other.key, axis.cert, (root.cert,)))
    with pytest.raises(SignatureError, match="signature value"):
        verify_receipt(forged, axis.cert)


def _xmlsec(path: Path, trusted: Path) -> subprocess.CompletedProcess[str]:
    assert XMLSEC1 is not None
    return subprocess.run(
        [
            XMLSEC1,
            "--verify",
            "--trusted-pem",
            str(trusted),
            "--enabled-reference-uris",
            "empty",
            "--enabled-key-data",
            "x509",
            "--verification-gmt-time",
            (T + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.xmlsec
@pytest.mark.skipif(XMLSEC1 is None, reason="xmlsec1 is not installed")
def test_xmlsec1_verifies_a_receipt_against_the_axis_certificate(tmp_path: Path) -> None:
    root, axis = _identity()
    (tmp_path / "root.pem").write_bytes(root.cert_pem())
    good = tmp_path / "receipt.xml"
    good.write_bytes(sign_receipt(RECEIPT, AxisSigner(axis.key, axis.cert, (root.cert,))))
    out = _xmlsec(good, tmp_path / "root.pem")
    assert out.returncode == 0, out.stderr
    assert "OK" in out.stdout + out.stderr
    bad = tmp_path / "bad.xml"
    bad.write_bytes(good.read_bytes().replace(b"<Verdict>valid<", b"<Verdict>revoked<"))
    assert _xmlsec(bad, tmp_path / "root.pem").returncode != 0


# --------------------------------------------------------------------- the daemon


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


async def test_the_native_api_answers_every_accepted_packet_with_a_receipt(
    deployment: DevDeployment, daemon: RunningDaemon
) -> None:
    data = signed_document(deployment, PROVINCE, ["000.01.00.H36"])
    auth = {"Authorization": f"Bearer {deployment.systems['qlvb.lamdong'].token}"}
    axis_cert = deployment.pki.issued(deployment.pki.axis).cert
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{daemon.base_url}/api/v1/packets", data=data, headers=auth) as r:
            assert r.status == 201
            answer = await r.json()
        receipt = verify_receipt(answer["receipt"].encode(), axis_cert)
        assert receipt.document_id == answer["document_id"]
        assert receipt.packet_sha256 == hashlib.sha256(data).hexdigest()
        assert receipt.verdict == answer["verdict"] == "valid"
        assert receipt.sender_code == PROVINCE
        assert receipt.axis_organ_id == deployment.config.axis.organ_id
        # the duplicate gets a receipt of the original, and so does a later request
        async with s.post(f"{daemon.base_url}/api/v1/packets", data=data, headers=auth) as r:
            again = verify_receipt((await r.json())["receipt"].encode(), axis_cert)
        url = f"{daemon.base_url}/api/v1/documents/{answer['document_id']}/receipt"
        async with s.get(url, headers=auth) as r:
            assert r.status == 200 and r.content_type == "application/xml"
            later = verify_receipt(await r.read(), axis_cert)
    for other in (again, later):
        assert (other.document_id, other.packet_sha256, other.received_at) == (
            receipt.document_id,
            receipt.packet_sha256,
            receipt.received_at,
        )
        # the first receipt is made from what the commit wrote, the others from the
        # stored document: they say the same, all but when they were signed
        assert replace(other, issued_at=receipt.issued_at) == receipt
