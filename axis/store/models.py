"""The values that go in and out of the store: frozen dataclasses, no SQLAlchemy.

Also the few pure helpers around them: document ids (:func:`new_document_id`), the
duplicate key (:func:`dedup_key`) and the reporting day (:func:`counter_day`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final, Literal

from axis.credentials import may_act_for
from axis.directory import RouteKind, Tier
from axis.randomness import random_bytes

if TYPE_CHECKING:
    from axis.pades import AttachmentVerdict

__all__ = [
    "VN_TZ",
    "AgencyCert",
    "Committed",
    "CounterRow",
    "DeliveryInfo",
    "DeliveryState",
    "Direction",
    "DocumentKind",
    "DocumentRecord",
    "InboxItem",
    "NewDelivery",
    "NewPacket",
    "NewSystem",
    "Refusal",
    "Role",
    "Scope",
    "System",
    "TraceEvent",
    "counter_day",
    "dedup_key",
    "new_document_id",
]

DocumentKind = Literal["document", "status"]
DeliveryState = Literal["pending", "fetched", "acked", "failed", "dead"]
Direction = Literal["sent", "received", "acknowledged", "refused"]
Scope = Literal["internal", "national"]
Role = Literal["agency", "auditor", "admin"]

#: Vietnam has kept UTC+7 without daylight saving since 1975; a fixed offset makes the
#: reporting day independent of the tz database installed on the host.
VN_TZ: Final = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

_CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_document_id(now_ms: int | None = None) -> str:
    """A new axis document id: a ULID (26 characters, sortable by creation time)."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(random_bytes(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def dedup_key(
    kind: DocumentKind,
    sender_code: str,
    edxml_document_id: str,
    business_type: str | None = None,
    status_code: str | None = None,
) -> str:
    """The key under which a packet is the same packet again.

    A document: same sender, same DocumentId, same business type (a revocation or a
    replacement of a document is a different packet). A status: same sender, same
    DocumentId of the status, same status code.
    """
    extra = business_type if kind == "document" else status_code
    return "\x1f".join((kind, sender_code, edxml_document_id, extra or ""))


