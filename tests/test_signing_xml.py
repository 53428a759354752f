"""Signing and verifying edXML packets (signing.sign / signing.verify): round trips on
real sample packets, tampering, algorithms and policy, what ``signed_root`` exposes."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from axis_errors import PacketError, SignatureError, XmlError
from certs import pki
from signing.policy import (
    CIRCULAR_15_2025_POLICY,
    DIGEST_SHA1,
    SIG_ECDSA_SHA256,
    SIG_RSA_PSS_SHA256,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    UNSAFE_LEGACY_POLICY,
    Outcome,
    SignaturePolicy,
)
from signing.sign import sign_packet
from signing.trust import RevocationData, TrustStore
from signing.xmldsig import DS
from tests._signing_support import (
    NOW,
    NS,
    check,
    header_of,
    load_sample,
    resign,
    signature_of,
    signing_pki,
    text_of,
)

ALGORITHMS = {
    "rsa-sha256": SIG_RSA_SHA256,
    "rsa-pss-sha256": SIG_RSA_PSS_SHA256,
    "ecdsa-sha256": SIG_ECDSA_SHA256,
}
DOCUMENT_SAMPLES = [
    "edoc_new.edxml",
    "edoc_revocation.edxml",
    "edoc_update.edxml",
    "edoc_replacement.edxml",
]
SUBJECT = "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader/ed:Subject"
FROM_ID = "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader/ed:From/ed:OrganId"
TO_ID = "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader/ed:To/ed:OrganId"


def signed(data: bytes, algorithm: str = "rsa-sha256") -> bytes:
    p = signing_pki()
    who = p.ec if algorithm.startswith("ecdsa") else p.rsa
    return sign_packet(
        data,
        who.key,
        who.cert,
        chain=who.chain[:-1],
        algorithm=algorithm,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def edoc(samples_dir: Path) -> bytes:
    return load_sample(samples_dir, "edoc_new.edxml")


@pytest.fixture(scope="module")
def status(samples_dir: Path) -> bytes:
    return load_sample(samples_dir, "status_acceptance_03.edxml")


@pytest.fixture(scope="module")
def signed_edoc(edoc: bytes) -> bytes:
    return signed(edoc)


# ------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("sample", [*DOCUMENT_SAMPLES, "status.edxml"])
def test_round_trip_is_valid(samples_dir: Path, sample: str, algorithm: str) -> None:
    original = load_sample(samples_dir, sample)
    verdict = check(signed(original, algorithm))

    assert verdict.outcome is Outcome.VALID, verdict.reasons
    assert verdict.valid
    assert verdict.algorithm == ALGORITHMS[algorithm]
    assert verdict.signer is not None and verdict.signer.organ_id == "000.00.00.H41"
    p = signing_pki()
    assert len(verdict.chain_sha256) >= 2
    assert verdict.chain_sha256[-1] == p.root.cert.fingerprint(hashes.SHA256()).hex()
    root = verdict.signed_root
    assert root is not None
    # What was signed is the packet itself, minus the signature.
    assert root.find(".//ds:Signature", NS) is None
    assert root.find(".//{*}Signature") is None  # the legacy one was replaced
    original_root = etree.fromstring(original)
    assert text_of(root, FROM_ID) == text_of(original_root, FROM_ID)


def test_signature_sits_last_in_edxmlheader(signed_edoc: bytes) -> None:
    root = etree.fromstring(signed_edoc)
    header = header_of(root)
    children = [etree.QName(c).localname for c in header]
    assert children == ["MessageHeader", "TraceHeaderList", "Signature"]
    assert header[-1].tag == DS + "Signature"
    algorithms = [
        t.get("Algorithm") for t in header[-1].iterfind(".//ds:Reference/ds:Transforms/*", NS)
    ]
    assert algorithms == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    certs = header[-1].findall("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    p = signing_pki()
    assert [base64.b64decode(c.text or "") for c in certs] == [
        p.rsa.cert.public_bytes(Encoding.DER),
        p.issuing.cert.public_bytes(Encoding.DER),
    ]


def test_status_packet_signature_follows_the_status_block(status: bytes) -> None:
    root = etree.fromstring(signed(status))
    header = header_of(root)
    assert [etree.QName(c).localname for c in header] == ["MessageHeader", "Signature"]
    assert check(signed(status, "ecdsa-sha256")).outcome is Outcome.VALID


def test_status_packet_with_a_status_block(status: bytes) -> None:
    renamed = status.replace(b"edXML:MessageHeader>", b"edXML:Status>")
    assert b"edXML:Status>" in renamed
    verdict = check(signed(renamed))
    assert verdict.outcome is Outcome.VALID
    assert verdict.signed_root is not None
    header = header_of(verdict.signed_root)
    assert [etree.QName(c).localname for c in header] == ["Status"]


# ------------------------------------------------------------------- samples as they are


ALL_SAMPLES = [
    *DOCUMENT_SAMPLES,
    "status.edxml",
    "status_acceptance_03.edxml",
    "status_assignment_04.edxml",
    "status_cancellation_13.edxml",
    "status_change-acceptance_15.edxml",
    "status_change-rejection_16.edxml",
    "status_finish_06.edxml",
    "status_inbox_01.edxml",
    "status_processing_05.edxml",
    "status_rejection_02.edxml",
]


def test_the_sample_list_is_complete(samples_dir: Path) -> None:
    assert sorted(p.name for p in samples_dir.glob("*.edxml")) == sorted(ALL_SAMPLES)


@pytest.mark.parametrize("sample", ALL_SAMPLES)
def test_every_sample_is_unsigned_or_legacy(samples_dir: Path, sample: str) -> None:
    verdict = check(load_sample(samples_dir, sample))
    if sample.startswith("edoc_"):
        assert verdict.outcome is Outcome.LEGACY_UNVERIFIABLE
        assert "rsa-sha1" in verdict.reasons[0]
    else:
        assert verdict.outcome is Outcome.UNSIGNED
    assert verdict.signer is None and verdict.algorithm is None
    assert verdict.signed_root is not None  # nothing signed: the parsed packet


def test_unsigned_packet_under_a_policy_that_requires_signatures(status: bytes) -> None:
    verdict = check(status, policy=SignaturePolicy(require_signature=True))
    assert verdict.outcome is Outcome.UNSIGNED
    assert "requires a signature" in verdict.reasons[0]


def test_sample_with_junk_before_the_declaration_is_an_xml_error(samples_dir: Path) -> None:
    raw = (samples_dir / "edoc_new.edxml").read_bytes()
    assert raw.startswith(b"1212")
    with pytest.raises(XmlError):
        check(raw)


def test_not_well_formed_is_an_xml_error(signed_edoc: bytes) -> None:
    with pytest.raises(XmlError):
        check(signed_edoc[: len(signed_edoc) // 2])


# ----------------------------------------------------------------------------- tampering


def _replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) >= 1, old
    return data.replace(old, new, 1)


def _assert_invalid(data: bytes, reason: str) -> None:
    verdict = check(data)
    assert verdict.outcome is Outcome.INVALID, verdict.reasons
    assert verdict.signed_root is None
    assert verdict.signer is None
    assert re.search(reason, " ".join(verdict.reasons)), verdict.reasons


def test_one_byte_of_the_subject_changed(signed_edoc: bytes) -> None:
    root = etree.fromstring(signed_edoc)
    subject = text_of(root, SUBJECT)
    assert subject
    old = subject.encode()
    new = bytes([old[0] ^ 0x01]) + old[1:]
    _assert_invalid(_replace_once(signed_edoc, old, new), "DigestValue does not match")


def test_attachment_base64_changed(signed_edoc: bytes) -> None:
    start = signed_edoc.index(b"<edXML:ContentTransferEncoded")
    pos = signed_edoc.index(b">", start) + 500
    flipped = b"A" if signed_edoc[pos : pos + 1] != b"A" else b"B"
    _assert_invalid(
        signed_edoc[:pos] + flipped + signed_edoc[pos + 1 :], "DigestValue does not match"
    )


def test_recipient_changed(signed_edoc: bytes) -> None:
    to = text_of(etree.fromstring(signed_edoc), TO_ID)
    assert to
    changed = _replace_once(
        signed_edoc, f"<edXML:OrganId>{to}<".encode(), b"<edXML:OrganId>000.00.00.G99<"
    )
    _assert_invalid(changed, "DigestValue does not match")


def test_signature_value_flipped(signed_edoc: bytes) -> None:
    root = etree.fromstring(signed_edoc)
    value = signature_of(root).find("ds:SignatureValue", NS)
    assert value is not None and value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 0x40
    value.text = base64.b64encode(bytes(raw)).decode()
    _assert_invalid(etree.tostring(root), "SignatureValue does not verify")


def test_digest_value_changed_with_signature_intact(signed_edoc: bytes) -> None:
    root = etree.fromstring(signed_edoc)
    value = signature_of(root).find(".//ds:DigestValue", NS)
    assert value is not None
    value.text = base64.b64encode(bytes(32)).decode()
    _assert_invalid(etree.tostring(root), "SignatureValue does not verify")


def test_someone_elses_certificate_in_keyinfo(signed_edoc: bytes) -> None:
    other = signing_pki().other_rsa.cert.public_bytes(Encoding.DER)
    root = etree.fromstring(signed_edoc)
    first = signature_of(root).find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert first is not None
    first.text = base64.b64encode(other).decode()
    _assert_invalid(etree.tostring(root), "SignatureValue does not verify")


def test_certificate_of_the_wrong_key_type(signed_edoc: bytes) -> None:
    ec_cert = signing_pki().ec.cert.public_bytes(Encoding.DER)
    root = etree.fromstring(signed_edoc)
    first = signature_of(root).find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert first is not None
    first.text = base64.b64encode(ec_cert).decode()
    _assert_invalid(etree.tostring(root), "needs an RSA key")


def test_resigned_by_another_agency_is_valid_but_names_that_agency(signed_edoc: bytes) -> None:
    """Not a forgery: a valid signature by G22. The verdict names G22, and binding the
    signer to From.OrganId is the intake's check (DESIGN §3)."""
    p = signing_pki()
    root = etree.fromstring(signed_edoc)
    sig = signature_of(root)
    first = sig.find("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert first is not None
    first.text = base64.b64encode(p.other_rsa.cert.public_bytes(Encoding.DER)).decode()
    verdict = check(resign(root, p.other_rsa.key))
    assert verdict.outcome is Outcome.VALID
    assert verdict.signer is not None and verdict.signer.organ_id == "000.00.00.G22"


# ----------------------------------------------------------------- algorithms and policy


def _with_algorithms(data: bytes, method: str, digest: str) -> bytes:
    root = etree.fromstring(data)
    sig = signature_of(root)
    sm = sig.find("ds:SignedInfo/ds:SignatureMethod", NS)
    dm = sig.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS)
    assert sm is not None and dm is not None
    sm.set("Algorithm", method)
    dm.set("Algorithm", digest)
    return resign(root, signing_pki().rsa.key)


