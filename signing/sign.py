"""Sign an edXML packet with an enveloped XMLDSig signature (the profile of ADR 0003).

:func:`sign_packet` parses the packet once (hardened, :func:`edxml.safe.parse_xml`),
appends one ``ds:Signature`` as the **last child of edXMLHeader** and returns the new
bytes (UTF-8, with an XML declaration). The signature:

* ``CanonicalizationMethod`` and the Reference's canonicalization transform are
  exclusive C14N 1.0 without comments (``xml-exc-c14n#``): SignedInfo then canonicalizes
  the same wherever it sits, whatever namespaces the packet declares around it;
* one ``Reference URI=""`` with the enveloped-signature transform and a SHA-256 digest;
* ``SignatureMethod`` per ``algorithm``: ``rsa-sha256`` (RSASSA-PKCS1-v1_5),
  ``rsa-pss-sha256`` (RFC 6931 ``sha256-rsa-MGF1``: MGF1 with SHA-256, salt length 32
  = the hash length, trailer field 1, which is what signxml and xmlsec 1.3 use by
  default) or ``ecdsa-sha256`` (the raw ``r || s`` value XMLDSig 1.1 prescribes);
* ``KeyInfo/X509Data`` with the signer's certificate, then ``chain`` in order.

A packet that already holds a legacy ``Signature`` in the edXML namespace as the real
producers write it (unverifiable: see the edXML notes, section 5) has it **replaced**:
leaving it would put two signature-shaped elements in one header and make every reader
guess. A packet that already carries an XMLDSig ``ds:Signature`` is refused
(``sig.already-signed``): counter-signatures are not part of the profile.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Final, Literal, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from axis_errors import PacketError, SignatureError
from edxml.safe import DEFAULT_LIMITS, ParseLimits, parse_xml
from signing.policy import DIGEST_SHA256, SIG_ECDSA_SHA256, SIG_RSA_PSS_SHA256, SIG_RSA_SHA256
from signing.xmldsig import (
    C14N_ALGORITHMS,
    C14N_EXC,
    DS,
    DS_NS,
    ENVELOPED,
    canonicalize_in_context,
    detach,
    detached,
    document_digest,
    find_header,
    local_name,
)

__all__ = ["ALGORITHMS", "SigningAlgorithm", "sign_packet"]

SigningAlgorithm: TypeAlias = Literal["rsa-sha256", "rsa-pss-sha256", "ecdsa-sha256"]

#: The short names ``sign_packet`` (and ``axis sign``) accept -> SignatureMethod URI.
ALGORITHMS: Final[dict[str, str]] = {
    "rsa-sha256": SIG_RSA_SHA256,
    "rsa-pss-sha256": SIG_RSA_PSS_SHA256,
    "ecdsa-sha256": SIG_ECDSA_SHA256,
}

_C14N: Final = C14N_EXC


def sign_packet(
    data: bytes,
    key: PrivateKeyTypes,
    cert: x509.Certificate,
    *,
    chain: Sequence[x509.Certificate] = (),
    algorithm: SigningAlgorithm = "rsa-sha256",
    limits: ParseLimits = DEFAULT_LIMITS,
) -> bytes:
    """Return ``data`` signed with ``key`` (whose certificate is ``cert``).

    Raises :class:`~axis_errors.XmlError` for input that does not parse,
    :class:`~axis_errors.PacketError` (``sig.not-edxml``, ``sig.already-signed``) for a
    packet the profile cannot sign, and :class:`~axis_errors.SignatureError`
    (``sig.algorithm-unsupported``, ``sig.key-mismatch``) for a key that cannot make
    the asked signature.
    """
    method = ALGORITHMS.get(algorithm)
    if method is None:
        raise SignatureError(
            f"Signing algorithm {algorithm!r} is not supported; use one of "
            f"{', '.join(sorted(ALGORITHMS))}.",
            code="sig.algorithm-unsupported",
        )
    _check_key(key, cert, algorithm)

    root = parse_xml(data, limits)
    header = find_header(root)
    if header is None:
        raise PacketError(
            "The packet is not an edXML packet with one edXML/edXMLEnvelope/edXMLHeader; "
            "there is no place for the signature.",
            code="sig.not-edxml",
        )
    if next(root.iter(DS + "Signature"), None) is not None:
        raise PacketError(
            "The packet already carries an XMLDSig ds:Signature; counter-signing is not "
            "part of the edXML signature profile.",
            code="sig.already-signed",
        )
    for child in list(header):
        if local_name(child) == "Signature":  # legacy edXML-namespace Signature
            _remove_tidily(child)

    signature, signed_info, digest_value, signature_value = _template(method, cert, chain)
    _append_tidily(header, signature)

    c14n = C14N_ALGORITHMS[_C14N]
    with detached(signature):
        digest = document_digest(root, c14n, None, hashlib.sha256)
    digest_value.text = base64.b64encode(digest).decode("ascii")
    signed_octets = canonicalize_in_context(signed_info, c14n, None)
    signature_value.text = base64.b64encode(_sign(key, algorithm, signed_octets)).decode("ascii")
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


# --------------------------------------------------------------------------- keys


def _check_key(key: PrivateKeyTypes, cert: x509.Certificate, algorithm: str) -> None:
    wants_rsa = algorithm.startswith("rsa")
    if wants_rsa and not isinstance(key, rsa.RSAPrivateKey):
        raise SignatureError(
            f"Algorithm {algorithm} needs an RSA private key, not {type(key).__name__}.",
            code="sig.key-mismatch",
        )
    if not wants_rsa and not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SignatureError(
            f"Algorithm {algorithm} needs an EC private key, not {type(key).__name__}.",
            code="sig.key-mismatch",
        )
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise SignatureError(
            "The private key does not belong to the signing certificate "
            f"({cert.subject.rfc4514_string()}).",
            code="sig.key-mismatch",
        )


def _sign(key: PrivateKeyTypes, algorithm: str, octets: bytes) -> bytes:
    if isinstance(key, rsa.RSAPrivateKey):
        if algorithm == "rsa-pss-sha256":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return key.sign(octets, pss, hashes.SHA256())
        return key.sign(octets, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(octets, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise SignatureError("Unsupported key type.", code="sig.key-mismatch")  # pragma: no cover


# --------------------------------------------------------------------------- tree


def _template(
    method: str, cert: x509.Certificate, chain: Sequence[x509.Certificate]
) -> tuple[etree._Element, etree._Element, etree._Element, etree._Element]:
    """The ds:Signature skeleton: (Signature, SignedInfo, DigestValue, SignatureValue)."""
    sig = etree.Element(DS + "Signature", nsmap={"ds": DS_NS})
    signed_info = etree.SubElement(sig, DS + "SignedInfo")
    etree.SubElement(signed_info, DS + "CanonicalizationMethod", Algorithm=_C14N)
    etree.SubElement(signed_info, DS + "SignatureMethod", Algorithm=method)
    ref = etree.SubElement(signed_info, DS + "Reference", URI="")
    transforms = etree.SubElement(ref, DS + "Transforms")
    etree.SubElement(transforms, DS + "Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, DS + "Transform", Algorithm=_C14N)
    etree.SubElement(ref, DS + "DigestMethod", Algorithm=DIGEST_SHA256)
    digest_value = etree.SubElement(ref, DS + "DigestValue")
    signature_value = etree.SubElement(sig, DS + "SignatureValue")
    x509_data = etree.SubElement(etree.SubElement(sig, DS + "KeyInfo"), DS + "X509Data")
    for c in (cert, *chain):
        el = etree.SubElement(x509_data, DS + "X509Certificate")
        el.text = base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")
    return sig, signed_info, digest_value, signature_value


def _is_blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _append_tidily(header: etree._Element, sig: etree._Element) -> None:
    """Append ``sig`` as the last child of ``header``, indented like its siblings when
    the header is pretty-printed (whitespace is signed; it is chosen before digesting)."""
    children = list(header)
    child_indent = header.text
    closing = children[-1].tail if children else None
    if children and child_indent and "\n" in child_indent and _is_blank(child_indent):
        closing = closing if _is_blank(closing) else None
        unit = "  "
        if closing is not None and child_indent.startswith(closing) and child_indent != closing:
            unit = child_indent[len(closing) :]
        _indent(sig, child_indent, unit)
        children[-1].tail = child_indent
        sig.tail = closing
    header.append(sig)


def _indent(el: etree._Element, indent: str, unit: str) -> None:
    children = list(el)
    if not children:
        return
    el.text = indent + unit
    for child in children:
        _indent(child, indent + unit, unit)
        child.tail = indent + unit
    children[-1].tail = indent


def _remove_tidily(el: etree._Element) -> None:
    """Remove ``el``; the previous sibling takes over its tail when both are blank, so
    the indentation stays as it was."""
    prev = el.getprevious()
    if prev is not None and _is_blank(prev.tail) and _is_blank(el.tail):
        prev.tail = el.tail
        parent = el.getparent()
        assert parent is not None
        parent.remove(el)
    else:
        detach(el)