def counter_day(at: datetime) -> date:
    """The reporting day of an instant: its date in Asia/Ho_Chi_Minh (UTC+7)."""
    if at.tzinfo is None:
        raise ValueError("counter_day needs an aware datetime")
    return at.astimezone(VN_TZ).date()


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- packets --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """One recipient of a packet: the code as addressed and where it really goes."""

    recipient_code: str
    target_code: str
    route: RouteKind
    target_tier: Tier | None = None
    via_successor: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewPacket:
    """Everything intake knows about an accepted packet; committed in one transaction.

    ``answer`` is what the caller is told (JSON-serializable); a duplicate gets it again.
    ``notes`` are human sentences for the trace (e.g. a successor substitution).
    """

    kind: DocumentKind
    sender_code: str
    sender_tier: Tier | None
    system_id: str | None
    edxml_document_id: str
    dedup_key: str
    received_at: datetime
    verdict: str
    data: bytes = field(repr=False)
    deliveries: tuple[NewDelivery, ...]
    answer: Mapping[str, Any]
    document_id: str = field(default_factory=new_document_id)
    business_type: str | None = None
    status_code: str | None = None
    response_for: str | None = None
    response_for_organ: str | None = None
    subject: str | None = None
    code_number: str | None = None
    code_notation: str | None = None
    verdict_reasons: tuple[str, ...] = ()
    signer_sha256: str | None = None
    signer_subject: str | None = None
    signer_organ_id: str | None = None
    issuer: str | None = None
    algorithm: str | None = None
    notes: tuple[str, ...] = ()
    request_id: str | None = None  # the HTTP request that brought it (follows it in logs)
    #: a verdict per PDF attachment file (axis.pades.AttachmentVerdict); None: a packet
    #: whose attachments were not examined (not counted in the attachment counters)
    attachment_verdicts: tuple[AttachmentVerdict, ...] | None = None
    #: SHA-256 of ``data`` (hex) when the caller has it already; else the store hashes
    packet_sha256: str | None = None

    def sha256(self) -> str:
        """SHA-256 of ``data`` (hex)."""
        return self.packet_sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class Committed:
    """The outcome of ``commit_packet``; ``created`` is False for a duplicate."""

    document_id: str
    answer: dict[str, Any]
    created: bool


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused packet, counted and audited (``code`` is the error's stable code)."""

    system_id: str | None
    code: str
    message: str
    at: datetime
    sender_code: str | None = None
    sender_tier: Tier | None = None
    verdict: str | None = None


# --- reading ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One delivery as its recipient sees it (no bytes)."""

    delivery_id: int
    document_id: str
    kind: DocumentKind
    sender_code: str
    recipient_code: str
    target_code: str
    state: DeliveryState
    edxml_document_id: str
    business_type: str | None
    status_code: str | None
    response_for: str | None
    subject: str | None
    code_number: str | None
    code_notation: str | None
    verdict: str
    size: int
    packet_sha256: str
    received_at: datetime
    created_at: datetime
    fetched_at: datetime | None
    acked_at: datetime | None

    @property
    def via_successor(self) -> bool:
        return self.recipient_code != self.target_code


@dataclass(frozen=True, slots=True)
class DeliveryInfo:
    delivery_id: int
    recipient_code: str
    target_code: str
    target_tier: Tier | None
    route: RouteKind
    state: DeliveryState
    attempts: int
    created_at: datetime
    fetched_at: datetime | None
    acked_at: datetime | None
    last_error: str | None
    remote_id: str | None


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A stored packet's metadata and its deliveries (``get_document``, ``sent_by``)."""

    id: str
    kind: DocumentKind
    sender_code: str
    system_id: str | None
    edxml_document_id: str
    business_type: str | None
    status_code: str | None
    response_for: str | None
    response_for_organ: str | None
    related_document_id: str | None
    subject: str | None
    code_number: str | None
    code_notation: str | None
    received_at: datetime
    verdict: str
    verdict_reasons: tuple[str, ...]
    signer_sha256: str | None
    signer_subject: str | None
    signer_organ_id: str | None
    issuer: str | None
    algorithm: str | None
    packet_sha256: str
    size: int
    answer: dict[str, Any]
    deliveries: tuple[DeliveryInfo, ...]
    request_id: str | None = None  # the HTTP request that brought it (for logs)


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One audit event of a document's life (or of a status that names it)."""

    id: int
    at: datetime
    kind: str
    node: str | None
    document_id: str | None
    agency_code: str | None
    actor: str | None
    status_code: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CounterRow:
    """One counter: ``count`` events of ``direction`` for an agency on a day (UTC+7)."""

    day: date
    agency_code: str | None
    tier: Tier | None
    direction: Direction
    verdict: str | None
    scope: Scope
    count: int

    def sort_key(self) -> tuple[date, str, str, str, str, str]:
        """The order of ``counter_rows`` (day, agency, tier, direction, verdict, scope)."""
        return (
            self.day,
            self.agency_code or "",
            self.tier or "",
            self.direction,
            self.verdict or "",
            self.scope,
        )


# --- directory extras and systems ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgencyCert:
    agency_code: str
    sha256: str
    subject: str
    not_after: datetime


@dataclass(frozen=True, slots=True)
class NewSystem:
    """A system to create; ``secret`` and ``token`` are stored encrypted / hashed."""

    id: str
    name: str
    role: Role
    patterns: tuple[str, ...]
    secret: str = field(repr=False)
    token: str = field(repr=False)
    client_cert_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class System:
    """A caller of the axis (never holds its secret or token)."""

    id: str
    name: str
    role: Role
    patterns: tuple[str, ...]
    client_cert_sha256: str | None
    created_at: datetime
    disabled: bool

    def may_act_for(self, code: str) -> bool:
        return may_act_for(self.patterns, code)
