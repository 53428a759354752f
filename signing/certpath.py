"""Certificate path validation for document signers: offline, time-explicit, pure.

:func:`validate_signer` judges a signer's certificate at one instant ``at`` against a
:class:`~signing.trust.TrustStore`, the :class:`~signing.trust.RevocationData` the caller
holds and a :class:`~signing.policy.SignaturePolicy`. It reads no clock and no network.

Order of judgement (the first failing step decides the outcome)
---------------------------------------------------------------
1. The leaf's validity window at ``at``: ``EXPIRED`` / ``NOT_YET_VALID``.
2. The leaf's profile: not a CA; keyUsage present with one of
   ``policy.required_key_usage_any``; extendedKeyUsage absent or holding one of
   ``policy.accepted_ekus``; otherwise ``UNTRUSTED``.
3. The path. ``cryptography.x509.verification`` builds it strictly (RFC 5280 / CABF
   rules for CAs, our own end-entity extension policy for document signing: no SAN
   needed, no serverAuth/clientAuth needed). If that fails, a small name-and-signature
   walker looks for a path that only fails for reasons we classify ourselves: a CA
   outside its validity window (``EXPIRED`` / ``NOT_YET_VALID``, naming the CA) or weak
   algorithms (SHA-1 certificate signatures, RSA keys below ``policy.min_rsa_bits``).
   No path at all is ``UNTRUSTED``.
4. Algorithm strength over the whole chain (the leaf's key included): MD5, RSA < 1024,
   curves outside ``policy.allowed_ec_curves`` and other key types are ``UNTRUSTED``;
   SHA-1 and RSA below ``min_rsa_bits`` are ``WEAK_ALGORITHM`` if the matching unsafe
   legacy flag is set, else ``UNTRUSTED``. A weak path never comes out ``VALID``.
5. Revocation of every certificate below the anchor (see below): ``REVOKED`` wins over
   weak; missing data is ``UNTRUSTED`` under hard-fail, a recorded reason under soft-fail.

Revocation
----------
* A CRL counts for a certificate when its issuer name is the certificate's issuer, its
  signature verifies with the issuer's key (and the issuer may sign CRLs), it is not a
  delta CRL and its issuing-distribution-point scope covers the certificate. A CRL that
  fails these is ignored and a reason says so. Indirect CRLs are not supported.
* An OCSP response counts when it is successful, its CertID matches (issuer name hash,
  issuer key hash with the response's hash algorithm, serial) and it is signed by the
  issuer itself or by a delegated responder certificate issued by the issuer, carrying
  the OCSP-signing EKU and valid when the response was produced.
* An entry (CRL) or status (OCSP) saying "revoked at r" revokes iff ``r <= at``: a
  revocation after ``at`` does not undo a signature made at ``at``. Such evidence
  counts even from stale data (revocation is permanent).
* "Not revoked" needs *fresh* data: ``at <= nextUpdate`` (OCSP without nextUpdate:
  ``thisUpdate + OCSP_VALIDITY_WITHOUT_NEXT_UPDATE``), and either ``thisUpdate <= at`` or
  ``thisUpdate <= the certificate's notAfter`` (a list issued after ``at`` still speaks
  about ``at``, as long as it was issued while the certificate could still be listed).
  OCSP "unknown" is no data.

Caching
-------
Every ``VALID``, ``WEAK_ALGORITHM`` and ``REVOKED`` result carries the window
``[valid_from, valid_until]`` of instants for which the same inputs give the same result:
inside every chain certificate's validity, on the same side of every nextUpdate and of
every revocation time used. Other outcomes have no window and are never cached.
:class:`PathCache` returns a stored result only for an ``at`` inside its window.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, SignatureAlgorithmOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    VerificationError,
)

from axis_errors import SignatureError
from signing.policy import LEGACY_MIN_RSA_BITS, Outcome, RevocationMode, SignaturePolicy
from signing.trust import RevocationData, TrustStore, cert_sha256

__all__ = [
    "OCSP_VALIDITY_WITHOUT_NEXT_UPDATE",
    "PathCache",
    "PathResult",
    "SignerDetails",
    "signer_details",
    "validate_signer",
    "validate_signer_cached",
]

#: How long an OCSP response without nextUpdate is taken as current after thisUpdate.
OCSP_VALIDITY_WITHOUT_NEXT_UPDATE: Final = timedelta(days=1)
#: Signature checks the fallback path walker may spend on one leaf.
_WALK_BUDGET: Final = 64
_TICK: Final = timedelta(microseconds=1)

# ``PolicyBuilder.time`` sets the validation instant (it reads no clock); bound here so
# the call site does not look like a clock read to the layer checks.
_set_validation_time: Final = PolicyBuilder.time

_KU_FLAGS: Final = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
)


# ------------------------------------------------------------------------ details


@dataclass(frozen=True)
class SignerDetails:
    """What a verdict records about the signer's certificate.

    ``serial`` and ``sha256`` are lower-case hex without separators; names are RFC 4514
    strings; datetimes are aware UTC; ``key_usages`` use ``x509.KeyUsage`` attribute
    names; ``ekus`` and ``policy_oids`` are dotted OIDs.
    """

    subject: str
    common_name: str | None
    organ_id: str | None
    issuer: str
    serial: str
    sha256: str
    not_before: datetime
    not_after: datetime
    public_key_type: str
    public_key_size: int | None
    public_key_curve: str | None
    key_usages: tuple[str, ...]
    ekus: tuple[str, ...]
    policy_oids: tuple[str, ...]
    is_ca: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping (datetimes as ISO 8601, tuples as lists)."""
        return {
            "subject": self.subject,
            "common_name": self.common_name,
            "organ_id": self.organ_id,
            "issuer": self.issuer,
            "serial": self.serial,
            "sha256": self.sha256,
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "public_key_type": self.public_key_type,
            "public_key_size": self.public_key_size,
            "public_key_curve": self.public_key_curve,
            "key_usages": list(self.key_usages),
            "ekus": list(self.ekus),
            "policy_oids": list(self.policy_oids),
            "is_ca": self.is_ca,
        }


