"""The tamper-evident audit chain: canonical form, hashes, signed heads, the verifier.

Pure: no I/O, no clock. The store (:mod:`axis.store.audit`) appends events through
:func:`link`; ``axis audit verify`` feeds stored events to :class:`ChainVerifier`, from
the database or from an exported archive.

Each event carries ``prev_hash`` (the ``hash`` of the event before it in the chain;
:data:`GENESIS` for the first) and ::

    hash = SHA-256( canonical_bytes(id, at, kind, node, document_id, agency_code,
                                    actor, detail, packet_sha256, prev_hash) )

where the canonical bytes are the ASCII JSON array (no blanks, ``\\uXXXX`` escapes)
``["axis-audit/1", id, at, kind, node, document_id, agency_code, actor, detail,
packet_sha256, prev_hash]``; ``at`` is written ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``
(UTC, microseconds) and ``detail`` is the stored JSON text itself (not re-serialized),
so that a changed blank in it is a change. The id is inside the hash: moving an event
to another place breaks both its hash and the links around it.

A *signed head* is the axis's signature (its own certificate's key: RSA PKCS#1 v1.5
with SHA-256, or ECDSA with SHA-256, DER) over :func:`head_bytes` ``(event_id, hash,
at, cert_sha256)``. Heads protect against rewriting the whole chain and against
deleting its tail: whoever holds the axis certificate checks them offline.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = [
    "FORMAT",
    "GENESIS",
    "ChainEvent",
    "ChainReport",
    "ChainVerifier",
    "Problem",
    "ProblemKind",
    "SignedHead",
    "canonical_bytes",
    "canonical_time",
    "event_hash",
    "head_bytes",
    "link",
    "sign_head",
    "verify_head_signature",
]

FORMAT: Final = "axis-audit/1"
HEAD_FORMAT: Final = "axis-audit-head/1"
GENESIS: Final = "0" * 64

ProblemKind = Literal[
    "edited",
    "deleted",
    "reordered",
    "broken-link",
    "unchained",
    "packet-mismatch",
    "packet-missing",
    "document-unaudited",
    "head-mismatch",
    "head-missing-event",
    "head-bad-signature",
    "head-unknown-cert",
]


def canonical_time(at: datetime | str) -> str:
    """``at`` as the chain writes it: UTC ISO 8601 with microseconds.

    A string is a stored time read raw: SQLite's ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC) is
    rewritten without parsing (the verifier's fast path); other strings are parsed.
    """
    if isinstance(at, str):
        if len(at) == 26 and at[10] == " " and at[19] == ".":
            return f"{at[:10]}T{at[11:]}+00:00"
        parsed = datetime.fromisoformat(at)
        at = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if at.tzinfo is not UTC:
        if at.tzinfo is None:
            raise ValueError("audit times must be aware datetimes")
        at = at.astimezone(UTC)
    return at.isoformat(timespec="microseconds")


_ENCODER: Final = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def canonical_bytes(
    *,
    event_id: int,
    at: datetime | str,
    kind: str,
    node: str | None,
    document_id: str | None,
    agency_code: str | None,
    actor: str | None,
    detail: str,
    packet_sha256: str | None,
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash is taken over (see the module docstring)."""
    return _ENCODER.encode(
        [
            FORMAT,
            event_id,
            canonical_time(at),
            kind,
            node,
            document_id,
            agency_code,
            actor,
            detail,
            packet_sha256,
            prev_hash,
        ]
    ).encode("ascii")


def event_hash(
    *,
    event_id: int,
    at: datetime | str,
    kind: str,
    node: str | None,
    document_id: str | None,
    agency_code: str | None,
    actor: str | None,
    detail: str,
    packet_sha256: str | None,
    prev_hash: str,
) -> str:
    """Lower-case hex SHA-256 of :func:`canonical_bytes`."""
    return hashlib.sha256(
        canonical_bytes(
            event_id=event_id,
            at=at,
            kind=kind,
            node=node,
            document_id=document_id,
            agency_code=agency_code,
            actor=actor,
            detail=detail,
            packet_sha256=packet_sha256,
            prev_hash=prev_hash,
        )
    ).hexdigest()


def link(rows: Sequence[dict[str, Any]], *, prev_hash: str, first_id: int | Sequence[int]) -> str:
    """Give event rows (dicts with the events columns) their ids, ``prev_hash`` and
    ``hash``, in order, after a chain whose head hash is ``prev_hash``. ``first_id`` is
    the first id (then consecutive) or one id per row. Returns the new head hash."""
    ids = range(first_id, first_id + len(rows)) if isinstance(first_id, int) else first_id
    if len(ids) != len(rows):
        raise ValueError("one id per event row is needed")
    for row, event_id in zip(rows, ids, strict=True):
        row["id"] = event_id
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = event_hash(
            event_id=event_id,
            at=row["at"],
            kind=row["kind"],
            node=row.get("node"),
            document_id=row.get("document_id"),
            agency_code=row.get("agency_code"),
            actor=row.get("actor"),
            detail=row["detail"],
            packet_sha256=row.get("packet_sha256"),
            prev_hash=prev_hash,
        )
    return prev_hash


class ChainEvent(NamedTuple):
    """One stored event as the verifier reads it (from the database or an archive);
    a named tuple: tens of thousands are built per second.

    ``at`` may be the stored text as read raw (see :func:`canonical_time`)."""

    id: int
    at: datetime | str
    kind: str
    node: str | None
    document_id: str | None
    agency_code: str | None
    actor: str | None
    detail: str
    packet_sha256: str | None
    prev_hash: str | None
    hash: str | None

    def computed_hash(self) -> str:
        """The hash this event's content and ``prev_hash`` give (:func:`event_hash`)."""
        return hashlib.sha256(
            _ENCODER.encode(
                [
                    FORMAT,
                    self.id,
                    canonical_time(self.at),
                    self.kind,
                    self.node,
                    self.document_id,
                    self.agency_code,
                    self.actor,
                    self.detail,
                    self.packet_sha256,
                    self.prev_hash or "",
                ]
            ).encode("ascii")
        ).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": canonical_time(self.at),
            "kind": self.kind,
            "node": self.node,
            "document_id": self.document_id,
            "agency_code": self.agency_code,
            "actor": self.actor,
            "detail": self.detail,
            "packet_sha256": self.packet_sha256,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainEvent:
        return cls(
            id=int(data["id"]),
            at=datetime.fromisoformat(str(data["at"])),
            kind=str(data["kind"]),
            node=data.get("node"),
            document_id=data.get("document_id"),
            agency_code=data.get("agency_code"),
            actor=data.get("actor"),
            detail=str(data["detail"]),
            packet_sha256=data.get("packet_sha256"),
            prev_hash=data.get("prev_hash"),
            hash=data.get("hash"),
        )


# --------------------------------------------------------------------- signed heads


@dataclass(frozen=True, slots=True)
class SignedHead:
    """The axis's signature over the chain head at ``event_id``."""

    event_id: int
    hash: str
    at: datetime
    cert_sha256: str
    algorithm: str
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "hash": self.hash,
            "at": canonical_time(self.at),
            "cert_sha256": self.cert_sha256,
            "algorithm": self.algorithm,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SignedHead:
        return cls(
            event_id=int(data["event_id"]),
            hash=str(data["hash"]),
            at=datetime.fromisoformat(str(data["at"])),
            cert_sha256=str(data["cert_sha256"]),
            algorithm=str(data["algorithm"]),
            signature=bytes.fromhex(str(data["signature"])),
        )


def head_bytes(event_id: int, head_hash: str, at: datetime, cert_sha256: str) -> bytes:
    """What a signed head signs."""
    return json.dumps(
        [HEAD_FORMAT, event_id, head_hash, canonical_time(at), cert_sha256],
        ensure_ascii=True,
        separators=(",", ":"),
    ).encode("ascii")


def _cert_sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def sign_head(
    key: PrivateKeyTypes, cert: x509.Certificate, event_id: int, head_hash: str, at: datetime
) -> SignedHead:
    """Sign the head ``(event_id, head_hash)`` at ``at`` with the axis key."""
    fp = _cert_sha256(cert)
    data = head_bytes(event_id, head_hash, at, fp)
    if isinstance(key, rsa.RSAPrivateKey):
        sig, alg = key.sign(data, padding.PKCS1v15(), hashes.SHA256()), "rsa-sha256"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        sig, alg = key.sign(data, ec.ECDSA(hashes.SHA256())), "ecdsa-sha256"
    else:
        raise ValueError(f"the audit key must be RSA or EC, not {type(key).__name__}")
    return SignedHead(event_id, head_hash, at, fp, alg, sig)


def verify_head_signature(head: SignedHead, cert: x509.Certificate) -> bool:
    """True when ``head`` was signed by the key of ``cert`` (and names that certificate)."""
    if _cert_sha256(cert) != head.cert_sha256:
        return False
    data = head_bytes(head.event_id, head.hash, head.at, head.cert_sha256)
    public = cert.public_key()
    try:
        if head.algorithm == "rsa-sha256" and isinstance(public, rsa.RSAPublicKey):
            public.verify(head.signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif head.algorithm == "ecdsa-sha256" and isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(head.signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


# --------------------------------------------------------------------- the verifier


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the stored audit trail."""

    kind: ProblemKind
    event_id: int | None
    message: str
    document_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "event_id": self.event_id,
            "document_id": self.document_id,
            "message": self.message,
        }


@dataclass
class ChainReport:
    """What a walk found. ``ok`` is False as soon as there is one problem."""

    events: int = 0
    legacy_events: int = 0
    documents_checked: int = 0
    heads_checked: int = 0
    last_event_id: int | None = None
    last_hash: str | None = None
    last_signed_event_id: int | None = None
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def unsigned_tail(self) -> int:
        """Events after the last signed head (not protected against truncation)."""
        if self.last_event_id is None:
            return 0
        return self.last_event_id - (self.last_signed_event_id or 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "legacy_events": self.legacy_events,
            "documents_checked": self.documents_checked,
            "heads_checked": self.heads_checked,
            "last_event_id": self.last_event_id,
            "last_hash": self.last_hash,
            "last_signed_event_id": self.last_signed_event_id,
            "unsigned_tail": self.unsigned_tail,
            "problem_count": self.problem_count,
            "first_problem": self.first_problem.to_json() if self.first_problem else None,
            "problems": [p.to_json() for p in self.problems],
        }


class ChainVerifier:
    """Walks events in id order (:meth:`feed`, batch after batch), then the signed
    heads (:meth:`check_heads`). Keeps at most ``max_problems`` problems (all are
    counted) and a window of recent hashes to tell a moved event from a deleted one.

    After a problem the walk goes on from the stored hash, so one edited event is one
    problem, not a cascade.
    """

    WINDOW: Final = 4096

    def __init__(
        self,
        *,
        heads: Iterable[SignedHead] = (),
        max_problems: int = 100,
        start_hash: str | None = GENESIS,
    ) -> None:
        """``start_hash`` is the hash the first event must link to: :data:`GENESIS` for
        a whole chain, ``None`` for a slice (an export) that starts wherever its first
        event says; signed heads then vouch for what follows."""
        self.report = ChainReport()
        self._max = max_problems
        self._expected = GENESIS if start_hash is None else start_hash
        self._anchor_free = start_hash is None
        self._started = False
        self._last_id: int | None = None
        self._recent: dict[str, int] = {}
        self._older: dict[str, int] = {}
        self._heads: dict[int, list[SignedHead]] = {}
        for head in heads:
            self._heads.setdefault(head.event_id, []).append(head)
        self._head_hashes: dict[int, str] = {}
        self._pending: deque[ChainEvent] = deque()

    def problem(
        self, kind: ProblemKind, event_id: int | None, message: str, document_id: str | None = None
    ) -> None:
        self.report.problem_count += 1
        if len(self.report.problems) < self._max:
            self.report.problems.append(Problem(kind, event_id, message, document_id))

    def _remember(self, event: ChainEvent) -> None:
        # two generations of at most WINDOW hashes each: O(1) without per-event eviction
        assert event.hash is not None
        self._recent[event.hash] = event.id
        if len(self._recent) >= self.WINDOW:
            self._older, self._recent = self._recent, {}

    LOOKAHEAD: Final = 64

    def feed(self, batch: Sequence[ChainEvent]) -> None:
        """Check the next events (ids increasing). The last :data:`LOOKAHEAD` events wait
        for their successors (to tell a moved event): call :meth:`finish` at the end."""
        self._pending.extend(batch)
        while len(self._pending) > self.LOOKAHEAD:
            self._check(self._pending.popleft())

    def finish(self) -> ChainReport:
        """Check the events still waiting; returns the report."""
        while self._pending:
            self._check(self._pending.popleft())
        return self.report

    def _check(self, ev: ChainEvent) -> None:
        rep = self.report
        rep.events += 1
        if ev.id in self._heads:
            self._head_hashes[ev.id] = ev.hash or ""
        if ev.hash is None or ev.prev_hash is None:
            if not self._started:
                rep.legacy_events += 1  # written before the chain existed
            else:
                self.problem(
                    "unchained",
                    ev.id,
                    f"Event {ev.id} ({ev.kind}) has no hash: it was written around the "
                    "chain (or its hash was erased).",
                    ev.document_id,
                )
            self._last_id = ev.id
            return
        if self._anchor_free and not self._started:
            self._expected = ev.prev_hash
        self._started = True
        content_ok = ev.computed_hash() == ev.hash
        link_ok = ev.prev_hash == self._expected
        if not link_ok:
            self._broken_link(ev, list(self._pending), content_ok)
        elif not content_ok:
            self.problem(
                "edited",
                ev.id,
                f"Event {ev.id} ({ev.kind}, {canonical_time(ev.at)}) was edited: its "
                "content no longer matches its hash.",
                ev.document_id,
            )
        self._remember(ev)
        self._expected = ev.hash
        self._last_id = ev.id
        rep.last_event_id, rep.last_hash = ev.id, ev.hash

    def _broken_link(self, ev: ChainEvent, later: Sequence[ChainEvent], content_ok: bool) -> None:
        prev = ev.prev_hash or ""
        earlier = self._recent.get(prev, self._older.get(prev))
        moved_from = earlier if earlier is not None and earlier != self._last_id else None
        if moved_from is None:
            moved_from = next((e.id for e in later if e.hash == prev), None)
        if moved_from is not None:
            self.problem(
                "reordered",
                ev.id,
                f"Event {ev.id} ({ev.kind}) is out of order: in the chain it follows event "
                f"{moved_from}, not event {self._last_id}.",
                ev.document_id,
            )
        elif (
            content_ok and self._last_id is not None and ev.id > self._last_id + 1
        ) or self._last_id is None:
            first_gone = 1 if self._last_id is None else self._last_id + 1
            gone = f"{first_gone}" if first_gone == ev.id - 1 else f"{first_gone}..{ev.id - 1}"
            self.problem(
                "deleted",
                ev.id,
                f"Event(s) {gone} before event {ev.id} were deleted: its previous hash "
                "matches no stored event.",
                ev.document_id,
            )
        elif content_ok:
            self.problem(
                "broken-link",
                ev.id,
                f"The link from event {self._last_id} to event {ev.id} is broken: an event "
                "between them was deleted or replaced.",
                ev.document_id,
            )
        else:
            self.problem(
                "edited",
                ev.id,
                f"Event {ev.id} ({ev.kind}) was edited: neither its content nor its link "
                "matches its hash.",
                ev.document_id,
            )

    def check_heads(self, certs: Sequence[x509.Certificate]) -> None:
        """Check every signed head: signature by one of ``certs``, and the event it names
        is present with that hash. Call after the last :meth:`feed`."""
        self.finish()
        by_fp = {_cert_sha256(c): c for c in certs}
        rep = self.report
        for event_id in sorted(self._heads):
            for head in self._heads[event_id]:
                rep.heads_checked += 1
                cert = by_fp.get(head.cert_sha256)
                if cert is None:
                    self.problem(
                        "head-unknown-cert",
                        event_id,
                        f"The head signed at {canonical_time(head.at)} names certificate "
                        f"{head.cert_sha256[:16]}…, which is not the axis certificate given.",
                    )
                    continue
                if not verify_head_signature(head, cert):
                    self.problem(
                        "head-bad-signature",
                        event_id,
                        f"The signature of the head at event {event_id} "
                        f"({canonical_time(head.at)}) does not verify.",
                    )
                    continue
                stored = self._head_hashes.get(event_id)
                if stored is None:
                    self.problem(
                        "head-missing-event",
                        event_id,
                        f"Event {event_id}, signed as the chain head at "
                        f"{canonical_time(head.at)}, is missing: events were deleted.",
                    )
                elif stored != head.hash:
                    self.problem(
                        "head-mismatch",
                        event_id,
                        f"Event {event_id} does not have the hash signed at "
                        f"{canonical_time(head.at)}: the chain was rewritten.",
                    )
                elif rep.last_signed_event_id is None or event_id > rep.last_signed_event_id:
                    rep.last_signed_event_id = event_id
