"""Signed receipts: the axis signs (document id, packet SHA-256, verdict, time) with its
own certificate, one signature over the Merkle root of a batch of receipts; xmlsec1
checks the signature over the batch, the project's verifier that and the receipt's own
audit path, and refuses a receipt once a single character changed; the native API
returns one with every accepted packet."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from axis.app import RunningDaemon, start_daemon
from axis.auditsign import AxisSigner
from axis.cli import main as cli
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.receipts import Receipt, ReceiptBatcher, sign_receipt, sign_receipts, verify_receipt
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


_KEYS = _identity()  # made once: hypothesis runs its test many times


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
        (b"Tr\xe1\xbb\xa5c", b"Tuc"),  # the axis's name
        (b"<IssuedAt>2026-11-27T03:04:06", b"<IssuedAt>2026-11-27T03:04:07"),
        (b"<Size>1<", b"<Size>2<"),
        (b'index="0"', b'index="1"'),
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


def _batch_of(count: int) -> list[Receipt]:
    return [
        replace(
            RECEIPT,
            document_id=f"01JDEMO{i:019d}",
            edxml_document_id=f"{i}/UBND-VP",
            packet_sha256=hashlib.sha256(str(i).encode()).hexdigest(),
            verdict=("valid", "unsigned", "revoked")[i % 3],
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("count", [2, 3, 7, 8, 33])
def test_a_batch_shares_one_signature_and_each_receipt_proves_itself(count: int) -> None:
    root, axis = _identity()
    receipts = _batch_of(count)
    at = T + timedelta(seconds=5)
    docs = sign_receipts(receipts, AxisSigner(axis.key, axis.cert, (root.cert,)), at)
    values = {re.search(rb"<ds:SignatureValue>(.*?)</ds:SignatureValue>", d, re.S) for d in docs}
    assert len({v.group(1) for v in values if v}) == 1  # one signature for the batch
    for receipt, doc in zip(receipts, docs, strict=True):
        assert verify_receipt(doc, axis.cert) == replace(receipt, issued_at=at)
    # a receipt with another receipt's proof (same signed batch) is refused
    proof = re.compile(rb"<Proof .*?</Proof>", re.S)
    other = proof.search(docs[1])
    assert other is not None
    swapped = proof.sub(other.group(0).replace(b"\\", b"\\\\"), docs[0], count=1)
    with pytest.raises(SignatureError, match="not in the signed batch"):
        verify_receipt(swapped, axis.cert)


def test_the_batcher_signs_one_turns_receipts_together() -> None:
    root, axis = _identity()
    batcher = ReceiptBatcher(AxisSigner(axis.key, axis.cert, (root.cert,)), lambda: T)

    async def main() -> tuple[list[bytes], bytes]:
        together = await asyncio.gather(*(batcher.issue(r) for r in _batch_of(5)))
        alone = await batcher.issue(RECEIPT)
        return list(together), alone

    together, alone = asyncio.run(main())
    assert (batcher.batches, batcher.signed) == (2, 6)
    assert [verify_receipt(d, axis.cert).document_id for d in together] == [
        r.document_id for r in _batch_of(5)
    ]
    assert b"<Size>5</Size>" in together[0] and b"<Size>1</Size>" in alone
    assert verify_receipt(alone, axis.cert) == replace(RECEIPT, issued_at=T)


def _xmlsec(path: Path, trusted: Path) -> subprocess.CompletedProcess[str]:
    assert XMLSEC1 is not None
    return subprocess.run(
        [
            XMLSEC1,
            "--verify",
            "--trusted-pem",
            str(trusted),
            "--id-attr:Id",
            "urn:axis:receipt:1:Batch",
            "--enabled-reference-uris",
            "same-doc",
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
def test_xmlsec1_verifies_a_receipts_batch_signature_against_the_axis_certificate(
    tmp_path: Path,
) -> None:
    """xmlsec1 checks the signature over the batch (Root, Size, IssuedAt); the receipt's
    own facts are bound to that root by its audit path, which verify_receipt checks."""
    root, axis = _identity()
    (tmp_path / "root.pem").write_bytes(root.cert_pem())
    signer = AxisSigner(axis.key, axis.cert, (root.cert,))
    for i, doc in enumerate(sign_receipts(_batch_of(3), signer, T)):
        good = tmp_path / f"receipt-{i}.xml"
        good.write_bytes(doc)
        out = _xmlsec(good, tmp_path / "root.pem")
        assert out.returncode == 0, out.stderr
        assert "OK" in out.stdout + out.stderr
    bad = tmp_path / "bad.xml"
    bad.write_bytes(good.read_bytes().replace(b"<Size>3<", b"<Size>4<"))
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
    deployment: DevDeployment,
    daemon: RunningDaemon,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
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
    # what an agency holding the receipt runs: `axis audit receipt FILE`
    held = tmp_path / "receipt.xml"
    held.write_text(answer["receipt"], encoding="utf-8")
    config = ["--config", str(deployment.config.source)]
    capsys.readouterr()
    assert await asyncio.to_thread(cli, ["audit", "receipt", str(held), *config, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["valid"] and shown["document_id"] == answer["document_id"]
    assert shown["packet_sha256"] == hashlib.sha256(data).hexdigest()
    held.write_text(answer["receipt"].replace(">valid<", ">revoked<"), encoding="utf-8")
    assert await asyncio.to_thread(cli, ["audit", "receipt", str(held), *config]) == 1
    assert "INVALID" in capsys.readouterr().out


async def test_concurrent_packets_get_receipts_that_each_verify(
    deployment: DevDeployment, daemon: RunningDaemon
) -> None:
    """Packets committed together get their receipts from one batch signature; each
    receipt still proves its own packet, and only its own."""
    auth = {"Authorization": f"Bearer {deployment.systems['qlvb.lamdong'].token}"}
    axis_cert = deployment.pki.issued(deployment.pki.axis).cert
    bodies = [
        signed_document(deployment, PROVINCE, ["000.01.00.H36"], number=str(500 + i))
        for i in range(12)
    ]
    async with aiohttp.ClientSession() as s:

        async def send(data: bytes) -> dict[str, Any]:
            async with s.post(f"{daemon.base_url}/api/v1/packets", data=data, headers=auth) as r:
                assert r.status == 201
                answer: dict[str, Any] = await r.json()
                return answer

        answers = await asyncio.gather(*(send(b) for b in bodies))
    for data, answer in zip(bodies, answers, strict=True):
        receipt = verify_receipt(answer["receipt"].encode(), axis_cert)
        assert receipt.document_id == answer["document_id"]
        assert receipt.packet_sha256 == hashlib.sha256(data).hexdigest()
    batcher = daemon.services.receipts
    assert batcher is not None and batcher.signed == len(bodies)


_XML_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\ufffe\uffff").filter(
        lambda c: c in "\t\n\r" or c >= " "
    ),
    max_size=40,
)


@given(name=_XML_TEXT, organ=_XML_TEXT, edxml_id=_XML_TEXT)
@settings(max_examples=60, deadline=None)
def test_any_text_a_receipt_carries_comes_back_verified(
    name: str, organ: str, edxml_id: str
) -> None:
    """The facts are written out as text (not through a tree): every character XML can
    carry, markup and line ends included, reads back as it was and is in the leaf."""
    root, axis = _KEYS
    receipt = replace(RECEIPT, axis_name=name, axis_organ_id=organ, edxml_document_id=edxml_id)
    doc = sign_receipt(receipt, AxisSigner(axis.key, axis.cert, (root.cert,)))
    assert verify_receipt(doc, axis.cert) == receipt


def test_text_xml_cannot_carry_is_refused() -> None:
    root, axis = _KEYS
    with pytest.raises(ValueError, match="XML compatible"):
        sign_receipt(
            replace(RECEIPT, edxml_document_id="a\x01b"),
            AxisSigner(axis.key, axis.cert, (root.cert,)),
        )