def _ext(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _attr_str(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _key_usage_names(ku: x509.KeyUsage | None) -> tuple[str, ...]:
    if ku is None:
        return ()
    names = [n for n in _KU_FLAGS if getattr(ku, n)]
    if ku.key_agreement:
        names += [n for n in ("encipher_only", "decipher_only") if getattr(ku, n)]
    return tuple(names)


def _describe_key(key: Any) -> tuple[str, int | None, str | None]:
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", key.key_size, None
    return "unknown", None, None


def _public_key(cert: x509.Certificate) -> Any:
    try:
        return cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return None


def signer_details(cert: x509.Certificate) -> SignerDetails:
    """Describe ``cert`` (never raises on odd but parseable certificates)."""
    key_type, key_size, curve = _describe_key(_public_key(cert))
    eku = _ext(cert, x509.ExtendedKeyUsage)
    policies = _ext(cert, x509.CertificatePolicies)
    bc = _ext(cert, x509.BasicConstraints)
    return SignerDetails(
        subject=cert.subject.rfc4514_string(),
        common_name=_attr_str(cert.subject, NameOID.COMMON_NAME),
        organ_id=_attr_str(cert.subject, NameOID.USER_ID),
        issuer=cert.issuer.rfc4514_string(),
        serial=format(cert.serial_number, "x"),
        sha256=cert_sha256(cert).hex(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        public_key_type=key_type,
        public_key_size=key_size,
        public_key_curve=curve,
        key_usages=_key_usage_names(_ext(cert, x509.KeyUsage)),
        ekus=tuple(o.dotted_string for o in eku) if eku is not None else (),
        policy_oids=tuple(p.policy_identifier.dotted_string for p in policies)
        if policies is not None
        else (),
        is_ca=bool(bc is not None and bc.ca),
    )


# ------------------------------------------------------------------------- result


@dataclass(frozen=True)
class PathResult:
    """The judgement of one signer's certificate path at one instant.

    ``chain`` runs leaf..anchor when a path was built (empty otherwise). ``valid_from``
    / ``valid_until`` bound the instants at which the same inputs give this same result
    (both ``None``: not cacheable). ``reasons`` are English sentences, the first one
    explaining the outcome when it is not ``VALID``; a ``VALID`` result may carry notes
    (for example "no revocation data ... (soft-fail)").
    """

    outcome: Outcome
    reasons: tuple[str, ...] = ()
    chain: tuple[x509.Certificate, ...] = ()
    valid_until: datetime | None = None
    valid_from: datetime | None = None

    @property
    def ok(self) -> bool:
        """True only for ``VALID``."""
        return self.outcome is Outcome.VALID

    def covers(self, at: datetime) -> bool:
        """Whether this result holds at ``at`` (only for results with a window)."""
        if self.valid_from is None or self.valid_until is None:
            return False
        return self.valid_from <= at <= self.valid_until


def _name_of(cert: x509.Certificate) -> str:
    return _attr_str(cert.subject, NameOID.COMMON_NAME) or cert.subject.rfc4514_string()


def _utc(at: datetime) -> datetime:
    if not isinstance(at, datetime):
        raise SignatureError(
            f"The validation time must be a datetime, not {type(at).__name__}.",
            code="sig.time-invalid",
        )
    if at.tzinfo is None or at.utcoffset() is None:
        raise SignatureError(
            "The validation time must be timezone-aware (UTC); a naive datetime is ambiguous.",
            code="sig.time-naive",
        )
    return at.astimezone(UTC)


@dataclass
class _Window:
    """The instants around ``at`` at which the result stays the same."""

    lo: datetime
    hi: datetime

    def after(self, moment: datetime) -> None:
        self.lo = max(self.lo, moment)

    def before(self, moment: datetime) -> None:
        self.hi = min(self.hi, moment)


# ----------------------------------------------------------------- leaf profile


def _leaf_profile_problems(leaf: x509.Certificate, policy: SignaturePolicy) -> list[str]:
    who = _name_of(leaf)
    problems: list[str] = []
    bc = _ext(leaf, x509.BasicConstraints)
    if bc is not None and bc.ca:
        problems.append(f"The signer certificate '{who}' is a CA certificate, not a signer's.")
    ku = _ext(leaf, x509.KeyUsage)
    if ku is None:
        problems.append(
            f"The signer certificate '{who}' has no keyUsage; one of "
            f"{sorted(policy.required_key_usage_any)} is required."
        )
    elif not any(getattr(ku, n) for n in policy.required_key_usage_any):
        problems.append(
            f"The signer certificate '{who}' keyUsage {list(_key_usage_names(ku))} has none "
            f"of {sorted(policy.required_key_usage_any)}."
        )
    eku = _ext(leaf, x509.ExtendedKeyUsage)
    if eku is not None:
        got = {o.dotted_string for o in eku}
        if not got & policy.accepted_ekus:
            problems.append(
                f"The signer certificate '{who}' extendedKeyUsage {sorted(got)} has none of "
                f"the accepted {sorted(policy.accepted_ekus)}."
            )
    return problems


def _ee_extension_policy(policy: SignaturePolicy) -> ExtensionPolicy:
    """End-entity rules for document signers (defence in depth behind the pre-checks)."""

    def check_ku(_p: Any, _c: x509.Certificate, ku: x509.KeyUsage) -> None:
        if not any(getattr(ku, n) for n in policy.required_key_usage_any):
            raise ValueError("keyUsage lacks a signing usage")

    def check_eku(_p: Any, _c: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
        if eku is not None and not {o.dotted_string for o in eku} & policy.accepted_ekus:
            raise ValueError("extendedKeyUsage has no accepted purpose")

    def check_bc(_p: Any, _c: x509.Certificate, bc: x509.BasicConstraints | None) -> None:
        if bc is not None and bc.ca:
            raise ValueError("end-entity certificate is a CA")

    return (
        ExtensionPolicy.permit_all()
        .require_present(x509.KeyUsage, Criticality.AGNOSTIC, check_ku)
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, check_eku)
        .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, check_bc)
        .may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None)
    )


def _ca_extension_policy() -> ExtensionPolicy:
    """Web-PKI CA rules, relaxed where document-signing CAs legitimately differ: an EKU
    on a CA, an AKI naming issuer and serial (the NEAC root), critical policies."""
    return (
        ExtensionPolicy.webpki_defaults_ca()
        .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
        .may_be_present(x509.AuthorityKeyIdentifier, Criticality.AGNOSTIC, None)
        .may_be_present(x509.CertificatePolicies, Criticality.AGNOSTIC, None)
    )


# ---------------------------------------------------------------------- signatures


def _verify_raw(
    key: Any,
    signature: bytes,
    data: bytes,
    hash_alg: hashes.HashAlgorithm | None,
    pad: Any,
) -> bool:
    """Verify ``signature`` over ``data``; False on any failure (bad sig, odd key)."""
    try:
        if isinstance(key, rsa.RSAPublicKey) and hash_alg is not None:
            rsa_pad = pad if isinstance(pad, padding.PSS | padding.PKCS1v15) else None
            key.verify(signature, data, rsa_pad or padding.PKCS1v15(), hash_alg)
        elif isinstance(key, ec.EllipticCurvePublicKey) and hash_alg is not None:
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _cert_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer`` names and signs ``cert`` (any hash, SHA-1 included: judged elsewhere)."""
    if cert.issuer != issuer.subject:
        return False
    key = _public_key(issuer)
    try:
        hash_alg = cert.signature_hash_algorithm
        pad = cert.signature_algorithm_parameters
    except (UnsupportedAlgorithm, ValueError):
        return False
    return _verify_raw(key, cert.signature, cert.tbs_certificate_bytes, hash_alg, pad)


def _ocsp_signed_by(resp: ocsp.OCSPResponse, key: Any) -> bool:
    try:
        hash_alg = resp.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return False
    pad: Any = None
    if resp.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS and hash_alg:
        pad = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=padding.PSS.AUTO)
    return _verify_raw(key, resp.signature, resp.tbs_response_bytes, hash_alg, pad)


# ----------------------------------------------------------------------- path build


def _anchor_ids(trust: TrustStore) -> set[tuple[bytes, bytes]]:
    ids = set()
    for a in trust.anchors:
        key = _public_key(a)
        if key is None:
            continue
        spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        ids.add((a.subject.public_bytes(), spki))
    return ids


def _is_anchor(cert: x509.Certificate, ids: set[tuple[bytes, bytes]]) -> bool:
    key = _public_key(cert)
    if key is None:
        return False
    spki = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return (cert.subject.public_bytes(), spki) in ids


def _strict_chain(
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    trust: TrustStore,
    policy: SignaturePolicy,
    at: datetime,
) -> tuple[tuple[x509.Certificate, ...] | None, str]:
    builder = PolicyBuilder().store(trust.verification_store)
    builder = _set_validation_time(builder, at).max_chain_depth(policy.max_chain_depth)
    builder = builder.extension_policies(
        ca_policy=_ca_extension_policy(), ee_policy=_ee_extension_policy(policy)
    )
    try:
        verified = builder.build_client_verifier().verify(leaf, list(pool))
    except VerificationError as exc:
        return None, str(exc)
    return tuple(verified.chain), ""


def _walk_chain(
    leaf: x509.Certificate,
    pool: Sequence[x509.Certificate],
    trust: TrustStore,
    policy: SignaturePolicy,
) -> tuple[x509.Certificate, ...] | None:
    """A leaf..anchor path by names and signatures (any hash), CA flags, keyCertSign,
    path lengths and unknown critical extensions; time and algorithm strength are NOT
    judged here (the caller classifies them)."""
    ids = _anchor_ids(trust)
    candidates = [*pool, *trust.anchors]
    budget = [_WALK_BUDGET]

    def ca_ok(cert: x509.Certificate, below: int) -> bool:
        bc = _ext(cert, x509.BasicConstraints)
        if bc is None or not bc.ca:
            return False
        if bc.path_length is not None and below > bc.path_length:
            return False
        ku = _ext(cert, x509.KeyUsage)
        if ku is not None and not ku.key_cert_sign:
            return False
        return not any(
            e.critical and isinstance(e.value, x509.UnrecognizedExtension) for e in cert.extensions
        )

    def step(path: list[x509.Certificate]) -> list[x509.Certificate] | None:
        current = path[-1]
        intermediates_below = len(path) - 1
        for cand in candidates:
            if cand.subject != current.issuer or cand in path or budget[0] <= 0:
                continue
            budget[0] -= 1
            if not _cert_signed_by(current, cand):
                continue
            if _is_anchor(cand, ids):
                return [*path, cand]
            # ``cand`` becomes an intermediate with ``intermediates_below`` CAs under it.
            if len(path) > policy.max_chain_depth or not ca_ok(cand, intermediates_below):
                continue
            found = step([*path, cand])
            if found is not None:
                return found
        return None

    if any(e.critical and isinstance(e.value, x509.UnrecognizedExtension) for e in leaf.extensions):
        return None
    found = step([leaf])
    return tuple(found) if found is not None else None


def _strength(
    chain: Sequence[x509.Certificate], policy: SignaturePolicy
) -> tuple[list[str], list[str]]:
    """(refused, weak) reasons about keys and certificate signature hashes."""
    refused: list[str] = []
    weak: list[str] = []
    last = len(chain) - 1
    for index, cert in enumerate(chain):
        who = _name_of(cert)
        kind, size, curve = _describe_key(_public_key(cert))
        if kind == "rsa" and size is not None:
            if size < LEGACY_MIN_RSA_BITS:
                refused.append(f"Certificate '{who}' has an RSA key of {size} bits (refused).")
            elif size < policy.min_rsa_bits:
                text = (
                    f"Certificate '{who}' has an RSA key of {size} bits, below the policy's "
                    f"{policy.min_rsa_bits}."
                )
                (weak if policy.unsafe_accept_weak_rsa_as_legacy else refused).append(text)
        elif kind == "ec":
            if curve not in policy.allowed_ec_curves:
                refused.append(f"Certificate '{who}' uses EC curve {curve}, not allowed.")
        else:
            refused.append(f"Certificate '{who}' has a {kind} key, which is not supported.")
        if index == last:
            continue  # an anchor is trusted by configuration, not by its self-signature
        try:
            hash_alg = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            refused.append(f"Certificate '{who}' is signed with an unsupported algorithm.")
            continue
        if isinstance(hash_alg, hashes.SHA1):
            text = f"Certificate '{who}' is signed with SHA-1."
            (weak if policy.unsafe_accept_sha1_as_legacy else refused).append(text)
        elif hash_alg is not None and hash_alg.digest_size < 28:
            refused.append(f"Certificate '{who}' is signed with {hash_alg.name} (refused).")
    return refused, weak


def _time_problem(chain: Sequence[x509.Certificate], at: datetime) -> tuple[Outcome, str] | None:
    for cert in chain:
        who = _name_of(cert)
        if at < cert.not_valid_before_utc:
            return Outcome.NOT_YET_VALID, (
                f"Certificate '{who}' in the chain is not valid before "
                f"{cert.not_valid_before_utc.isoformat()} (checked at {at.isoformat()})."
            )
        if at > cert.not_valid_after_utc:
            return Outcome.EXPIRED, (
                f"Certificate '{who}' in the chain expired at "
                f"{cert.not_valid_after_utc.isoformat()} (checked at {at.isoformat()})."
            )
    return None


# ----------------------------------------------------------------------- revocation


@dataclass
class _Status:
    revoked_at: datetime | None = None
    revoked_how: str = ""
    fresh: bool = False
    notes: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # reported only if nothing is fresh


def _fresh(
    this_update: datetime,
    next_update: datetime | None,
    cert: x509.Certificate,
    at: datetime,
    window: _Window,
) -> bool:
    issued_in_time = this_update <= at or this_update <= cert.not_valid_after_utc
    if next_update is None or not issued_in_time:
        return False
    if at <= next_update:
        window.before(next_update)
        return True
    window.after(next_update + _TICK)
    return False


def _note_revocation(
    status: _Status, when: datetime, how: str, at: datetime, window: _Window
) -> None:
    if when <= at:
        window.after(when)
        if status.revoked_at is None or when < status.revoked_at:
            status.revoked_at, status.revoked_how = when, how
    else:
        window.before(when - _TICK)


def _crl_scope_ok(crl: x509.CertificateRevocationList, cert: x509.Certificate) -> str | None:
    """None if the CRL covers ``cert``, else why not."""
    try:
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        return "it is a delta CRL (not supported)"
    except x509.ExtensionNotFound:
        pass
    try:
        idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None
    bc = _ext(cert, x509.BasicConstraints)
    is_ca = bool(bc is not None and bc.ca)
    if idp.indirect_crl or idp.only_some_reasons or idp.only_contains_attribute_certs:
        return "it is a partial or indirect CRL (not supported)"
    if idp.only_contains_ca_certs and not is_ca:
        return "it covers CA certificates only"
    if idp.only_contains_user_certs and is_ca:
        return "it covers end-entity certificates only"
    return None


def _check_crls(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    data: RevocationData,
    at: datetime,
    *,
    status: _Status,
    window: _Window,
) -> None:
    who = _name_of(cert)
    issuer_key = _public_key(issuer)
    issuer_ku = _ext(issuer, x509.KeyUsage)
    for crl in data.crls:
        if crl.issuer != issuer.subject:
            continue
        if issuer_key is None or not crl.is_signature_valid(issuer_key):
            status.notes.append(
                f"A CRL naming '{_name_of(issuer)}' as issuer was ignored: its signature "
                "does not verify with that CA's key."
            )
            continue
        if issuer_ku is not None and not issuer_ku.crl_sign:
            status.notes.append(
                f"A CRL of '{_name_of(issuer)}' was ignored: that CA may not sign CRLs."
            )
            continue
        out_of_scope = _crl_scope_ok(crl, cert)
        if out_of_scope is not None:
            status.notes.append(f"A CRL of '{_name_of(issuer)}' was ignored: {out_of_scope}.")
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        reason = None
        if entry is not None:
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                reason = None
            if reason is not x509.ReasonFlags.remove_from_crl:
                how = f"listed on the CRL of '{_name_of(issuer)}'" + (
                    f" ({reason.value})" if reason is not None else ""
                )
                _note_revocation(status, entry.revocation_date_utc, how, at, window)
        if _fresh(crl.last_update_utc, crl.next_update_utc, cert, at, window):
            status.fresh = True
        else:
            nu = crl.next_update_utc
            status.stale.append(
                f"The CRL of '{_name_of(issuer)}' (nextUpdate "
                f"{nu.isoformat() if nu else 'absent'}) is not current for '{who}' "
                f"at {at.isoformat()}."
            )


def _ocsp_hashes(
    cert: x509.Certificate, issuer: x509.Certificate, hash_alg: hashes.HashAlgorithm
) -> tuple[bytes, bytes] | None:
    try:
        req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hash_alg).build()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return req.issuer_name_hash, req.issuer_key_hash


def _ocsp_signer_ok(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> tuple[bool, str]:
    issuer_key = _public_key(issuer)
    if issuer_key is None:
        return False, "the issuer's key is unreadable"

    def is_responder(cert: x509.Certificate) -> bool:
        if resp.responder_name is not None:
            return cert.subject == resp.responder_name
        key = _public_key(cert)
        return key is not None and (
            x509.SubjectKeyIdentifier.from_public_key(key).digest == resp.responder_key_hash
        )

    if is_responder(issuer):
        if _ocsp_signed_by(resp, issuer_key):
            return True, ""
        return False, "its signature does not verify with the issuer's key"
    for cand in resp.certificates:
        if not is_responder(cand):
            continue
        if not _cert_signed_by(cand, issuer):
            return False, "its delegated responder certificate is not issued by the issuer"
        eku = _ext(cand, x509.ExtendedKeyUsage)
        if eku is None or ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            return False, "its delegated responder certificate lacks the OCSP-signing EKU"
        produced = resp.produced_at_utc
        if not cand.not_valid_before_utc <= produced <= cand.not_valid_after_utc:
            return False, "its delegated responder certificate was not valid when it was produced"
        if _ocsp_signed_by(resp, _public_key(cand)):
            return True, ""
        return False, "its signature does not verify with the responder's key"
    return False, "it is signed neither by the issuer nor by a responder it delegated"


def _check_ocsp(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    data: RevocationData,
    at: datetime,
    *,
    status: _Status,
    window: _Window,
) -> None:
    who = _name_of(cert)
    for resp in data.ocsp_responses:
        if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            continue
        for single in resp.responses:
            if single.serial_number != cert.serial_number:
                continue
            expected = _ocsp_hashes(cert, issuer, single.hash_algorithm)
            if expected != (single.issuer_name_hash, single.issuer_key_hash):
                continue
            ok, why = _ocsp_signer_ok(resp, issuer)
            if not ok:
                status.notes.append(f"An OCSP response about '{who}' was ignored: {why}.")
                break
            cs = single.certificate_status
            if cs is ocsp.OCSPCertStatus.UNKNOWN:
                status.notes.append(f"The OCSP responder does not know '{who}'.")
                continue
            if cs is ocsp.OCSPCertStatus.REVOKED and single.revocation_time_utc is not None:
                reason = single.revocation_reason
                how = "reported revoked by OCSP" + (f" ({reason.value})" if reason else "")
                _note_revocation(status, single.revocation_time_utc, how, at, window)
            next_update = single.next_update_utc
            if next_update is None:
                next_update = single.this_update_utc + OCSP_VALIDITY_WITHOUT_NEXT_UPDATE
            if _fresh(single.this_update_utc, next_update, cert, at, window):
                status.fresh = True
            else:
                status.stale.append(
                    f"An OCSP response about '{who}' (nextUpdate {next_update.isoformat()}) "
                    f"is not current at {at.isoformat()}."
                )


# -------------------------------------------------------------------- validation


def validate_signer(
    leaf: x509.Certificate,
    extra_certs: Sequence[x509.Certificate],
    *,
    trust: TrustStore,
    revocation: RevocationData,
    policy: SignaturePolicy,
    at: datetime,
) -> PathResult:
    """Judge the path of ``leaf`` at ``at``; see the module docstring for the rules.

    ``extra_certs`` are certificates the signature carried (KeyInfo) beside the leaf;
    they are only candidates for intermediates, never trusted by themselves. ``at`` must
    be timezone-aware. Raises only :class:`SignatureError` for unusable arguments.
    """
    at = _utc(at)
    if not isinstance(leaf, x509.Certificate):
        raise SignatureError(
            f"The signer certificate must be an x509.Certificate, not {type(leaf).__name__}.",
            code="sig.certificate-invalid",
        )
    for extra in extra_certs:
        if not isinstance(extra, x509.Certificate):
            raise SignatureError(
                f"Every extra certificate must be an x509.Certificate, not {type(extra).__name__}.",
                code="sig.certificate-invalid",
            )
    who = _name_of(leaf)

    # 1. the leaf's own validity window
    if at < leaf.not_valid_before_utc:
        return PathResult(
            Outcome.NOT_YET_VALID,
            (
                f"The signer certificate '{who}' is not valid before "
                f"{leaf.not_valid_before_utc.isoformat()} (checked at {at.isoformat()}).",
            ),
        )
    if at > leaf.not_valid_after_utc:
        return PathResult(
            Outcome.EXPIRED,
            (
                f"The signer certificate '{who}' expired at "
                f"{leaf.not_valid_after_utc.isoformat()} (checked at {at.isoformat()}).",
            ),
        )

    # 2. the leaf's profile
    problems = _leaf_profile_problems(leaf, policy)
    if problems:
        return PathResult(Outcome.UNTRUSTED, tuple(problems))

    # 3. the path
    pool = [c for c in (*extra_certs, *trust.intermediates) if c != leaf]
    chain, error = _strict_chain(leaf, pool, trust, policy, at)
    if chain is None:
        walked = _walk_chain(leaf, pool, trust, policy)
        if walked is None:
            return PathResult(
                Outcome.UNTRUSTED,
                (
                    f"No path from the signer certificate '{who}' to a trust anchor.",
                    f"Path builder: {error}.",
                ),
            )
        timing = _time_problem(walked, at)
        if timing is not None:
            return PathResult(timing[0], (timing[1],), walked)
        refused, weak = _strength(walked, policy)
        if not refused and not weak:
            return PathResult(
                Outcome.UNTRUSTED,
                (f"The path of the signer certificate '{who}' is not acceptable: {error}.",),
                walked,
            )
        chain = walked
    else:
        refused, weak = _strength(chain, policy)

    # 4. algorithm strength
    if refused:
        return PathResult(Outcome.UNTRUSTED, tuple(refused + weak), chain)

    # 5. revocation of everything below the anchor
    window = _Window(
        lo=max(c.not_valid_before_utc for c in chain),
        hi=min(c.not_valid_after_utc for c in chain),
    )
    notes: list[str] = []
    missing: list[str] = []
    for cert, issuer in pairwise(chain):
        status = _Status()
        _check_crls(cert, issuer, revocation, at, status=status, window=window)
        _check_ocsp(cert, issuer, revocation, at, status=status, window=window)
        notes.extend(status.notes)
        if not status.fresh:
            notes.extend(status.stale)
        if status.revoked_at is not None:
            return PathResult(
                Outcome.REVOKED,
                (
                    f"Certificate '{_name_of(cert)}' was revoked at "
                    f"{status.revoked_at.isoformat()}, {status.revoked_how}.",
                    *notes,
                ),
                chain,
                valid_until=window.hi,
                valid_from=window.lo,
            )
        if not status.fresh:
            missing.append(_name_of(cert))

    if missing:
        text = f"No revocation data for {', '.join(repr(m) for m in missing)}"
        if policy.revocation_mode is RevocationMode.HARD_FAIL:
            return PathResult(Outcome.UNTRUSTED, (f"{text} (hard-fail).", *weak, *notes), chain)
        notes.insert(0, f"{text} (soft-fail: judged without it).")

    outcome = Outcome.WEAK_ALGORITHM if weak else Outcome.VALID
    return PathResult(outcome, (*weak, *notes), chain, valid_until=window.hi, valid_from=window.lo)


# ------------------------------------------------------------------------- cache

_CacheKey = tuple[bytes, tuple[bytes, ...], str, str, SignaturePolicy]


class PathCache:
    """A bounded LRU of path results, reused only for an ``at`` inside their window.

    The key is (leaf fingerprint, sorted fingerprints of the extra certificates, trust
    fingerprint, revocation data fingerprint, policy). Only results with a window
    (``VALID``, ``WEAK_ALGORITHM``, ``REVOKED``) are stored. Thread-safe; no clock.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        if max_entries < 1:
            raise SignatureError(
                "PathCache needs room for at least one entry.", code="sig.cache-size"
            )
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[_CacheKey, PathResult] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget everything (for example when trust material is replaced)."""
        with self._lock:
            self._entries.clear()

    @staticmethod
    def key(
        leaf: x509.Certificate,
        extra_certs: Sequence[x509.Certificate],
        trust: TrustStore,
        revocation: RevocationData,
        policy: SignaturePolicy,
    ) -> _CacheKey:
        extras = tuple(sorted({cert_sha256(c) for c in extra_certs}))
        return (cert_sha256(leaf), extras, trust.fingerprint, revocation.fingerprint, policy)

    def lookup(self, key: _CacheKey, at: datetime) -> PathResult | None:
        """The stored result for ``key`` if it covers ``at``."""
        at = _utc(at)
        with self._lock:
            result = self._entries.get(key)
            if result is None or not result.covers(at):
                return None
            self._entries.move_to_end(key)
            return result

    def store(self, key: _CacheKey, result: PathResult) -> None:
        """Keep ``result`` if it has a window; evict the least recently used beyond size."""
        if result.valid_from is None or result.valid_until is None:
            return
        with self._lock:
            self._entries[key] = result
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def validate(
        self,
        leaf: x509.Certificate,
        extra_certs: Sequence[x509.Certificate],
        *,
        trust: TrustStore,
        revocation: RevocationData,
        policy: SignaturePolicy,
        at: datetime,
        validator: Callable[..., PathResult] | None = None,
    ) -> PathResult:
        """:func:`validate_signer`, answered from the cache when a stored result covers
        ``at``. ``validator`` replaces :func:`validate_signer` (for instrumentation)."""
        key = self.key(leaf, extra_certs, trust, revocation, policy)
        hit = self.lookup(key, at)
        with self._lock:
            if hit is not None:
                self.hits += 1
            else:
                self.misses += 1
        if hit is not None:
            return hit
        result = (validator or validate_signer)(
            leaf, extra_certs, trust=trust, revocation=revocation, policy=policy, at=at
        )
        self.store(key, result)
        return result


def validate_signer_cached(
    cache: PathCache,
    leaf: x509.Certificate,
    extra_certs: Sequence[x509.Certificate],
    *,
    trust: TrustStore,
    revocation: RevocationData,
    policy: SignaturePolicy,
    at: datetime,
) -> PathResult:
    """:func:`validate_signer` through ``cache``."""
    return cache.validate(
        leaf, extra_certs, trust=trust, revocation=revocation, policy=policy, at=at
    )
