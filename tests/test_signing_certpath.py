"""Certificate path validation, revocation and the path cache, with certificates made
by ``certs.pki`` (nothing checked in) and the real government anchors."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import given, settings
from hypothesis import strategies as st

from axis_errors import ConfigError, SignatureError
from certs import pki
from signing.certpath import (
    PathCache,
    PathResult,
    signer_details,
    validate_signer,
    validate_signer_cached,
)
from signing.policy import (
    DEFAULT_POLICY,
    EKU_DOCUMENT_SIGNING,
    UNSAFE_LEGACY_POLICY,
    Outcome,
    RevocationMode,
    SignaturePolicy,
)
from signing.trust import RevocationData, TrustStore, cert_sha256

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
ORGAN = "000.00.31.H36"
HARD = replace(DEFAULT_POLICY, revocation_mode=RevocationMode.HARD_FAIL)
SOFT = DEFAULT_POLICY


@pytest.fixture(scope="module")
def root() -> pki.Issued:
    return pki.make_root_ca("Test Root", now=NOW - 30 * DAY, key_size=2048)


@pytest.fixture(scope="module")
def ca(root: pki.Issued) -> pki.Issued:
    return pki.make_issuing_ca(root, "Test Issuing CA", now=NOW - 30 * DAY, key_size=2048)


@pytest.fixture(scope="module")
def other_root() -> pki.Issued:
    return pki.make_root_ca("Other Root", now=NOW, key_size=2048)


@pytest.fixture(scope="module")
def trust(root: pki.Issued) -> TrustStore:
    return TrustStore(anchors=(root.cert,))


@pytest.fixture(scope="module")
def leaf(ca: pki.Issued) -> pki.Issued:
    return pki.issue_signing_cert(ca, organ_id=ORGAN, name="Sở Nội vụ", now=NOW)


def crl(
    issuer: pki.Issued,
    revoked: tuple[tuple[int, dt.datetime], ...] = (),
    *,
    this_update: dt.datetime = NOW - DAY,
    next_update: dt.datetime = NOW + 7 * DAY,
) -> x509.CertificateRevocationList:
    return pki.make_crl(
        issuer,
        [(serial, when, x509.ReasonFlags.key_compromise) for serial, when in revoked],
        this_update=this_update,
        next_update=next_update,
    )


@pytest.fixture(scope="module")
def fresh(root: pki.Issued, ca: pki.Issued) -> RevocationData:
    """Fresh, empty CRLs of both CAs: nothing in the chain is revoked."""
    return RevocationData(crls=(crl(ca), crl(root)))


def check(
    leaf: pki.Issued | x509.Certificate,
    trust: TrustStore,
    revocation: RevocationData = RevocationData(),  # noqa: B008 - frozen value
    *,
    policy: SignaturePolicy = SOFT,
    at: dt.datetime = NOW,
    extra: tuple[x509.Certificate, ...] | None = None,
) -> PathResult:
    cert = leaf.cert if isinstance(leaf, pki.Issued) else leaf
    if extra is None:
        extra = leaf.chain[:-1] if isinstance(leaf, pki.Issued) else ()
    return validate_signer(cert, extra, trust=trust, revocation=revocation, policy=policy, at=at)


def issue(ca: pki.Issued, **kw: Any) -> pki.Issued:
    return pki.issue_signing_cert(ca, organ_id=ORGAN, name="Sở Tư pháp", now=NOW, **kw)


# ------------------------------------------------------------------ basic outcomes


def test_valid_leaf_with_fresh_crls(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore, fresh: RevocationData
) -> None:
    result = check(leaf, trust, fresh, policy=HARD)
    assert result.outcome is Outcome.VALID
    assert result.ok
    assert result.reasons == ()
    assert result.chain == (leaf.cert, ca.cert, root.cert)
    # cacheable until the earliest of the CRLs' nextUpdate and the chain's expiry
    assert result.valid_until == NOW + 7 * DAY
    assert result.valid_from == max(c.not_valid_before_utc for c in result.chain)


def test_intermediate_from_trust_store_is_used(
    leaf: pki.Issued, root: pki.Issued, ca: pki.Issued, fresh: RevocationData
) -> None:
    with_inter = TrustStore(anchors=(root.cert,), intermediates=(ca.cert,))
    assert check(leaf, with_inter, fresh, extra=()).outcome is Outcome.VALID
    no_inter = TrustStore(anchors=(root.cert,))
    assert check(leaf, no_inter, fresh, extra=()).outcome is Outcome.UNTRUSTED


def test_expired_and_not_yet_valid(leaf: pki.Issued, trust: TrustStore) -> None:
    after = leaf.cert.not_valid_after_utc + dt.timedelta(seconds=1)
    before = leaf.cert.not_valid_before_utc - dt.timedelta(seconds=1)
    expired = check(leaf, trust, at=after)
    assert expired.outcome is Outcome.EXPIRED
    assert "expired" in expired.reasons[0]
    early = check(leaf, trust, at=before)
    assert early.outcome is Outcome.NOT_YET_VALID
    # the window edges themselves are inside
    assert check(leaf, trust, at=leaf.cert.not_valid_after_utc).outcome is Outcome.VALID
    assert check(leaf, trust, at=leaf.cert.not_valid_before_utc).outcome is Outcome.VALID


def test_expired_intermediate_is_expired_naming_the_ca(root: pki.Issued, trust: TrustStore) -> None:
    old_ca = pki.make_issuing_ca(
        root,
        "Old CA",
        now=NOW,
        key_size=2048,
        not_before=NOW - 400 * DAY,
        not_after=NOW - DAY,
    )
    leaf = pki.issue_signing_cert(
        old_ca, organ_id=ORGAN, name="Org", now=NOW, not_before=NOW - 10 * DAY
    )
    result = check(leaf, trust)
    assert result.outcome is Outcome.EXPIRED
    assert "Old CA" in result.reasons[0]


def test_naive_time_is_refused(leaf: pki.Issued, trust: TrustStore) -> None:
    with pytest.raises(SignatureError) as info:
        check(leaf, trust, at=NOW.replace(tzinfo=None))
    assert info.value.code == "sig.time-naive"


def test_other_timezones_are_the_same_instant(leaf: pki.Issued, trust: TrustStore) -> None:
    hanoi = dt.timezone(dt.timedelta(hours=7))
    edge = leaf.cert.not_valid_after_utc
    assert check(leaf, trust, at=edge.astimezone(hanoi)).outcome is Outcome.VALID
    later = (edge + dt.timedelta(seconds=1)).astimezone(hanoi)
    assert check(leaf, trust, at=later).outcome is Outcome.EXPIRED


# ------------------------------------------------------------------------ trust


def test_other_root_is_untrusted(leaf: pki.Issued, other_root: pki.Issued) -> None:
    result = check(leaf, TrustStore(anchors=(other_root.cert,)))
    assert result.outcome is Outcome.UNTRUSTED
    assert "No path" in result.reasons[0]
    assert result.chain == ()


def test_self_signed_leaf_is_untrusted(trust: TrustStore) -> None:
    rogue = pki.make_root_ca("Sở Nội vụ", now=NOW, key_size=2048)
    leaf = issue(rogue)
    assert check(leaf, trust).outcome is Outcome.UNTRUSTED


def test_extra_certs_are_not_anchors(leaf: pki.Issued, other_root: pki.Issued) -> None:
    # Presenting the whole chain, root included, does not make it trusted.
    result = check(leaf, TrustStore(anchors=(other_root.cert,)), extra=leaf.chain)
    assert result.outcome is Outcome.UNTRUSTED


# ------------------------------------------------------------------ leaf profile


def test_key_encipherment_only_is_refused(ca: pki.Issued, trust: TrustStore) -> None:
    result = check(issue(ca, key_usage=frozenset({"key_encipherment"})), trust)
    assert result.outcome is Outcome.UNTRUSTED
    assert "keyUsage" in result.reasons[0]


def test_missing_key_usage_is_refused(ca: pki.Issued, trust: TrustStore) -> None:
    result = check(issue(ca, key_usage=None), trust)
    assert result.outcome is Outcome.UNTRUSTED
    assert "no keyUsage" in result.reasons[0]


def test_content_commitment_alone_is_enough(ca: pki.Issued, trust: TrustStore) -> None:
    leaf = issue(ca, key_usage=frozenset({"content_commitment"}))
    assert check(leaf, trust).outcome is Outcome.VALID


def test_server_auth_only_eku_is_refused(ca: pki.Issued, trust: TrustStore) -> None:
    result = check(issue(ca, eku=[ExtendedKeyUsageOID.SERVER_AUTH]), trust)
    assert result.outcome is Outcome.UNTRUSTED
    assert "extendedKeyUsage" in result.reasons[0]


@pytest.mark.parametrize(
    "eku",
    [
        pki.DOCUMENT_SIGNING_EKU,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    ],
)
def test_accepted_ekus(ca: pki.Issued, trust: TrustStore, eku: x509.ObjectIdentifier) -> None:
    leaf = issue(ca, eku=[ExtendedKeyUsageOID.CLIENT_AUTH, eku])
    assert check(leaf, trust).outcome is Outcome.VALID


def test_policy_can_narrow_ekus(ca: pki.Issued, trust: TrustStore) -> None:
    narrow = replace(SOFT, accepted_ekus=frozenset({EKU_DOCUMENT_SIGNING}))
    email = issue(ca, eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    assert check(email, trust, policy=narrow).outcome is Outcome.UNTRUSTED
    doc = issue(ca, eku=[pki.DOCUMENT_SIGNING_EKU])
    assert check(doc, trust, policy=narrow).outcome is Outcome.VALID


def test_leaf_that_is_a_ca_is_refused(ca: pki.Issued, trust: TrustStore) -> None:
    result = check(issue(ca, ca_flag=True), trust)
    assert result.outcome is Outcome.UNTRUSTED
    assert "CA certificate" in result.reasons[0]


# ------------------------------------------------------------- algorithm strength


def test_rsa_1024_leaf_is_untrusted_or_weak(
    ca: pki.Issued, trust: TrustStore, fresh: RevocationData
) -> None:
    leaf = issue(ca, key_size=1024)
    strict = check(leaf, trust, fresh)
    assert strict.outcome is Outcome.UNTRUSTED
    assert "1024 bits" in strict.reasons[0]
    legacy = check(leaf, trust, fresh, policy=UNSAFE_LEGACY_POLICY)
    assert legacy.outcome is Outcome.WEAK_ALGORITHM
    assert not legacy.ok


def test_sha1_signed_leaf_is_untrusted_or_weak(ca: pki.Issued, trust: TrustStore) -> None:
    leaf = issue(ca, hash=hashes.SHA1())
    assert check(leaf, trust).outcome is Outcome.UNTRUSTED
    only_sha1 = replace(SOFT, unsafe_accept_sha1_as_legacy=True)
    assert check(leaf, trust, policy=only_sha1).outcome is Outcome.WEAK_ALGORITHM


def test_sha1_signed_intermediate_is_weak_and_still_revocable(
    root: pki.Issued, trust: TrustStore
) -> None:
    sha1_ca = pki.make_issuing_ca(root, "SHA-1 CA", now=NOW, key_size=2048, hash=hashes.SHA1())
    leaf = issue(sha1_ca)
    result = check(leaf, trust, policy=UNSAFE_LEGACY_POLICY)
    assert result.outcome is Outcome.WEAK_ALGORITHM
    assert result.chain == (leaf.cert, sha1_ca.cert, root.cert)
    assert any("SHA-1" in r for r in result.reasons)
    revoked = RevocationData(crls=(crl(sha1_ca, ((leaf.cert.serial_number, NOW - DAY),)),))
    assert check(leaf, trust, revoked, policy=UNSAFE_LEGACY_POLICY).outcome is Outcome.REVOKED


def test_min_rsa_bits_above_2048(ca: pki.Issued, leaf: pki.Issued, trust: TrustStore) -> None:
    strict = replace(SOFT, min_rsa_bits=3072)
    assert check(leaf, trust, policy=strict).outcome is Outcome.UNTRUSTED
    legacy = replace(strict, unsafe_accept_weak_rsa_as_legacy=True)
    assert check(leaf, trust, policy=legacy).outcome is Outcome.WEAK_ALGORITHM


def test_ec_leaf_and_curve_policy(ca: pki.Issued, trust: TrustStore) -> None:
    leaf = issue(ca, key_type="ec", key_size=256)
    assert check(leaf, trust).outcome is Outcome.VALID
    p384_only = replace(SOFT, allowed_ec_curves=frozenset({"secp384r1"}))
    result = check(leaf, trust, policy=p384_only)
    assert result.outcome is Outcome.UNTRUSTED
    assert "secp256r1" in result.reasons[0]


# ---------------------------------------------------------------------- revocation


def test_revoked_by_crl(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    data = RevocationData(crls=(crl(ca, ((leaf.cert.serial_number, NOW - DAY),)), crl(root)))
    result = check(leaf, trust, data)
    assert result.outcome is Outcome.REVOKED
    assert "revoked" in result.reasons[0]
    assert "key_compromise" in result.reasons[0] or "keyCompromise" in result.reasons[0]


def test_revocation_after_at_does_not_revoke(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    later = NOW + 2 * DAY
    data = RevocationData(crls=(crl(ca, ((leaf.cert.serial_number, later),)), crl(root)))
    before = check(leaf, trust, data, policy=HARD)
    assert before.outcome is Outcome.VALID
    assert before.valid_until is not None
    assert before.valid_until < later  # never cached across the revocation
    assert check(leaf, trust, data, at=later).outcome is Outcome.REVOKED


def test_revoked_intermediate(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    data = RevocationData(crls=(crl(ca), crl(root, ((ca.cert.serial_number, NOW - DAY),))))
    result = check(leaf, trust, data)
    assert result.outcome is Outcome.REVOKED
    assert "Test Issuing CA" in result.reasons[0]


def test_stale_crl_hard_fail_vs_soft_fail(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    stale = RevocationData(
        crls=(
            crl(ca, this_update=NOW - 10 * DAY, next_update=NOW - DAY),
            crl(root),
        )
    )
    hard = check(leaf, trust, stale, policy=HARD)
    assert hard.outcome is Outcome.UNTRUSTED
    assert "No revocation data" in hard.reasons[0]
    assert "hard-fail" in hard.reasons[0]
    soft = check(leaf, trust, stale, policy=SOFT)
    assert soft.outcome is Outcome.VALID
    assert "soft-fail" in soft.reasons[0]
    assert any("not current" in r for r in soft.reasons)


def test_missing_revocation_data_hard_vs_soft(leaf: pki.Issued, trust: TrustStore) -> None:
    hard = check(leaf, trust, policy=HARD)
    assert hard.outcome is Outcome.UNTRUSTED
    assert hard.reasons[0].startswith("No revocation data")
    assert hard.valid_until is None  # never cached
    soft = check(leaf, trust, policy=SOFT)
    assert soft.outcome is Outcome.VALID
    assert "No revocation data" in soft.reasons[0]


def test_hard_fail_needs_data_for_the_intermediate_too(
    leaf: pki.Issued, ca: pki.Issued, trust: TrustStore
) -> None:
    only_leaf = RevocationData(crls=(crl(ca),))
    result = check(leaf, trust, only_leaf, policy=HARD)
    assert result.outcome is Outcome.UNTRUSTED
    assert "Test Issuing CA" in result.reasons[0]


def test_stale_crl_still_proves_a_revocation(
    leaf: pki.Issued, ca: pki.Issued, trust: TrustStore
) -> None:
    stale = RevocationData(
        crls=(
            crl(
                ca,
                ((leaf.cert.serial_number, NOW - 5 * DAY),),
                this_update=NOW - 4 * DAY,
                next_update=NOW - DAY,
            ),
        )
    )
    assert check(leaf, trust, stale).outcome is Outcome.REVOKED


def test_crl_signed_by_the_wrong_ca_is_ignored(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, other_root: pki.Issued, trust: TrustStore
) -> None:
    forger = pki.Issued(cert=ca.cert, key=other_root.key)  # right name, wrong key
    forged = pki.make_crl(
        forger,
        [(leaf.cert.serial_number, NOW - DAY, None)],
        this_update=NOW - DAY,
        next_update=NOW + 7 * DAY,
    )
    data = RevocationData(crls=(forged, crl(root)))
    soft = check(leaf, trust, data)
    assert soft.outcome is Outcome.VALID  # the forged "revoked" entry does not count
    assert any("does not verify" in r for r in soft.reasons)
    hard = check(leaf, trust, data, policy=HARD)
    assert hard.outcome is Outcome.UNTRUSTED  # nor does it count as revocation data


def test_crl_of_another_ca_does_not_count(
    leaf: pki.Issued, root: pki.Issued, other_root: pki.Issued, trust: TrustStore
) -> None:
    other_ca = pki.make_issuing_ca(other_root, "Unrelated CA", now=NOW, key_size=2048)
    data = RevocationData(crls=(crl(other_ca, ((leaf.cert.serial_number, NOW - DAY),)), crl(root)))
    assert check(leaf, trust, data).outcome is Outcome.VALID
    assert check(leaf, trust, data, policy=HARD).outcome is Outcome.UNTRUSTED


def test_ocsp_good(leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore) -> None:
    good = pki.make_ocsp_response(
        ca, leaf.cert, "good", this_update=NOW - dt.timedelta(hours=1), next_update=NOW + DAY
    )
    data = RevocationData(crls=(crl(root),), ocsp_responses=(good,))
    result = check(leaf, trust, data, policy=HARD)
    assert result.outcome is Outcome.VALID
    assert result.valid_until == NOW + DAY


def test_ocsp_good_with_sha256_cert_id(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    good = pki.make_ocsp_response(
        ca,
        leaf.cert,
        "good",
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + DAY,
        cert_id_hash=hashes.SHA256(),
    )
    data = RevocationData(crls=(crl(root),), ocsp_responses=(good,))
    assert check(leaf, trust, data, policy=HARD).outcome is Outcome.VALID


def test_ocsp_revoked(leaf: pki.Issued, ca: pki.Issued, trust: TrustStore) -> None:
    revoked = pki.make_ocsp_response(
        ca,
        leaf.cert,
        "revoked",
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + DAY,
        revocation_time=NOW - dt.timedelta(minutes=30),
    )
    result = check(leaf, trust, RevocationData(ocsp_responses=(revoked,)))
    assert result.outcome is Outcome.REVOKED
    assert "OCSP" in result.reasons[0]
    # a signature made before the revocation still stands
    at = NOW - dt.timedelta(minutes=45)
    earlier = check(leaf, trust, RevocationData(ocsp_responses=(revoked,)), at=at)
    assert earlier.outcome is Outcome.VALID


def test_ocsp_unknown_is_no_data(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    unknown = pki.make_ocsp_response(
        ca, leaf.cert, "unknown", this_update=NOW - dt.timedelta(hours=1), next_update=NOW + DAY
    )
    data = RevocationData(crls=(crl(root),), ocsp_responses=(unknown,))
    result = check(leaf, trust, data, policy=HARD)
    assert result.outcome is Outcome.UNTRUSTED
    assert any("does not know" in r for r in result.reasons)


def test_ocsp_about_another_certificate_does_not_count(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    sibling = issue(ca)
    revoked = pki.make_ocsp_response(
        ca,
        sibling.cert,
        "revoked",
        this_update=NOW - dt.timedelta(hours=1),
        next_update=NOW + DAY,
        revocation_time=NOW - DAY,
    )
    data = RevocationData(crls=(crl(root),), ocsp_responses=(revoked,))
    assert check(leaf, trust, data).outcome is Outcome.VALID


def _ocsp_by(
    signer: pki.Issued,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    status: ocsp.OCSPCertStatus,
    *,
    include: bool = True,
) -> ocsp.OCSPResponse:
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=issuer,
            algorithm=hashes.SHA1(),
            cert_status=status,
            this_update=NOW - dt.timedelta(hours=1),
            next_update=NOW + DAY,
            revocation_time=NOW - DAY if status is ocsp.OCSPCertStatus.REVOKED else None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.cert)
    )
    if include:
        builder = builder.certificates([signer.cert])
    return builder.sign(signer.key, hashes.SHA256())


def test_ocsp_delegated_responder(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    responder = pki.issue_signing_cert(
        ca, organ_id="ocsp", name="OCSP responder", now=NOW, eku=[ExtendedKeyUsageOID.OCSP_SIGNING]
    )
    good = _ocsp_by(responder, leaf.cert, ca.cert, ocsp.OCSPCertStatus.GOOD)
    data = RevocationData(crls=(crl(root),), ocsp_responses=(good,))
    assert check(leaf, trust, data, policy=HARD).outcome is Outcome.VALID

    no_eku = issue(ca)  # a plain signing certificate may not answer for its CA
    bad = _ocsp_by(no_eku, leaf.cert, ca.cert, ocsp.OCSPCertStatus.REVOKED)
    data = RevocationData(crls=(crl(root),), ocsp_responses=(bad,))
    result = check(leaf, trust, data)
    assert result.outcome is Outcome.VALID
    assert any("OCSP-signing" in r for r in result.reasons)


def test_ocsp_signed_by_a_stranger_is_ignored(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, other_root: pki.Issued, trust: TrustStore
) -> None:
    stranger = pki.make_issuing_ca(other_root, "Stranger", now=NOW, key_size=2048)
    forged = _ocsp_by(stranger, leaf.cert, ca.cert, ocsp.OCSPCertStatus.REVOKED)
    data = RevocationData(crls=(crl(root),), ocsp_responses=(forged,))
    soft = check(leaf, trust, data)
    assert soft.outcome is Outcome.VALID
    assert any("ignored" in r for r in soft.reasons)
    assert check(leaf, trust, data, policy=HARD).outcome is Outcome.UNTRUSTED


def test_stale_ocsp_hard_fail(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore
) -> None:
    old = pki.make_ocsp_response(
        ca, leaf.cert, "good", this_update=NOW - 3 * DAY, next_update=NOW - 2 * DAY
    )
    data = RevocationData(crls=(crl(root),), ocsp_responses=(old,))
    assert check(leaf, trust, data, policy=HARD).outcome is Outcome.UNTRUSTED
    assert check(leaf, trust, data, policy=SOFT).outcome is Outcome.VALID


# ------------------------------------------------------------- government-like chain


@pytest.fixture(scope="module")
def gov() -> tuple[pki.Issued, pki.Issued]:
    return pki.gov_like_chain(NOW)


def test_gov_like_chain_validates(gov: tuple[pki.Issued, pki.Issued]) -> None:
    gov_root, gov_ca = gov
    assert gov_ca.cert.public_key().key_size == 4096  # type: ignore[union-attr]
    leaf = pki.issue_signing_cert(
        gov_ca,
        organ_id="000.00.31.H36",
        name="UBND tỉnh Lâm Đồng",
        now=NOW,
        crl_url=pki.GOV_LIKE_LEAF_CRL_URL,
        eku=[pki.DOCUMENT_SIGNING_EKU],
    )
    data = RevocationData(crls=(crl(gov_ca), crl(gov_root)))
    result = check(leaf, TrustStore(anchors=(gov_root.cert,)), data, policy=HARD)
    assert result.outcome is Outcome.VALID, result.reasons
    assert result.chain == (leaf.cert, gov_ca.cert, gov_root.cert)
    details = signer_details(leaf.cert)
    assert details.organ_id == "000.00.31.H36"
    assert details.policy_oids == (pki.GOV_POLICY_OID,)


def test_gov_like_pathlen_zero_is_enforced(gov: tuple[pki.Issued, pki.Issued]) -> None:
    gov_root, gov_ca = gov
    sub = pki.make_issuing_ca(gov_ca, "Sub CA", now=NOW, key_size=2048)
    leaf = issue(sub)
    result = check(leaf, TrustStore(anchors=(gov_root.cert,)))
    assert result.outcome is Outcome.UNTRUSTED
    assert "path length" in " ".join(result.reasons)
    # the same sub-CA is fine under a root-issued CA without a path length limit
    open_ca = pki.make_issuing_ca(gov_root, "Open CA", now=NOW, key_size=2048, pathlen=None)
    open_sub = pki.make_issuing_ca(open_ca, "Sub CA", now=NOW, key_size=2048)
    assert check(issue(open_sub), TrustStore(anchors=(gov_root.cert,))).outcome is Outcome.VALID


# ------------------------------------------------------------------- real anchors


REAL = {
    "vgca-rootcag2.pem": "F04BA4B459A7C9A1B971AD9B1CB833E695A80C79AEA63B174B66A70EDFE2FDB8",
    "vgca-cpcag2.pem": "D8CAB7A4AEF92E6BB2509D7C61CEE7B44F3731B2D21074963530277B366FAE4B",
    "neac-vnrca256.pem": "BAC8BF609AB420A8EE1780D74F4DE5C7F7184959D2A7375B0A75E4C29F0908E7",
}


def test_real_gov_anchors_load_and_chain(shared_dir: Path) -> None:
    trust_dir = shared_dir / "trust"
    blobs = {name: (trust_dir / name).read_bytes() for name in REAL}
    store = TrustStore.from_pem_bytes(
        blobs["vgca-rootcag2.pem"],
        blobs["neac-vnrca256.pem"],
        intermediates=[blobs["vgca-cpcag2.pem"]],
    )
    assert len(store.anchors) == 2
    assert {c.fingerprint(hashes.SHA256()).hex().upper() for c in store.anchors} == {
        REAL["vgca-rootcag2.pem"],
        REAL["neac-vnrca256.pem"],
    }
    (issuing,) = store.intermediates
    root = store.anchors[0]
    issuing.verify_directly_issued_by(root)  # raises if the signature does not hold
    with pytest.raises(ValueError):
        issuing.verify_directly_issued_by(store.anchors[1])
    details = signer_details(issuing)
    assert details.is_ca
    assert details.public_key_size == 4096
    assert "2.16.704.1.1.1.1.1" in details.policy_oids


def test_shipped_gov_vn_profile_loads_into_a_trust_store() -> None:
    from certs.profiles import load_profile, split_anchors

    anchors, intermediates = split_anchors(load_profile("gov-vn"))
    store = TrustStore(anchors=anchors, intermediates=intermediates)
    assert len(store.anchors) == 2
    assert len(store.intermediates) == 1
    assert (
        store.fingerprint
        == TrustStore(anchors=tuple(reversed(anchors)), intermediates=intermediates).fingerprint
    )


def test_a_forged_leaf_under_the_real_root_name_is_untrusted() -> None:
    from certs.profiles import load_profile, split_anchors

    anchors, intermediates = split_anchors(load_profile("gov-vn"))
    store = TrustStore(anchors=anchors, intermediates=intermediates)
    # a CA that copies the real issuing CA's name but has its own key
    fake_root = pki.make_root_ca("fake", now=NOW, key_size=2048)
    fake_ca = pki.make_issuing_ca(fake_root, "CA phục vụ các cơ quan Nhà nước G2", now=NOW)
    leaf = issue(fake_ca)
    assert check(leaf, store, extra=()).outcome is Outcome.UNTRUSTED


# --------------------------------------------------------------------- details


def test_signer_details(ca: pki.Issued) -> None:
    leaf = issue(ca, eku=[pki.DOCUMENT_SIGNING_EKU], key_type="ec", key_size=384)
    details = signer_details(leaf.cert)
    assert details.organ_id == ORGAN
    assert details.common_name == "Sở Tư pháp"
    assert details.subject.startswith("UID=" + ORGAN)
    assert details.issuer == ca.cert.subject.rfc4514_string()
    assert int(details.serial, 16) == leaf.cert.serial_number
    assert details.sha256 == leaf.fingerprint.replace(":", "").lower()
    assert (details.public_key_type, details.public_key_curve) == ("ec", "secp384r1")
    assert details.key_usages == ("digital_signature", "content_commitment")
    assert details.ekus == (EKU_DOCUMENT_SIGNING,)
    assert not details.is_ca
    assert json.loads(json.dumps(details.to_dict()))["organ_id"] == ORGAN


def test_signer_details_without_uid(ca: pki.Issued) -> None:
    client = pki.issue_client_cert(ca, system_id="edoc-system", now=NOW)
    assert signer_details(client.cert).organ_id is None


# ------------------------------------------------------------------------- cache


class Counting:
    """Counts calls to the real validate_signer (instrumentation, not a mock)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> PathResult:
        self.calls += 1
        return validate_signer(*args, **kwargs)


