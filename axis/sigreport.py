"""Signature report arithmetic: pure functions over signature counters. No I/O.

Input rows are :class:`axis.store.sigcounts.SigCount`-like: (period, sender agency,
sender tier, recipient tier, kind, verdict, signer certificate, count), as the store
aggregates them for one slice (one recipient tier, ``"*"`` = any). Output: per group
(agency, sender tier, month or all) the count per verdict, the total and the share
validly signed; the signing certificates and issuing CAs used; the trend by month.

The figures do not depend on how the rows were pre-aggregated: grouping rows before
calling gives the same report (property-tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from axis.sigcarriers import CarrierReport

__all__ = [
    "SIG_VERDICTS",
    "SigBy",
    "SignatureLine",
    "SignatureReport",
    "SignerLine",
    "signature_report",
]

#: Verdicts in report order (``signing.policy.Outcome`` values).
SIG_VERDICTS: tuple[str, ...] = (
    "valid",
    "invalid",
    "untrusted",
    "revoked",
    "expired",
    "not-yet-valid",
    "weak-algorithm",
    "legacy-unverifiable",
    "unsigned",
)
SigBy = Literal["agency", "tier", "month", "all"]


class SigRow(Protocol):
    @property
    def period(self) -> str: ...
    @property
    def agency_code(self) -> str: ...
    @property
    def sender_tier(self) -> str: ...
    @property
    def verdict(self) -> str: ...
    @property
    def signer_sha256(self) -> str: ...
    @property
    def count(self) -> int: ...


@dataclass
class SignatureLine:
    """One group: packets per verdict."""

    key: str
    by_verdict: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_verdict.values())

    @property
    def valid(self) -> int:
        return self.by_verdict.get("valid", 0)

    @property
    def share(self) -> float | None:
        """Share validly signed; ``None`` when the group has no packet."""
        return self.valid / self.total if self.total else None

    def add(self, verdict: str, n: int) -> None:
        self.by_verdict[verdict] = self.by_verdict.get(verdict, 0) + n

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "total": self.total,
            "valid": self.valid,
            "share": self.share,
            "by_verdict": {v: self.by_verdict.get(v, 0) for v in _ordered(self.by_verdict)},
        }


def _ordered(verdicts: Iterable[str]) -> list[str]:
    known = [v for v in SIG_VERDICTS]
    return known + sorted(v for v in verdicts if v not in SIG_VERDICTS)


@dataclass
class SignerLine:
    """One signing certificate (or one issuing CA): packets it signed, how many valid."""

    key: str
    subject: str | None = None
    issuer: str | None = None
    total: int = 0
    valid: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "subject": self.subject,
            "issuer": self.issuer,
            "total": self.total,
            "valid": self.valid,
        }


@dataclass
class SignatureReport:
    by: SigBy
    lines: list[SignatureLine]
    total: SignatureLine
    trend: list[SignatureLine]
    signers: list[SignerLine]
    issuers: list[SignerLine]
    #: documents signed in the envelope, in a PDF attachment, both, neither
    #: (axis.sigcarriers; set by the engine for document reports)
    carriers: CarrierReport | None = None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "by": self.by,
            "lines": [line.as_dict() for line in self.lines],
            "total": self.total.as_dict(),
            "trend": [line.as_dict() for line in self.trend],
            "signers": [s.as_dict() for s in self.signers],
            "issuers": [i.as_dict() for i in self.issuers],
        }
        if self.carriers is not None:
            out["carriers"] = self.carriers.as_dict()
        return out


def _key_fn(by: SigBy) -> Callable[[SigRow], str]:
    if by == "agency":
        return lambda r: r.agency_code or "(unknown)"
    if by == "tier":
        return lambda r: r.sender_tier or "(unknown)"
    if by == "month":
        return lambda r: r.period[:7]
    return lambda r: "all"


def signature_report(
    rows: Iterable[SigRow],
    *,
    by: SigBy = "agency",
    signer_info: Mapping[str, tuple[str, str | None]] | None = None,
) -> SignatureReport:
    """Add the rows up. ``signer_info`` maps a certificate's SHA-256 to (subject,
    issuer); issuers are rolled up from it (unknown certificates under ``None``)."""
    key_of = _key_fn(by)
    lines: dict[str, SignatureLine] = {}
    trend: dict[str, SignatureLine] = {}
    total = SignatureLine("all")
    signers: dict[str, SignerLine] = {}
    for r in rows:
        if r.count == 0:
            continue
        key = key_of(r)
        line = lines.get(key)
        if line is None:
            line = lines[key] = SignatureLine(key)
        line.add(r.verdict, r.count)
        month = r.period[:7]
        t = trend.get(month)
        if t is None:
            t = trend[month] = SignatureLine(month)
        t.add(r.verdict, r.count)
        total.add(r.verdict, r.count)
        if r.signer_sha256:
            s = signers.get(r.signer_sha256)
            if s is None:
                subject, issuer = (signer_info or {}).get(r.signer_sha256, (None, None))
                s = signers[r.signer_sha256] = SignerLine(r.signer_sha256, subject, issuer)
            s.total += r.count
            if r.verdict == "valid":
                s.valid += r.count
    issuers: dict[str, SignerLine] = {}
    for s in signers.values():
        name = s.issuer or "(unknown)"
        i = issuers.get(name)
        if i is None:
            i = issuers[name] = SignerLine(name, issuer=s.issuer)
        i.total += s.total
        i.valid += s.valid
    order = lambda x: (-x.total, x.key)  # noqa: E731 - most used first
    return SignatureReport(
        by=by,
        lines=[lines[k] for k in sorted(lines)],
        total=total,
        trend=[trend[k] for k in sorted(trend)],
        signers=sorted(signers.values(), key=order),
        issuers=sorted(issuers.values(), key=order),
    )