def test_sha1_is_invalid_by_default(status: bytes) -> None:
    sha1 = _with_algorithms(signed(status), SIG_RSA_SHA1, DIGEST_SHA1)
    verdict = check(sha1)
    assert verdict.outcome is Outcome.INVALID
    assert "rsa-sha1 is not allowed" in verdict.reasons[0]
    assert verdict.algorithm == SIG_RSA_SHA1


def test_sha1_under_the_unsafe_legacy_flag_is_weak_never_valid(status: bytes) -> None:
    sha1 = _with_algorithms(signed(status), SIG_RSA_SHA1, DIGEST_SHA1)
    verdict = check(sha1, policy=UNSAFE_LEGACY_POLICY)
    assert verdict.outcome is Outcome.WEAK_ALGORITHM, verdict.reasons
    assert not verdict.valid
    assert verdict.signed_root is not None
    assert any("SHA-1" in r for r in verdict.reasons)
    # ... and a SHA-1 signature that does not verify is still invalid
    tampered = sha1.replace(b"<edXML:StatusCode>03<", b"<edXML:StatusCode>02<", 1)
    assert tampered != sha1
    assert check(tampered, policy=UNSAFE_LEGACY_POLICY).outcome is Outcome.INVALID


def test_circular_15_2025_takes_pss_only(status: bytes) -> None:
    assert check(signed(status, "rsa-pss-sha256"), policy=CIRCULAR_15_2025_POLICY).valid
    for algorithm in ("rsa-sha256", "ecdsa-sha256"):
        verdict = check(signed(status, algorithm), policy=CIRCULAR_15_2025_POLICY)
        assert verdict.outcome is Outcome.INVALID
        assert "not allowed by the signature policy" in verdict.reasons[0]