def test_cache_hits_inside_the_window_only(
    leaf: pki.Issued, trust: TrustStore, fresh: RevocationData
) -> None:
    cache = PathCache()
    counter = Counting()
    kw: dict[str, Any] = {
        "trust": trust,
        "revocation": fresh,
        "policy": HARD,
        "validator": counter,
    }
    extra = leaf.chain[:-1]
    first = cache.validate(leaf.cert, extra, at=NOW, **kw)
    again = cache.validate(leaf.cert, extra, at=NOW + 3 * DAY, **kw)
    assert first is again
    assert (counter.calls, cache.hits, cache.misses) == (1, 1, 1)
    # beyond the CRLs' nextUpdate: recomputed, and hard-fail now refuses
    late = cache.validate(leaf.cert, extra, at=NOW + 8 * DAY, **kw)
    assert counter.calls == 2
    assert late.outcome is Outcome.UNTRUSTED
    # before the window: recomputed as well
    early = cache.validate(leaf.cert, extra, at=leaf.cert.not_valid_before_utc - DAY, **kw)
    assert early.outcome is Outcome.NOT_YET_VALID
    assert counter.calls == 3


def test_cache_keys_on_revocation_data_and_policy(
    leaf: pki.Issued, ca: pki.Issued, root: pki.Issued, trust: TrustStore, fresh: RevocationData
) -> None:
    cache = PathCache()
    extra = leaf.chain[:-1]
    ok = validate_signer_cached(
        cache, leaf.cert, extra, trust=trust, revocation=fresh, policy=HARD, at=NOW
    )
    assert ok.outcome is Outcome.VALID
    revoked = RevocationData(crls=(crl(ca, ((leaf.cert.serial_number, NOW - DAY),)), crl(root)))
    now_revoked = validate_signer_cached(
        cache, leaf.cert, extra, trust=trust, revocation=revoked, policy=HARD, at=NOW
    )
    assert now_revoked.outcome is Outcome.REVOKED
    weak_ok = validate_signer_cached(
        cache,
        leaf.cert,
        extra,
        trust=trust,
        revocation=fresh,
        policy=replace(HARD, min_rsa_bits=4096),
        at=NOW,
    )
    assert weak_ok.outcome is Outcome.UNTRUSTED
    assert cache.misses == 3


