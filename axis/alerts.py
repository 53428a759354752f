"""Alert rules: facts in, alerts out. Pure: no I/O, no clock (``now`` is a fact).

Four conditions raise an alert:

- ``destination-failing``: a delivery destination (push endpoint or the national axis)
  has failed without a success for at least ``destination_failing``;
- ``inbox-waiting``: a packet has waited in a pull agency's inbox, not taken, for at
  least ``inbox_waiting``;
- ``crl-stale``: a CRL the axis relies on is past its nextUpdate (or has none);
- ``cert-expiring``: a trust anchor, an intermediate, a registered agency certificate or
  the axis's own certificate expires within ``cert_expiry`` (or has expired).

Each alert has a stable ``key`` naming its condition (kind + subject). De-duplication is
:func:`transition`: an alert fires once when its key appears and not again while the
condition holds; when the key disappears it is reported as resolved, and may fire again
if the condition comes back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

__all__ = [
    "Alert",
    "AlertKind",
    "AlertState",
    "CertFact",
    "CrlFact",
    "DestinationFact",
    "Facts",
    "InboxFact",
    "Thresholds",
    "Transition",
    "evaluate",
    "transition",
]

AlertKind = Literal["destination-failing", "inbox-waiting", "crl-stale", "cert-expiring"]
Severity = Literal["warning", "critical"]


@dataclass(frozen=True, slots=True)
class DestinationFact:
    destination: str
    failing_since: datetime | None  # first failure of the current streak; None if healthy
    paused: bool = False
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class InboxFact:
    agency_code: str
    oldest_waiting_since: datetime | None  # created_at of the oldest pending delivery
    waiting: int = 0


@dataclass(frozen=True, slots=True)
class CrlFact:
    issuer: str
    next_update: datetime | None


@dataclass(frozen=True, slots=True)
class CertFact:
    kind: Literal["anchor", "intermediate", "agency", "axis"]
    subject: str
    sha256: str
    not_after: datetime
    owner: str | None = None  # the agency code of a registered certificate


@dataclass(frozen=True, slots=True)
class Facts:
    now: datetime
    destinations: Sequence[DestinationFact] = ()
    inboxes: Sequence[InboxFact] = ()
    crls: Sequence[CrlFact] = ()
    certs: Sequence[CertFact] = ()


@dataclass(frozen=True, slots=True)
class Thresholds:
    destination_failing: timedelta = timedelta(minutes=15)
    inbox_waiting: timedelta = timedelta(minutes=60)
    cert_expiry: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Alert:
    key: str
    kind: AlertKind
    severity: Severity
    summary: str  # one sentence, Vietnamese then English
    since: datetime | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "summary": self.summary,
            "since": self.since.isoformat() if self.since else None,
            "detail": dict(self.detail),
        }


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def evaluate(facts: Facts, thresholds: Thresholds) -> list[Alert]:
    """The alerts whose condition holds now, sorted by key (no duplicates)."""
    now = facts.now
    out: dict[str, Alert] = {}
    for d in facts.destinations:
        if d.failing_since is None or now - d.failing_since < thresholds.destination_failing:
            continue
        key = f"destination-failing:{d.destination}"
        out[key] = Alert(
            key,
            "destination-failing",
            "critical",
            f"Điểm nhận {d.destination} lỗi liên tục {_minutes(now - d.failing_since)} phút / "
            f"destination {d.destination} has been failing for "
            f"{_minutes(now - d.failing_since)} minutes",
            d.failing_since,
            {"destination": d.destination, "paused": d.paused, "last_error": d.last_error},
        )
    for i in facts.inboxes:
        since = i.oldest_waiting_since
        if since is None or now - since < thresholds.inbox_waiting:
            continue
        key = f"inbox-waiting:{i.agency_code}"
        out[key] = Alert(
            key,
            "inbox-waiting",
            "warning",
            f"Hộp thư {i.agency_code} có văn bản chờ chưa lấy {_minutes(now - since)} phút / "
            f"{i.waiting} packet(s) untaken in the inbox of {i.agency_code}, the oldest for "
            f"{_minutes(now - since)} minutes",
            since,
            {"agency": i.agency_code, "waiting": i.waiting},
        )
    for c in facts.crls:
        if c.next_update is not None and c.next_update > now:
            continue
        key = f"crl-stale:{c.issuer}"
        out[key] = Alert(
            key,
            "crl-stale",
            "critical",
            f"CRL của {c.issuer} đã hết hạn cập nhật / the CRL of {c.issuer} is stale "
            f"(nextUpdate {c.next_update.isoformat() if c.next_update else 'absent'})",
            c.next_update,
            {"issuer": c.issuer},
        )
    for cert in facts.certs:
        left = cert.not_after - now
        if left > thresholds.cert_expiry:
            continue
        key = f"cert-expiring:{cert.sha256}"
        days = left.days
        state = f"đã hết hạn / expired {-days} day(s) ago" if left <= timedelta(0) else (
            f"hết hạn sau {days} ngày / expires in {days} day(s)"
        )  # fmt: skip
        out[key] = Alert(
            key,
            "cert-expiring",
            "critical" if left <= timedelta(days=7) else "warning",
            f"Chứng thư số {cert.kind} {cert.subject}"
            + (f" ({cert.owner})" if cert.owner else "")
            + f": {state}",
            cert.not_after,
            {
                "cert_kind": cert.kind,
                "subject": cert.subject,
                "sha256": cert.sha256,
                "owner": cert.owner,
                "not_after": cert.not_after.isoformat(),
            },
        )
    return [out[k] for k in sorted(out)]


@dataclass(frozen=True, slots=True)
class AlertState:
    """The keys that have fired and not yet cleared."""

    active: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Transition:
    state: AlertState
    fired: tuple[Alert, ...]  # new conditions: notify
    resolved: tuple[str, ...]  # keys whose condition has cleared


def transition(state: AlertState, current: Iterable[Alert]) -> Transition:
    """Fire each condition once: new keys fire, held keys stay quiet, gone keys resolve."""
    now_active = {a.key: a for a in current}
    fired = tuple(a for k, a in sorted(now_active.items()) if k not in state.active)
    resolved = tuple(sorted(state.active - now_active.keys()))
    return Transition(AlertState(frozenset(now_active)), fired, resolved)
