"""Certificate path validation for document signers (skeleton: API fixed, body coming)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from signing.policy import Outcome, SignaturePolicy
from signing.trust import RevocationData, TrustStore

__all__ = [
    "PathCache",
    "PathResult",
    "SignerDetails",
    "signer_details",
    "validate_signer",
    "validate_signer_cached",
]


@dataclass(frozen=True)
class SignerDetails:
    """What a verdict records about the signer's certificate."""

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
        raise NotImplementedError


def signer_details(cert: x509.Certificate) -> SignerDetails:
    raise NotImplementedError


@dataclass(frozen=True)
class PathResult:
    """The judgement of one signer's certificate path at one instant."""

    outcome: Outcome
    reasons: tuple[str, ...] = ()
    chain: tuple[x509.Certificate, ...] = ()
    valid_until: datetime | None = None
    valid_from: datetime | None = None


def validate_signer(
    leaf: x509.Certificate,
    extra_certs: Sequence[x509.Certificate],
    *,
    trust: TrustStore,
    revocation: RevocationData,
    policy: SignaturePolicy,
    at: datetime,
) -> PathResult:
    raise NotImplementedError


class PathCache:
    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries

    def validate(
        self,
        leaf: x509.Certificate,
        extra_certs: Sequence[x509.Certificate],
        *,
        trust: TrustStore,
        revocation: RevocationData,
        policy: SignaturePolicy,
        at: datetime,
    ) -> PathResult:
        raise NotImplementedError


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
    return cache.validate(
        leaf, extra_certs, trust=trust, revocation=revocation, policy=policy, at=at
    )