def test_cache_is_bounded_lru(ca: pki.Issued, trust: TrustStore) -> None:
    cache = PathCache(max_entries=2)
    leaves = [issue(ca) for _ in range(3)]
    for one in leaves:
        cache.validate(
            one.cert, (ca.cert,), trust=trust, revocation=RevocationData(), policy=SOFT, at=NOW
        )
    assert len(cache) == 2
    cache.validate(
        leaves[0].cert, (ca.cert,), trust=trust, revocation=RevocationData(), policy=SOFT, at=NOW
    )
    assert (cache.hits, cache.misses) == (0, 4)  # the first was evicted


def test_cache_does_not_store_untrusted(leaf: pki.Issued, other_root: pki.Issued) -> None:
    cache = PathCache()
    store = TrustStore(anchors=(other_root.cert,))
    for _ in range(2):
        cache.validate(leaf.cert, (), trust=store, revocation=RevocationData(), policy=SOFT, at=NOW)
    assert len(cache) == 0
    assert cache.misses == 2


def test_cache_size_must_be_positive() -> None:
    with pytest.raises(SignatureError):
        PathCache(max_entries=0)


# ----------------------------------------------------------------------- properties

OFFSETS = st.integers(min_value=-3 * 86400, max_value=12 * 86400)


@pytest.fixture(scope="module")
def short_leaf(ca: pki.Issued) -> pki.Issued:
    return pki.issue_signing_cert(
        ca,
        organ_id=ORGAN,
        name="short",
        now=NOW,
        not_before=NOW - DAY,
        not_after=NOW + 5 * DAY,
    )


