"""The signature policy: a frozen value every verification requires.

A :class:`SignaturePolicy` says which XMLDSig algorithms are allowed, how certificate
paths are judged (key sizes, curves, key usages, extended key usages, depth) and what
missing revocation data means. It is data, never read from the environment: the daemon
builds one from its config and passes it to ``signing`` on every call.

Outcomes
--------
:class:`Outcome` is the shared vocabulary of verdicts (the XML verifier and the path
validator both use it). Only ``VALID`` means "the signature holds". ``WEAK_ALGORITHM``
is never valid: it says "the maths checks out, but with algorithms or keys we consider
broken; it was accepted for the record only because the policy says so, unsafely".

SHA-1 and weak RSA keys (legacy material)
-----------------------------------------
Real packets on the national axis are signed rsa-sha1 with sha1 digests, and some old
government certificates are SHA-1 signed. The policy never lists SHA-1 algorithms in
``signature_methods`` / ``digest_methods`` (a :class:`ConfigError` if you try); instead:

* ``unsafe_accept_sha1_as_legacy=False`` (default): a signature whose SignatureMethod or
  DigestMethod is SHA-1 is refused (the XML verdict is ``INVALID`` with a reason naming
  the algorithm; no cryptographic check is needed to refuse). A certificate path that
  needs a SHA-1 certificate signature is ``UNTRUSTED``.
* ``unsafe_accept_sha1_as_legacy=True``: a SHA-1 signature (rsa-sha1, ecdsa-sha1, sha1
  digests) is checked; if it verifies and everything else is fine the verdict is
  ``WEAK_ALGORITHM`` (never ``VALID``); if it does not verify it is ``INVALID``. A path
  that verifies only thanks to SHA-1 certificate signatures is ``WEAK_ALGORITHM``.
  Use :meth:`SignaturePolicy.signature_method_status` / ``digest_method_status`` to ask.
* ``unsafe_accept_weak_rsa_as_legacy`` does the same for RSA keys in the chain with
  ``LEGACY_MIN_RSA_BITS`` (1024) <= bits < ``min_rsa_bits``: ``WEAK_ALGORITHM`` instead
  of ``UNTRUSTED``. Keys below 1024 bits are refused always.

Presets
-------
* :data:`DEFAULT_POLICY`: RSA PKCS#1 v1.5, RSA-PSS and ECDSA with SHA-256/384/512,
  RSA >= 2048, curves P-256/384/521, soft-fail revocation, SHA-1 refused.
* :data:`CIRCULAR_15_2025_POLICY`: Circular 15/2025/TT-BKHCN (in force 15 Aug 2025) says
  signing software uses RSA keys >= 2048 bits with RSASSA-PSS and SHA-256 or stronger.
  We read it strictly for the *document signature*: only the three RSA-PSS XMLDSig
  methods (RFC 6931 ``sha{256,384,512}-rsa-MGF1``), digests SHA-256/384/512, no ECDSA
  (the circular names RSA only), no PKCS#1 v1.5, no SHA-1, RSA >= 2048. It governs the
  signing software, not how CAs sign certificates, so certificate chains are judged by
  the same rules as the default (the G2 government CAs sign with sha256WithRSA).
  Revocation stays soft-fail: the circular says nothing about it; deployments that
  fetch CRLs reliably should use ``replace(policy, revocation_mode=HARD_FAIL)``.
* :data:`UNSAFE_LEGACY_POLICY`: the default plus both unsafe legacy flags, for reading
  what circulates today (rsa-sha1); such signatures come out ``WEAK_ALGORITHM``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, NoReturn

from axis_errors import ConfigError

__all__ = [
    "ALL_DIGEST_METHODS",
    "ALL_SIGNATURE_METHODS",
    "CIRCULAR_15_2025_POLICY",
    "DEFAULT_POLICY",
    "DIGEST_SHA1",
    "DIGEST_SHA256",
    "DIGEST_SHA384",
    "DIGEST_SHA512",
    "EKU_ANY",
    "EKU_DOCUMENT_SIGNING",
    "EKU_EMAIL_PROTECTION",
    "KEY_USAGE_NAMES",
    "LEGACY_MIN_RSA_BITS",
    "SHA1_DIGEST_METHODS",
    "SHA1_SIGNATURE_METHODS",
    "SIG_ECDSA_SHA1",
    "SIG_ECDSA_SHA256",
    "SIG_ECDSA_SHA384",
    "SIG_ECDSA_SHA512",
    "SIG_RSA_PSS_SHA256",
    "SIG_RSA_PSS_SHA384",
    "SIG_RSA_PSS_SHA512",
    "SIG_RSA_SHA1",
    "SIG_RSA_SHA256",
    "SIG_RSA_SHA384",
    "SIG_RSA_SHA512",
    "UNSAFE_LEGACY_POLICY",
    "AlgorithmStatus",
    "Outcome",
    "RevocationMode",
    "SignaturePolicy",
]


class Outcome(StrEnum):
    """The verdict vocabulary shared by path validation and XML verification."""

    VALID = "valid"
    INVALID = "invalid"
    UNTRUSTED = "untrusted"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    REVOKED = "revoked"
    WEAK_ALGORITHM = "weak-algorithm"
    UNSIGNED = "unsigned"
    LEGACY_UNVERIFIABLE = "legacy-unverifiable"


class RevocationMode(StrEnum):
    """What missing or stale revocation data means.

    ``SOFT_FAIL``: the path is judged without it (a reason records the gap).
    ``HARD_FAIL``: the path is ``UNTRUSTED`` with reason "no revocation data ...".
    Data that *is* present and says "revoked" revokes in both modes.
    """

    HARD_FAIL = "hard-fail"
    SOFT_FAIL = "soft-fail"


class AlgorithmStatus(StrEnum):
    """How a policy treats one XMLDSig algorithm URI."""

    ALLOWED = "allowed"
    LEGACY = "legacy"  # checked, but a good result is WEAK_ALGORITHM, never VALID
    REFUSED = "refused"


# -- XMLDSig algorithm URIs (RFC 3275, RFC 4051, RFC 6931) --------------------------------
SIG_RSA_SHA1: Final = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SIG_RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SIG_RSA_SHA384: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
SIG_RSA_SHA512: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
SIG_RSA_PSS_SHA256: Final = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
SIG_RSA_PSS_SHA384: Final = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1"
SIG_RSA_PSS_SHA512: Final = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1"
SIG_ECDSA_SHA1: Final = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
SIG_ECDSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SIG_ECDSA_SHA384: Final = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
SIG_ECDSA_SHA512: Final = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"

DIGEST_SHA1: Final = "http://www.w3.org/2000/09/xmldsig#sha1"
DIGEST_SHA256: Final = "http://www.w3.org/2001/04/xmlenc#sha256"
DIGEST_SHA384: Final = "http://www.w3.org/2001/04/xmldsig-more#sha384"
DIGEST_SHA512: Final = "http://www.w3.org/2001/04/xmlenc#sha512"

SHA1_SIGNATURE_METHODS: Final = frozenset({SIG_RSA_SHA1, SIG_ECDSA_SHA1})
SHA1_DIGEST_METHODS: Final = frozenset({DIGEST_SHA1})
ALL_SIGNATURE_METHODS: Final = frozenset(
    {
        SIG_RSA_SHA256,
        SIG_RSA_SHA384,
        SIG_RSA_SHA512,
        SIG_RSA_PSS_SHA256,
        SIG_RSA_PSS_SHA384,
        SIG_RSA_PSS_SHA512,
        SIG_ECDSA_SHA256,
        SIG_ECDSA_SHA384,
        SIG_ECDSA_SHA512,
    }
)
ALL_DIGEST_METHODS: Final = frozenset({DIGEST_SHA256, DIGEST_SHA384, DIGEST_SHA512})

# -- Extended key usages --------------------------------------------------------------------
EKU_DOCUMENT_SIGNING: Final = "1.3.6.1.5.5.7.3.36"  # RFC 9336
EKU_EMAIL_PROTECTION: Final = "1.3.6.1.5.5.7.3.4"
EKU_ANY: Final = "2.5.29.37.0"

#: ``x509.KeyUsage`` attribute names a policy may require.
KEY_USAGE_NAMES: Final = frozenset(
    {
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
    }
)
#: Curve names as ``cryptography`` spells them (``curve.name``).
KNOWN_EC_CURVES: Final = frozenset({"secp256r1", "secp384r1", "secp521r1"})
#: RSA keys below this are refused even by the unsafe legacy flag.
LEGACY_MIN_RSA_BITS: Final = 1024
MAX_RSA_BITS: Final = 16384
MAX_CHAIN_DEPTH_LIMIT: Final = 16

_OID_RE = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")


@dataclass(frozen=True)
class SignaturePolicy:
    """What a signature and its certificate path must satisfy. Frozen and hashable.

    Sets may be passed as any iterable of strings; they are stored as frozensets.
    Nonsense raises :class:`ConfigError` (code ``config.signature-policy``).
    """

    signature_methods: frozenset[str] = ALL_SIGNATURE_METHODS
    digest_methods: frozenset[str] = ALL_DIGEST_METHODS
    unsafe_accept_sha1_as_legacy: bool = False
    unsafe_accept_weak_rsa_as_legacy: bool = False
    require_signature: bool = False
    revocation_mode: RevocationMode = RevocationMode.SOFT_FAIL
    min_rsa_bits: int = 2048
    allowed_ec_curves: frozenset[str] = KNOWN_EC_CURVES
    accepted_ekus: frozenset[str] = frozenset({EKU_DOCUMENT_SIGNING, EKU_EMAIL_PROTECTION, EKU_ANY})
    required_key_usage_any: frozenset[str] = frozenset({"digital_signature", "content_commitment"})
    max_chain_depth: int = 8

    def __post_init__(self) -> None:
        for name in (
            "signature_methods",
            "digest_methods",
            "allowed_ec_curves",
            "accepted_ekus",
            "required_key_usage_any",
        ):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                _bad(f"SignaturePolicy.{name} must be a set of strings, not {value!r}.")
            object.__setattr__(self, name, frozenset(value))
        mode: object = self.revocation_mode
        if not isinstance(mode, RevocationMode):
            try:
                object.__setattr__(self, "revocation_mode", RevocationMode(str(mode)))
            except ValueError:
                _bad(f"SignaturePolicy.revocation_mode {mode!r} is unknown.")
        for flag in (
            "unsafe_accept_sha1_as_legacy",
            "unsafe_accept_weak_rsa_as_legacy",
            "require_signature",
        ):
            if not isinstance(getattr(self, flag), bool):
                _bad(f"SignaturePolicy.{flag} must be a bool.")

        if not self.signature_methods:
            _bad("SignaturePolicy.signature_methods is empty: no signature could be valid.")
        sha1 = self.signature_methods & SHA1_SIGNATURE_METHODS
        if sha1:
            _bad(
                f"SignaturePolicy.signature_methods lists SHA-1 method(s) {sorted(sha1)}; "
                "use unsafe_accept_sha1_as_legacy instead."
            )
        unknown = self.signature_methods - ALL_SIGNATURE_METHODS
        if unknown:
            _bad(f"SignaturePolicy.signature_methods has unknown URI(s) {sorted(unknown)}.")

        if not self.digest_methods:
            _bad("SignaturePolicy.digest_methods is empty: no reference could be valid.")
        if self.digest_methods & SHA1_DIGEST_METHODS:
            _bad(
                "SignaturePolicy.digest_methods lists SHA-1; "
                "use unsafe_accept_sha1_as_legacy instead."
            )
        unknown = self.digest_methods - ALL_DIGEST_METHODS
        if unknown:
            _bad(f"SignaturePolicy.digest_methods has unknown URI(s) {sorted(unknown)}.")

        if (
            isinstance(self.min_rsa_bits, bool)
            or not isinstance(self.min_rsa_bits, int)
            or not 2048 <= self.min_rsa_bits <= MAX_RSA_BITS
        ):
            _bad(
                f"SignaturePolicy.min_rsa_bits must be an int in [2048, {MAX_RSA_BITS}], "
                f"not {self.min_rsa_bits!r} (weaker keys: unsafe_accept_weak_rsa_as_legacy)."
            )
        unknown = self.allowed_ec_curves - KNOWN_EC_CURVES
        if unknown:
            _bad(
                f"SignaturePolicy.allowed_ec_curves has unknown curve(s) {sorted(unknown)}; "
                f"known: {sorted(KNOWN_EC_CURVES)}."
            )
        bad_oids = sorted(o for o in self.accepted_ekus if not _OID_RE.match(o))
        if bad_oids:
            _bad(f"SignaturePolicy.accepted_ekus has malformed OID(s) {bad_oids}.")
        if not self.required_key_usage_any:
            _bad("SignaturePolicy.required_key_usage_any is empty; name at least one usage.")
        unknown = self.required_key_usage_any - KEY_USAGE_NAMES
        if unknown:
            _bad(
                f"SignaturePolicy.required_key_usage_any has unknown usage(s) {sorted(unknown)}; "
                f"known: {sorted(KEY_USAGE_NAMES)}."
            )
        if (
            isinstance(self.max_chain_depth, bool)
            or not isinstance(self.max_chain_depth, int)
            or not 1 <= self.max_chain_depth <= MAX_CHAIN_DEPTH_LIMIT
        ):
            _bad(
                f"SignaturePolicy.max_chain_depth must be an int in "
                f"[1, {MAX_CHAIN_DEPTH_LIMIT}], not {self.max_chain_depth!r}."
            )

    # -- questions the XML verifier asks -------------------------------------------------
    def signature_method_status(self, uri: str) -> AlgorithmStatus:
        """ALLOWED if listed; LEGACY for SHA-1 methods under the unsafe flag; else REFUSED."""
        if uri in self.signature_methods:
            return AlgorithmStatus.ALLOWED
        if uri in SHA1_SIGNATURE_METHODS and self.unsafe_accept_sha1_as_legacy:
            return AlgorithmStatus.LEGACY
        return AlgorithmStatus.REFUSED

    def digest_method_status(self, uri: str) -> AlgorithmStatus:
        """ALLOWED if listed; LEGACY for SHA-1 under the unsafe flag; else REFUSED."""
        if uri in self.digest_methods:
            return AlgorithmStatus.ALLOWED
        if uri in SHA1_DIGEST_METHODS and self.unsafe_accept_sha1_as_legacy:
            return AlgorithmStatus.LEGACY
        return AlgorithmStatus.REFUSED


def _bad(message: str) -> NoReturn:
    raise ConfigError(message, code="config.signature-policy")


DEFAULT_POLICY: Final = SignaturePolicy()

CIRCULAR_15_2025_POLICY: Final = SignaturePolicy(
    signature_methods=frozenset({SIG_RSA_PSS_SHA256, SIG_RSA_PSS_SHA384, SIG_RSA_PSS_SHA512}),
    digest_methods=ALL_DIGEST_METHODS,
    min_rsa_bits=2048,
)

UNSAFE_LEGACY_POLICY: Final = SignaturePolicy(
    unsafe_accept_sha1_as_legacy=True,
    unsafe_accept_weak_rsa_as_legacy=True,
)
