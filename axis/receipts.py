"""Signed receipts: the axis's proof that it accepted a packet.

A small XML document, independent of edXML, that says what the axis accepted and is
signed by the axis's own certificate (``[audit]`` cert and key). Receipts are signed in
**batches**: every receipt asked for in one turn of the event loop (after a group
commit: all of that commit's packets) becomes a leaf of a Merkle tree (RFC 9162,
:mod:`axis.merkle`), and ONE XMLDSig signature covers the batch's root. Each receipt
carries that signature and its own audit path, so it proves itself alone::

    <AxisReceipt xmlns="urn:axis:receipt:1" version="2">
      <Axis organId="000.00.00.H36">Trục liên thông văn bản tỉnh Lâm Đồng</Axis>
      <DocumentId>01JD…</DocumentId>             the axis's id of the packet
      <EdxmlDocumentId>…</EdxmlDocumentId>       the sender's DocumentId
      <From>000.01.00.H36</From>
      <PacketSha256>…</PacketSha256>             SHA-256 of the bytes as received
      <Verdict>valid</Verdict>                   the signature verdict at intake
      <ReceivedAt>2026-…+00:00</ReceivedAt>      when the axis committed it
      <Proof index="2">                          this receipt's leaf in the batch and
        <Hash>…</Hash>…                          its audit path (hex, leaf upwards)
      </Proof>
      <Batch Id="batch">                         what the signature covers:
        <Root>…</Root>                           the Merkle root (hex)
        <Size>7</Size>                           how many receipts the batch holds
        <IssuedAt>2026-…+00:00</IssuedAt>        when the batch was signed
      </Batch>
      <ds:Signature>…</ds:Signature>             Reference URI="#batch", exclusive C14N
    </AxisReceipt>

The leaf of a receipt is ``SHA-256(0x00 || facts)``, where ``facts`` is, for each of
Axis/@organId, Axis, DocumentId, EdxmlDocumentId, From, PacketSha256, Verdict and
ReceivedAt in that order, the length of its UTF-8 text as 4 bytes big-endian followed by
the text. Checking a receipt is two steps: the XMLDSig signature over ``Batch`` (any
XMLDSig tool: ``xmlsec1 --verify --trusted-pem ca.pem --id-attr:Id
urn:axis:receipt:1:Batch receipt.xml``), then the audit path from the leaf to
``Batch/Root`` (:func:`verify_receipt` does both). One RSA signature then serves a whole
group commit instead of one per packet (ADR 0015).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from axis import merkle
from axis.auditsign import AxisSigner
from axis_errors import SignatureError
from edxml.safe import ParseLimits, parse_xml
from signing.policy import DIGEST_SHA256, SIG_ECDSA_SHA256, SIG_RSA_SHA256
from signing.xmldsig import C14N_ALGORITHMS, C14N_EXC, DS, DS_NS, canonicalize_in_context

if TYPE_CHECKING:
    from axis.app import Services
    from axis.intake import StoredFacts

__all__ = [
    "RECEIPT_NS",
    "Receipt",
    "ReceiptBatcher",
    "issue_receipt",
    "sign_receipt",
    "sign_receipts",
    "verify_receipt",
]

RECEIPT_NS: Final = "urn:axis:receipt:1"
_R: Final = "{" + RECEIPT_NS + "}"
#: the receipt's own facts, in document order after Axis (the leaf hashes them)
_FIELDS: Final = (
    "DocumentId",
    "EdxmlDocumentId",
    "From",
    "PacketSha256",
    "Verdict",
    "ReceivedAt",
)
_BATCH_ID: Final = "batch"
_LIMITS: Final = ParseLimits(max_bytes=1 << 20, max_depth=16, max_elements=400)
_MAX_PATH: Final = 64  # a batch of 2**64 receipts is not coming
_C14N: Final = C14N_ALGORITHMS[C14N_EXC]


@dataclass(frozen=True)
class Receipt:
    """What a receipt says."""

    axis_organ_id: str
    axis_name: str
    document_id: str
    edxml_document_id: str
    sender_code: str
    packet_sha256: str
    verdict: str
    received_at: datetime
    issued_at: datetime

    def facts(self) -> tuple[str, ...]:
        """The texts the leaf hashes, in their order."""
        return (
            self.axis_organ_id,
            self.axis_name,
            self.document_id,
            self.edxml_document_id,
            self.sender_code,
            self.packet_sha256,
            self.verdict,
            self.received_at.isoformat(),
        )


def _leaf(facts: Sequence[str]) -> bytes:
    out = bytearray()
    for text in facts:
        raw = text.encode("utf-8")
        out += len(raw).to_bytes(4, "big") + raw
    return merkle.leaf_hash(bytes(out))


def _method(key: PrivateKeyTypes) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return SIG_RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SIG_ECDSA_SHA256
    raise SignatureError(
        f"The axis key must be RSA or EC, not {type(key).__name__}.", code="sig.key-mismatch"
    )


def _sign_octets(key: PrivateKeyTypes, octets: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(octets, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(key.sign(octets, ec.ECDSA(hashes.SHA256())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _signed_batch(
    root_hash: bytes, size: int, issued_at: datetime, signer: AxisSigner
) -> tuple[etree._Element, etree._Element]:
    """The Batch element and the ds:Signature over it (made once per batch)."""
    nsmap = {None: RECEIPT_NS}  # the default namespace (lxml-stubs want str keys)
    holder = etree.Element(_R + "AxisReceipt", nsmap=nsmap)  # type: ignore[arg-type]
    batch = etree.SubElement(holder, _R + "Batch", Id=_BATCH_ID)
    batch.text = "\n    "
    for name, value in (
        ("Root", root_hash.hex()),
        ("Size", str(size)),
        ("IssuedAt", issued_at.isoformat()),
    ):
        el = etree.SubElement(batch, _R + name)
        el.text = value
        el.tail = "\n    "
    el.tail = "\n  "
    digest = hashlib.sha256(canonicalize_in_context(batch, _C14N, None)).digest()

    sig = etree.Element(DS + "Signature", nsmap={"ds": DS_NS})
    signed_info = etree.SubElement(sig, DS + "SignedInfo")
    etree.SubElement(signed_info, DS + "CanonicalizationMethod", Algorithm=C14N_EXC)
    etree.SubElement(signed_info, DS + "SignatureMethod", Algorithm=_method(signer.key))
    ref = etree.SubElement(signed_info, DS + "Reference", URI="#" + _BATCH_ID)
    transforms = etree.SubElement(ref, DS + "Transforms")
    etree.SubElement(transforms, DS + "Transform", Algorithm=C14N_EXC)
    etree.SubElement(ref, DS + "DigestMethod", Algorithm=DIGEST_SHA256)
    digest_value = etree.SubElement(ref, DS + "DigestValue")
    signature_value = etree.SubElement(sig, DS + "SignatureValue")
    x509_data = etree.SubElement(etree.SubElement(sig, DS + "KeyInfo"), DS + "X509Data")
    for text in signer.certificate_texts:
        etree.SubElement(x509_data, DS + "X509Certificate").text = text
    etree.indent(sig, space="  ", level=1)  # before signing: SignedInfo's text is signed
    digest_value.text = base64.b64encode(digest).decode("ascii")
    octets = canonicalize_in_context(signed_info, _C14N, None)
    signature_value.text = base64.b64encode(_sign_octets(signer.key, octets)).decode("ascii")
    return batch, sig


_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    """``value`` as XML character data (refused if XML cannot carry it)."""
    if _NOT_XML.search(value):
        raise ValueError("All strings must be XML compatible")
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _attr(value: str) -> str:
    """``value`` as a double-quoted attribute value (no whitespace normalised away)."""
    return _text(value).replace('"', "&quot;").replace("\t", "&#9;").replace("\n", "&#10;")


def _document(receipt: Receipt, index: int, path: Sequence[bytes], signed: str) -> bytes:
    """One receipt's document: its facts and proof written out, then the batch's signed
    part (``signed``, serialized once per batch). Text, not a tree: a batch of receipts
    costs one signature and a string join per receipt."""
    facts = receipt.facts()
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f'<AxisReceipt xmlns="{RECEIPT_NS}" version="2">',
        f'  <Axis organId="{_attr(facts[0])}">{_text(facts[1])}</Axis>',
        *(
            f"  <{name}>{_text(value)}</{name}>"
            for name, value in zip(_FIELDS, facts[2:], strict=True)
        ),
        f'  <Proof index="{index}">',
        *(f"    <Hash>{h.hex()}</Hash>" for h in path),
        "  </Proof>",
        signed,
        "</AxisReceipt>",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


def sign_receipts(
    receipts: Sequence[Receipt], signer: AxisSigner, issued_at: datetime
) -> list[bytes]:
    """The receipts as signed XML documents (UTF-8, with an XML declaration), in order,
    all under ONE signature of ``signer`` over their Merkle root, signed at
    ``issued_at`` (each receipt's own ``issued_at`` is not used)."""
    leaves = [_leaf(r.facts()) for r in receipts]
    root_hash, paths = merkle.tree(leaves)
    batch, sig = _signed_batch(root_hash, len(receipts), issued_at, signer)
    signed = "  " + "\n  ".join(
        etree.tostring(el, encoding="unicode", with_tail=False) for el in (batch, sig)
    )
    return [
        _document(r, i, path, signed)
        for i, (r, path) in enumerate(zip(receipts, paths, strict=True))
    ]


def sign_receipt(receipt: Receipt, signer: AxisSigner) -> bytes:
    """One receipt alone (a batch of one), signed at its ``issued_at``."""
    return sign_receipts([receipt], signer, receipt.issued_at)[0]


class ReceiptBatcher:
    """Signs the receipts asked for in one turn of the event loop together.

    After a group commit every packet of the batch asks for its receipt in the same
    turn; the first ask schedules the signing for the next turn, and all of them get
    their documents from ONE signature. The RSA signature (~0.3–0.7 ms) runs on the
    loop: once per batch it costs less than a hand-off to a thread.
    """

    def __init__(self, signer: AxisSigner, clock: Callable[[], datetime]) -> None:
        self.signer = signer
        self.clock = clock
        self._pending: list[tuple[Receipt, asyncio.Future[bytes]]] = []
        #: how many batches and receipts were signed (tests, metrics)
        self.batches = 0
        self.signed = 0

    async def issue(self, receipt: Receipt) -> bytes:
        """``receipt`` signed in the current batch (its ``issued_at`` is the batch's)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._pending.append((receipt, future))
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        wanted = [(r, f) for r, f in batch if not f.done()]  # a cancelled ask is dropped
        if not wanted:
            return
        try:
            documents = sign_receipts([r for r, _ in wanted], self.signer, self.clock())
        except Exception as exc:  # each caller sees the error
            for _, f in wanted:
                f.set_exception(exc)
            return
        self.batches += 1
        self.signed += len(wanted)
        for (_, f), doc in zip(wanted, documents, strict=True):
            f.set_result(doc)


async def issue_receipt(
    services: Services, document_id: str, stored: StoredFacts | None = None
) -> bytes | None:
    """A freshly signed receipt for a stored packet, or None when the axis has no
    signing identity (``[audit]`` not configured). ``NotFoundError`` if unknown.

    ``stored``: what the commit that just stored the packet wrote (the intake's
    ``Accepted.stored``), so that the document is not read back; the receipt says the
    same either way. Signed in a batch with the other receipts of this turn.
    """
    batcher = services.receipts
    if batcher is None:
        return None
    if stored is None:
        doc = await services.store.get_document(document_id)
        document_id = doc.id
        stored_facts = (
            doc.edxml_document_id,
            doc.sender_code,
            doc.packet_sha256,
            doc.verdict,
            doc.received_at,
        )
    else:
        stored_facts = (
            stored.edxml_document_id,
            stored.sender_code,
            stored.packet_sha256,
            stored.verdict,
            stored.received_at,
        )
    edxml_id, sender, sha256, verdict, received_at = stored_facts
    receipt = Receipt(
        axis_organ_id=services.config.axis.organ_id,
        axis_name=services.config.axis.name,
        document_id=document_id,
        edxml_document_id=edxml_id,
        sender_code=sender,
        packet_sha256=sha256,
        verdict=verdict,
        received_at=received_at,
        issued_at=received_at,  # replaced by the batch's time when signed
    )
    return await batcher.issue(receipt)


# --------------------------------------------------------------------- verification


def _bad(reason: str) -> SignatureError:
    return SignatureError(f"The receipt does not verify: {reason}.", code="receipt.invalid")


def _one(parent: etree._Element, tag: str) -> etree._Element:
    found = [c for c in parent if c.tag == tag]
    if len(found) != 1:
        raise _bad(f"expected exactly one {tag.rsplit('}', maxsplit=1)[-1]}")
    return found[0]


def _check_value(cert: x509.Certificate, method: str, octets: bytes, value: bytes) -> None:
    public = cert.public_key()
    try:
        if method == SIG_RSA_SHA256 and isinstance(public, rsa.RSAPublicKey):
            public.verify(value, octets, padding.PKCS1v15(), hashes.SHA256())
            return
        if method == SIG_ECDSA_SHA256 and isinstance(public, ec.EllipticCurvePublicKey):
            size = (public.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                raise _bad("the ECDSA value has the wrong length")
            r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
            public.verify(encode_dss_signature(r, s), octets, ec.ECDSA(hashes.SHA256()))
            return
    except InvalidSignature:
        raise _bad("the signature value does not match the axis certificate") from None
    raise _bad("the signature method does not fit the axis certificate's key")


def _b64(el: etree._Element) -> bytes:
    try:
        return base64.b64decode("".join((el.text or "").split()), validate=True)
    except ValueError:
        raise _bad("a base64 value is malformed") from None


def _hex(el: etree._Element, what: str) -> bytes:
    text = (el.text or "").strip()
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise _bad(f"{what} is not hexadecimal") from None
    if len(value) != 32:
        raise _bad(f"{what} is not a SHA-256 value")
    return value


def _time(el: etree._Element) -> datetime:
    try:
        return datetime.fromisoformat(el.text or "")
    except ValueError:
        raise _bad("a time is not ISO 8601") from None


def _count(text: str | None, what: str) -> int:
    if text is None or not text.isascii() or not text.isdigit():
        raise _bad(f"{what} is not a whole number")
    return int(text)


def verify_receipt(data: bytes, cert: x509.Certificate) -> Receipt:
    """Check that ``data`` is a receipt signed by the key of ``cert`` (the axis
    certificate, obtained independently) and that its facts are a leaf of the signed
    batch, and return what it says. Raises :class:`~axis_errors.SignatureError`
    ``receipt.invalid`` otherwise."""
    root = parse_xml(data, _LIMITS)
    if root.tag != _R + "AxisReceipt":
        raise _bad("the root element is not AxisReceipt")
    if root.get("version") != "2":
        raise _bad("this verifier reads receipts of version 2")
    sigs = list(root.iter(DS + "Signature"))
    if len(sigs) != 1 or sigs[0].getparent() is not root or root[-1] is not sigs[0]:
        raise _bad("it needs exactly one ds:Signature, as the last child of AxisReceipt")
    sig = sigs[0]
    signed_info = _one(sig, DS + "SignedInfo")
    if _one(signed_info, DS + "CanonicalizationMethod").get("Algorithm") != C14N_EXC:
        raise _bad("SignedInfo must use exclusive C14N")
    method = _one(signed_info, DS + "SignatureMethod").get("Algorithm") or ""
    ref = _one(signed_info, DS + "Reference")
    # the one element the signature covers: the Batch child, and no other with its Id
    batch = _one(root, _R + "Batch")
    if ref.get("URI") != "#" + _BATCH_ID or batch.get("Id") != _BATCH_ID:
        raise _bad(f'the Reference must cover the Batch element (URI="#{_BATCH_ID}")')
    if sum(1 for el in root.iter() if el.get("Id") == _BATCH_ID) != 1:
        raise _bad(f"more than one element has the Id {_BATCH_ID!r}")
    algs = [t.get("Algorithm") for t in _one(ref, DS + "Transforms")]
    if algs != [C14N_EXC]:
        raise _bad("only the exclusive C14N transform is allowed")
    if _one(ref, DS + "DigestMethod").get("Algorithm") != DIGEST_SHA256:
        raise _bad("the digest must be SHA-256")
    certs = [
        c.text or ""
        for c in _one(_one(sig, DS + "KeyInfo"), DS + "X509Data")
        if c.tag == DS + "X509Certificate"
    ]
    given = cert.public_bytes(serialization.Encoding.DER)
    if not certs or base64.b64decode("".join(certs[0].split())) != given:
        raise _bad("it is not signed with the given axis certificate")
    value = _b64(_one(sig, DS + "SignatureValue"))
    expected = _b64(_one(ref, DS + "DigestValue"))
    _check_value(cert, method, canonicalize_in_context(signed_info, _C14N, None), value)
    digest = hashlib.sha256(canonicalize_in_context(batch, _C14N, None)).digest()
    if not hmac.compare_digest(digest, expected):
        raise _bad("the batch was changed after signing (digest mismatch)")

    # the receipt's own facts: a leaf of the signed batch
    fields = {name: (_one(root, _R + name).text or "") for name in _FIELDS}
    axis = _one(root, _R + "Axis")
    facts = (axis.get("organId") or "", axis.text or "", *(fields[n] for n in _FIELDS))
    proof = _one(root, _R + "Proof")
    index = _count(proof.get("index"), "Proof/@index")
    size = _count(_one(batch, _R + "Size").text, "Batch/Size")
    hashes_ = [c for c in proof if isinstance(c.tag, str)]
    if len(hashes_) > _MAX_PATH or any(c.tag != _R + "Hash" for c in hashes_):
        raise _bad("Proof holds only Hash elements")
    path = [_hex(c, "a Proof hash") for c in hashes_]
    signed_root = _hex(_one(batch, _R + "Root"), "Batch/Root")
    if not merkle.verifies(_leaf(facts), index, size, path, signed_root):
        raise _bad("the receipt's facts are not in the signed batch (the proof fails)")
    return Receipt(
        axis_organ_id=facts[0],
        axis_name=facts[1],
        document_id=fields["DocumentId"],
        edxml_document_id=fields["EdxmlDocumentId"],
        sender_code=fields["From"],
        packet_sha256=fields["PacketSha256"],
        verdict=fields["Verdict"],
        received_at=_time(_one(root, _R + "ReceivedAt")),
        issued_at=_time(_one(batch, _R + "IssuedAt")),
    )