@pytest.fixture(scope="module")
def mixed_data(short_leaf: pki.Issued, ca: pki.Issued, root: pki.Issued) -> RevocationData:
    """CRL fresh until NOW+3d, revoking the leaf at NOW+2d; the root's CRL until NOW+9d."""
    return RevocationData(
        crls=(
            crl(ca, ((short_leaf.cert.serial_number, NOW + 2 * DAY),), next_update=NOW + 3 * DAY),
            crl(root, next_update=NOW + 9 * DAY),
        )
    )


@settings(max_examples=25)
@given(offsets=st.lists(OFFSETS, min_size=1, max_size=6), hard=st.booleans())
def test_cache_agrees_with_direct_validation(
    short_leaf: pki.Issued,
    trust: TrustStore,
    mixed_data: RevocationData,
    offsets: list[int],
    hard: bool,
) -> None:
    policy = HARD if hard else SOFT
    cache = PathCache()
    extra = short_leaf.chain[:-1]
    for offset in offsets:
        at = NOW + dt.timedelta(seconds=offset)
        cached = cache.validate(
            short_leaf.cert, extra, trust=trust, revocation=mixed_data, policy=policy, at=at
        )
        direct = validate_signer(
            short_leaf.cert, extra, trust=trust, revocation=mixed_data, policy=policy, at=at
        )
        assert (cached.outcome, cached.reasons) == (direct.outcome, direct.reasons)
        if cached.valid_from is not None and cached.valid_until is not None:
            assert cached.valid_from <= at <= cached.valid_until


