"""Shared material for the XML-signature tests: a test PKI made by ``certs.pki``, sample
loading, and ``resign``: a small *generic* XMLDSig signer that makes whatever
signature structure a test builds cryptographically correct, so that wrapping tests
prove the verifier refuses the *structure*, not a broken digest."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from certs import pki
from certs.pki import Issued, PrivateKey
from signing.policy import DEFAULT_POLICY, SignaturePolicy
from signing.trust import NO_REVOCATION_DATA, RevocationData, TrustStore
from signing.verify import Verdict, verify_packet
from signing.xmldsig import (
    C14N_ALGORITHMS,
    C14N_INCL,
    DS,
    DS_NS,
    ED,
    ENVELOPED,
    SIGNATURE_METHODS,
    canonicalize_in_context,
    detached,
)

NOW = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
NS = {"ds": DS_NS, "ed": EDXML_NS}


@dataclass(frozen=True)
class SigningPki:
    root: Issued
    issuing: Issued
    rsa: Issued
    ec: Issued
    other_rsa: Issued  # same CA, another agency

    @property
    def trust(self) -> TrustStore:
        return TrustStore(anchors=(self.root.cert,))


@cache
def signing_pki() -> SigningPki:
    """One PKI per test session (RSA 2048 + EC P-256 signers), made by certs.pki."""
    root = pki.make_root_ca("Axis Test Root", now=NOW, key_size=2048)
    issuing = pki.make_issuing_ca(root, "Axis Test Issuing CA", now=NOW, key_size=2048)
    signer = pki.issue_signing_cert(
        issuing, organ_id="000.00.00.H41", name="UBND tỉnh Nghệ An", now=NOW, key_size=2048
    )
    signer_ec = pki.issue_signing_cert(
        issuing, organ_id="000.00.00.H41", name="UBND tỉnh Nghệ An", now=NOW, key_type="ec"
    )
    other = pki.issue_signing_cert(
        issuing, organ_id="000.00.00.G22", name="Văn phòng Chính phủ", now=NOW, key_size=2048
    )
    return SigningPki(root, issuing, signer, signer_ec, other)


def load_sample(samples_dir: Path, name: str) -> bytes:
    """A sample packet; the junk bytes some producers put before the XML declaration
    (edoc_new.edxml starts with ``1212``) are cut."""
    data = (samples_dir / name).read_bytes()
    start = data.find(b"<?xml")
    return data[start:] if start > 0 else data


def check(
    data: bytes,
    *,
    policy: SignaturePolicy = DEFAULT_POLICY,
    trust: TrustStore | None = None,
    revocation: RevocationData = NO_REVOCATION_DATA,
    at: dt.datetime = NOW,
) -> Verdict:
    return verify_packet(
        data,
        policy=policy,
        trust=trust or signing_pki().trust,
        revocation=revocation,
        at=at,
    )


def signature_of(root: etree._Element) -> etree._Element:
    found = root.findall(".//ds:Signature", NS)
    assert len(found) == 1
    return found[0]


def header_of(root: etree._Element) -> etree._Element:
    header = root.find("ed:edXMLEnvelope/ed:edXMLHeader", NS)
    assert header is not None
    return header


def text_of(root: etree._Element, path: str) -> str | None:
    el = root.find(path, NS)
    return None if el is None else el.text


def _c14n_of(el: etree._Element) -> tuple[bool, bool]:
    spec = C14N_ALGORITHMS[el.get("Algorithm", C14N_INCL)]
    return spec.exclusive, spec.with_comments


def resign(root: etree._Element, key: PrivateKey) -> bytes:
    """Recompute every DigestValue and the SignatureValue of the first ds:Signature in
    ``root`` the way a generic XMLDSig implementation would (``URI=""``: the document;
    ``URI="#x"``: the element whose ``Id`` is ``x``; enveloped transform honoured), and
    return the serialized packet."""
    sig = root.iter(DS + "Signature").__next__()
    signed_info = sig.find("ds:SignedInfo", NS)
    assert signed_info is not None
    for ref in signed_info.findall("ds:Reference", NS):
        uri = ref.get("URI", "")
        transforms = ref.findall("ds:Transforms/ds:Transform", NS)
        algos = [t.get("Algorithm") for t in transforms]
        c14n_steps = [t for t in transforms if t.get("Algorithm") in C14N_ALGORITHMS]
        exclusive, with_comments = _c14n_of(c14n_steps[-1]) if c14n_steps else (False, False)
        if uri == "":
            target: etree._Element | etree._ElementTree = root.getroottree()
            with_comments = False
        else:
            hits = root.xpath("//*[@Id=$id]", id=uri[1:])
            assert isinstance(hits, list) and len(hits) == 1
            target = hits[0]  # type: ignore[assignment]

        with detached(sig) if ENVELOPED in algos else _nothing():
            data = etree.tostring(
                target, method="c14n", exclusive=exclusive, with_comments=with_comments
            )
        digest_method = ref.find("ds:DigestMethod", NS)
        assert digest_method is not None
        name = digest_method.get("Algorithm", "").rpartition("#")[2]
        value = ref.find("ds:DigestValue", NS)
        assert value is not None
        value.text = base64.b64encode(hashlib.new(name, data).digest()).decode()
    c14n_method = signed_info.find("ds:CanonicalizationMethod", NS)
    method = signed_info.find("ds:SignatureMethod", NS)
    assert c14n_method is not None and method is not None
    spec = C14N_ALGORITHMS[c14n_method.get("Algorithm", "")]
    octets_si = canonicalize_in_context(signed_info, spec, None)
    value_el = sig.find("ds:SignatureValue", NS)
    assert value_el is not None
    value_el.text = base64.b64encode(raw_sign(key, method.get("Algorithm", ""), octets_si)).decode()
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def raw_sign(key: PrivateKey, method: str, data: bytes) -> bytes:
    spec = SIGNATURE_METHODS[method]
    h = spec.hash()
    if isinstance(key, rsa.RSAPrivateKey):
        if spec.key == "rsa-pss":
            return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
        return key.sign(data, padding.PKCS1v15(), h)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


__all__ = [
    "ED",
    "NOW",
    "NS",
    "SigningPki",
    "check",
    "header_of",
    "load_sample",
    "raw_sign",
    "resign",
    "signature_of",
    "signing_pki",
    "text_of",
]
