"""Signed receipts: the axis's proof that it accepted a packet.

A small XML document, independent of edXML, signed by the axis's own certificate
(``[audit]`` cert and key) with an enveloped XMLDSig signature of the same profile as
``signing.sign`` (exclusive C14N, one ``Reference URI=""`` with the enveloped-signature
transform, SHA-256, RSA PKCS#1 v1.5 or ECDSA; KeyInfo/X509Data with the certificate and
its chain). Any XMLDSig verifier checks it (``xmlsec1 --verify --trusted-pem axis.pem``);
:func:`verify_receipt` is the strict one of this project::

    <AxisReceipt xmlns="urn:axis:receipt:1" version="1">
      <Axis organId="000.00.00.H36">Trục liên thông văn bản tỉnh Lâm Đồng</Axis>
      <DocumentId>01JD…</DocumentId>             the axis's id of the packet
      <EdxmlDocumentId>…</EdxmlDocumentId>       the sender's DocumentId
      <From>000.01.00.H36</From>
      <PacketSha256>…</PacketSha256>             SHA-256 of the bytes as received
      <Verdict>valid</Verdict>                   the signature verdict at intake
      <ReceivedAt>2026-…+00:00</ReceivedAt>      when the axis committed it
      <IssuedAt>2026-…+00:00</IssuedAt>          when this receipt was signed
      <ds:Signature>…</ds:Signature>
    </AxisReceipt>
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
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

from axis.auditsign import AxisSigner
from axis_errors import SignatureError
from edxml.safe import ParseLimits, parse_xml
from signing.policy import DIGEST_SHA256, SIG_ECDSA_SHA256, SIG_RSA_SHA256
from signing.xmldsig import (
    C14N_ALGORITHMS,
    C14N_EXC,
    DS,
    DS_NS,
    ENVELOPED,
    canonicalize_in_context,
    detached,
    document_digest,
)

if TYPE_CHECKING:
    from axis.app import Services
    from axis.intake import StoredFacts

__all__ = ["RECEIPT_NS", "Receipt", "issue_receipt", "sign_receipt", "verify_receipt"]

RECEIPT_NS: Final = "urn:axis:receipt:1"
_R: Final = "{" + RECEIPT_NS + "}"
_FIELDS: Final = (
    "DocumentId",
    "EdxmlDocumentId",
    "From",
    "PacketSha256",
    "Verdict",
    "ReceivedAt",
    "IssuedAt",
)
_LIMITS: Final = ParseLimits(max_bytes=1 << 20, max_depth=16, max_elements=200)


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


def sign_receipt(receipt: Receipt, signer: AxisSigner) -> bytes:
    """The receipt as signed XML bytes (UTF-8, with an XML declaration)."""
    nsmap = {None: RECEIPT_NS}  # the default namespace (lxml-stubs want str keys)
    root = etree.Element(_R + "AxisReceipt", nsmap=nsmap, version="1")  # type: ignore[arg-type]
    axis = etree.SubElement(root, _R + "Axis", organId=receipt.axis_organ_id)
    axis.text = receipt.axis_name
    values = (
        receipt.document_id,
        receipt.edxml_document_id,
        receipt.sender_code,
        receipt.packet_sha256,
        receipt.verdict,
        receipt.received_at.isoformat(),
        receipt.issued_at.isoformat(),
    )
    for name, value in zip(_FIELDS, values, strict=True):
        etree.SubElement(root, _R + name).text = value
    etree.indent(root, space="  ")
    root[-1].tail = "\n  "

    method = _method(signer.key)
    sig = etree.SubElement(root, DS + "Signature", nsmap={"ds": DS_NS})
    sig.tail = "\n"
    signed_info = etree.SubElement(sig, DS + "SignedInfo")
    etree.SubElement(signed_info, DS + "CanonicalizationMethod", Algorithm=C14N_EXC)
    etree.SubElement(signed_info, DS + "SignatureMethod", Algorithm=method)
    ref = etree.SubElement(signed_info, DS + "Reference", URI="")
    transforms = etree.SubElement(ref, DS + "Transforms")
    etree.SubElement(transforms, DS + "Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, DS + "Transform", Algorithm=C14N_EXC)
    etree.SubElement(ref, DS + "DigestMethod", Algorithm=DIGEST_SHA256)
    digest_value = etree.SubElement(ref, DS + "DigestValue")
    signature_value = etree.SubElement(sig, DS + "SignatureValue")
    x509_data = etree.SubElement(etree.SubElement(sig, DS + "KeyInfo"), DS + "X509Data")
    for text in signer.certificate_texts:
        etree.SubElement(x509_data, DS + "X509Certificate").text = text

    c14n = C14N_ALGORITHMS[C14N_EXC]
    with detached(sig):
        digest = document_digest(root, c14n, None, hashlib.sha256)
    digest_value.text = base64.b64encode(digest).decode("ascii")
    octets = canonicalize_in_context(signed_info, c14n, None)
    signature_value.text = base64.b64encode(_sign_octets(signer.key, octets)).decode("ascii")
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


async def issue_receipt(
    services: Services, document_id: str, stored: StoredFacts | None = None
) -> bytes | None:
    """A freshly signed receipt for a stored packet, or None when the axis has no
    signing identity (``[audit]`` not configured). ``NotFoundError`` if unknown.

    ``stored``: what the commit that just stored the packet wrote (the intake's
    ``Accepted.stored``), so that the document is not read back; the receipt says the
    same either way. It is signed by the analysis workers when they hold the same key.
    """
    signer = services.axis_signer
    if signer is None:
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
        issued_at=services.clock(),
    )
    analyzer = services.intake.analyzer
    if analyzer.signer is signer:
        return await analyzer.sign_receipt(receipt)
    return await asyncio.to_thread(sign_receipt, receipt, signer)


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


def verify_receipt(data: bytes, cert: x509.Certificate) -> Receipt:
    """Check that ``data`` is a receipt signed by the key of ``cert`` (the axis
    certificate, obtained independently) and return what it says. Raises
    :class:`~axis_errors.SignatureError` ``receipt.invalid`` otherwise."""
    root = parse_xml(data, _LIMITS)
    if root.tag != _R + "AxisReceipt":
        raise _bad("the root element is not AxisReceipt")
    sigs = list(root.iter(DS + "Signature"))
    if len(sigs) != 1 or sigs[0].getparent() is not root or root[-1] is not sigs[0]:
        raise _bad("it needs exactly one ds:Signature, as the last child of AxisReceipt")
    sig = sigs[0]
    signed_info = _one(sig, DS + "SignedInfo")
    if _one(signed_info, DS + "CanonicalizationMethod").get("Algorithm") != C14N_EXC:
        raise _bad("SignedInfo must use exclusive C14N")
    method = _one(signed_info, DS + "SignatureMethod").get("Algorithm") or ""
    ref = _one(signed_info, DS + "Reference")
    if ref.get("URI") != "":
        raise _bad('the Reference must cover the whole document (URI="")')
    algs = [t.get("Algorithm") for t in _one(ref, DS + "Transforms")]
    if algs not in ([ENVELOPED], [ENVELOPED, C14N_EXC]):
        raise _bad("only the enveloped-signature and exclusive C14N transforms are allowed")
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
    c14n = C14N_ALGORITHMS[C14N_EXC]
    try:
        value = base64.b64decode("".join((_one(sig, DS + "SignatureValue").text or "").split()))
        expected = base64.b64decode("".join((_one(ref, DS + "DigestValue").text or "").split()))
    except ValueError:
        raise _bad("a base64 value is malformed") from None
    _check_value(cert, method, canonicalize_in_context(signed_info, c14n, None), value)
    with detached(sig):
        digest = document_digest(root, c14n, None, hashlib.sha256)
    if not hmac.compare_digest(digest, expected):
        raise _bad("the content was changed after signing (digest mismatch)")
    fields = {name: (_one(root, _R + name).text or "") for name in _FIELDS}
    axis = _one(root, _R + "Axis")
    try:
        received = datetime.fromisoformat(fields["ReceivedAt"])
        issued = datetime.fromisoformat(fields["IssuedAt"])
    except ValueError:
        raise _bad("a time is not ISO 8601") from None
    return Receipt(
        axis_organ_id=axis.get("organId") or "",
        axis_name=axis.text or "",
        document_id=fields["DocumentId"],
        edxml_document_id=fields["EdxmlDocumentId"],
        sender_code=fields["From"],
        packet_sha256=fields["PacketSha256"],
        verdict=fields["Verdict"],
        received_at=received,
        issued_at=issued,
    )