@settings(max_examples=40)
@given(offset=OFFSETS)
def test_outcome_follows_the_validity_window(
    short_leaf: pki.Issued, trust: TrustStore, fresh: RevocationData, offset: int
) -> None:
    at = NOW + dt.timedelta(seconds=offset)
    result = check(short_leaf, trust, fresh, at=at)
    cert = short_leaf.cert
    if at < cert.not_valid_before_utc:
        assert result.outcome is Outcome.NOT_YET_VALID
    elif at > cert.not_valid_after_utc:
        assert result.outcome is Outcome.EXPIRED
    else:
        assert result.outcome is Outcome.VALID
        assert result.valid_from is not None
        assert result.valid_until is not None
        assert result.valid_from <= at <= result.valid_until


# ------------------------------------------------------------------ trust values


def test_trust_store_refuses_nonsense() -> None:
    with pytest.raises(ConfigError) as info:
        TrustStore(anchors=())
    assert info.value.code == "config.trust-empty"
    with pytest.raises(ConfigError) as info:
        TrustStore.from_pem_bytes(b"not a certificate")
    assert info.value.code == "config.certificate-unreadable"


def test_trust_store_reads_pem_bundles_and_der(root: pki.Issued, ca: pki.Issued) -> None:

    bundle = root.cert_pem() + ca.cert_pem()
    store = TrustStore.from_pem_bytes(bundle, ca.cert.public_bytes(Encoding.DER))
    assert store.anchors == (root.cert, ca.cert, ca.cert)
    assert store.fingerprint == TrustStore(anchors=(ca.cert, root.cert)).fingerprint
    assert store.fingerprint != TrustStore(anchors=(root.cert,)).fingerprint