def test_pss_with_another_salt_length_is_invalid(status: bytes) -> None:
    """RFC 6931 sha256-rsa-MGF1 fixes the salt at the hash length (32)."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from signing.xmldsig import C14N_ALGORITHMS, canonicalize_in_context

    root = etree.fromstring(signed(status, "rsa-pss-sha256"))
    sig = signature_of(root)
    si = sig.find("ds:SignedInfo", NS)
    assert si is not None
    octets = canonicalize_in_context(
        si, C14N_ALGORITHMS["http://www.w3.org/2001/10/xml-exc-c14n#"], None
    )
    key = signing_pki().rsa.key
    assert isinstance(key, rsa.RSAPrivateKey)
    value = key.sign(octets, padding.PSS(padding.MGF1(hashes.SHA256()), 20), hashes.SHA256())
    sv = sig.find("ds:SignatureValue", NS)
    assert sv is not None
    sv.text = base64.b64encode(value).decode()
    assert check(etree.tostring(root)).outcome is Outcome.INVALID


# ------------------------------------------------------------------------ path outcomes


def test_untrusted_root(status: bytes) -> None:
    stranger = pki.make_root_ca("Stranger Root", now=NOW, key_size=2048)
    verdict = check(signed(status), trust=TrustStore(anchors=(stranger.cert,)))
    assert verdict.outcome is Outcome.UNTRUSTED, verdict.reasons
    assert verdict.signed_root is not None and verdict.signer is not None


def test_expired_and_not_yet_valid(status: bytes) -> None:
    data = signed(status)
    assert check(data, at=NOW + dt.timedelta(days=800)).outcome is Outcome.EXPIRED
    assert check(data, at=NOW - dt.timedelta(days=2)).outcome is Outcome.NOT_YET_VALID


def test_revoked_by_crl(status: bytes) -> None:
    p = signing_pki()
    crl = pki.make_crl(
        p.issuing,
        [(p.rsa.cert.serial_number, NOW - dt.timedelta(minutes=30), None)],
        this_update=NOW - dt.timedelta(minutes=20),
        next_update=NOW + dt.timedelta(days=7),
    )
    verdict = check(signed(status), revocation=RevocationData(crls=(crl,)))
    assert verdict.outcome is Outcome.REVOKED, verdict.reasons
    assert verdict.signed_root is not None


# ------------------------------------------------------------- what signed_root exposes


def test_comment_inserted_into_signed_text_cannot_split_it(signed_edoc: bytes) -> None:
    """C14N without comments does not cover comments, so a comment slipped into the
    Subject after signing keeps the digest; ``signed_root`` has comments removed, so
    ``.text`` reads the whole signed text, not the part before the comment."""
    subject = text_of(etree.fromstring(signed_edoc), SUBJECT)
    assert subject and len(subject) > 10
    head, tail = subject[:5], subject[5:]
    spliced = _replace_once(
        signed_edoc,
        f">{subject}<".encode(),
        f">{head}<!-- x -->{tail}<".encode(),
    )
    verdict = check(spliced)
    assert verdict.outcome is Outcome.VALID
    assert verdict.signed_root is not None
    assert text_of(verdict.signed_root, SUBJECT) == subject
    assert not list(verdict.signed_root.iter(etree.Comment))


def test_comments_present_when_signing_are_not_in_signed_root(status: bytes) -> None:
    commented = status.replace(
        b"<edXML:StatusCode>", b"<!-- note --><edXML:StatusCode>", 1
    ).replace(b"<edXML:StatusCode>03", b"<edXML:StatusCode>0<!--split-->3", 1)
    verdict = check(signed(commented))
    assert verdict.outcome is Outcome.VALID
    assert verdict.signed_root is not None
    code = text_of(
        verdict.signed_root, "ed:edXMLEnvelope/ed:edXMLHeader/ed:MessageHeader/ed:StatusCode"
    )
    assert code == "03"


def test_verdict_to_dict_is_json(signed_edoc: bytes, edoc: bytes) -> None:
    for data in (signed_edoc, edoc):
        out = json.loads(json.dumps(check(data).to_dict()))
        assert set(out) >= {"verdict", "signer", "reasons", "algorithm"}
    good = json.loads(json.dumps(check(signed_edoc).to_dict()))
    assert good["verdict"] == "valid"
    assert good["signer"] is not None


# ----------------------------------------------------------------------------- signing


def test_signing_refuses_a_packet_already_signed(signed_edoc: bytes) -> None:
    p = signing_pki()
    with pytest.raises(PacketError) as err:
        sign_packet(signed_edoc, p.rsa.key, p.rsa.cert)
    assert err.value.code == "sig.already-signed"


def test_signing_refuses_what_is_not_edxml() -> None:
    p = signing_pki()
    with pytest.raises(PacketError) as err:
        sign_packet(b"<a><b/></a>", p.rsa.key, p.rsa.cert)
    assert err.value.code == "sig.not-edxml"


def test_signing_refuses_a_key_that_does_not_fit(status: bytes) -> None:
    p = signing_pki()
    with pytest.raises(SignatureError) as err:
        sign_packet(status, p.rsa.key, p.other_rsa.cert)
    assert err.value.code == "sig.key-mismatch"
    with pytest.raises(SignatureError):
        sign_packet(status, p.rsa.key, p.rsa.cert, algorithm="ecdsa-sha256")
    with pytest.raises(SignatureError) as err:
        sign_packet(status, p.rsa.key, p.rsa.cert, algorithm="rsa-sha1")  # type: ignore[arg-type]
    assert err.value.code == "sig.algorithm-unsupported"


def test_signing_is_deterministic_for_pkcs1(status: bytes) -> None:
    assert signed(status) == signed(status)


def test_a_path_cache_gives_the_same_verdicts(status: bytes) -> None:
    from signing.certpath import PathCache
    from signing.verify import verify_packet

    cache = PathCache()
    data = signed(status)
    p = signing_pki()
    verdicts = [
        verify_packet(
            data,
            policy=SignaturePolicy(),
            trust=p.trust,
            revocation=RevocationData(),
            at=at,
            cache=cache,
        )
        for at in (NOW, NOW, NOW + dt.timedelta(days=800))
    ]
    assert [v.outcome for v in verdicts] == [Outcome.VALID, Outcome.VALID, Outcome.EXPIRED]
    assert verdicts[0] == verdicts[1]