def test_revocation_data_from_bytes(leaf: pki.Issued, ca: pki.Issued) -> None:

    one = crl(ca)
    resp = pki.make_ocsp_response(ca, leaf.cert, "good", this_update=NOW, next_update=NOW + DAY)
    data = RevocationData.from_bytes(
        crls=[one.public_bytes(Encoding.PEM), one.public_bytes(Encoding.DER)],
        ocsp_responses=[resp.public_bytes(Encoding.DER)],
    )
    assert len(data.crls) == 2
    assert len(data.ocsp_responses) == 1
    assert data.fingerprint != RevocationData().fingerprint
    assert data.fingerprint == RevocationData(crls=(one,), ocsp_responses=(resp,)).fingerprint
    with pytest.raises(SignatureError) as info:
        RevocationData.from_bytes(crls=[b"garbage"])
    assert info.value.code == "sig.crl-unreadable"
    with pytest.raises(SignatureError) as info:
        RevocationData.from_bytes(ocsp_responses=[b"garbage"])
    assert info.value.code == "sig.ocsp-unreadable"


def test_non_certificates_are_refused(leaf: pki.Issued, trust: TrustStore) -> None:
    with pytest.raises(SignatureError) as info:
        validate_signer(
            leaf.cert,
            [b"not a certificate"],  # type: ignore[list-item]
            trust=trust,
            revocation=RevocationData(),
            policy=SOFT,
            at=NOW,
        )
    assert info.value.code == "sig.certificate-invalid"


def test_remembered_fingerprints_are_each_certificates_own(
    root: pki.Issued, ca: pki.Issued, leaf: pki.Issued
) -> None:
    """cert_sha256 remembers a fingerprint per certificate object: asked again, or for
    another object of the same DER, or for another certificate, it is always the
    SHA-256 of that certificate's DER."""
    certs = [root.cert, ca.cert, leaf.cert]
    copies = [x509.load_der_x509_certificate(c.public_bytes(Encoding.DER)) for c in certs]
    for _ in range(2):
        for cert in certs + copies:
            assert cert_sha256(cert) == cert.fingerprint(hashes.SHA256())
    assert len({cert_sha256(c) for c in certs}) == 3
