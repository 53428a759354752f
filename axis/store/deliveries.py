"""The delivery queue in the store: claiming due deliveries, recording attempts, dead
letters and requeues, push endpoints and their secrets, queue figures for admins.

The functions take the :class:`~axis.store.store.Store` and use its transactions; the
``Store`` exposes each of them as a delegating method. All SQL stays in this package.

Which deliveries the engine may claim (never a pull delivery):

- route ``national`` (the national axis adapter sends them);
- route ``local`` whose target agency receives by push (``delivery_mode = 'push'`` with a
  ``push_url``). An agency switched back to pull keeps its pending deliveries in its
  inbox; an agency switched to push gets its pending backlog pushed.

States of a pushed delivery: ``pending`` (waiting, or in flight while ``lease_until`` is
in the future), ``acked`` (the receiver answered 2xx: that *is* its acknowledgement,
counted ``acknowledged`` like an acknowledgement by pull, event ``delivery.acked``) or
``dead`` (a dead letter: the retry policy gave up; event ``delivery.dead``). A national
delivery the national axis took becomes ``acked`` too, with its ``remote_id`` (event
``delivery.forwarded``, no counter: the recipient is not one of ours).

Pull stays available for push agencies: a pending push delivery is in the agency's
inbox until it is pushed. If the agency *fetches* it by pull first, it leaves the push
queue (only ``pending`` is claimed) and the agency acknowledges it by pull as usual;
an acknowledgement by pull during a push in flight wins (the push's 2xx then changes
nothing and counts nothing). Once pushed (``acked``) it is no longer in the inbox.

Claiming: on PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` then a lease
(``lease_until``), so that several daemons on one database never claim the same row;
on SQLite the claim runs inside the single writer (``BEGIN IMMEDIATE``). A lease that
expires (the daemon died mid-attempt) makes the row claimable again: delivery is
at-least-once, and receivers deduplicate on the delivery id.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from axis.breaker import BreakerState
from axis.directory import normalize_code
from axis.retry import Dead, Decision, Done, Retry
from axis.store import schema as t
from axis.store.models import counter_day
from axis.transport import DeliveryJob, DeliveryOutcome
from axis_errors import ConfigError, InputError, NotFoundError

if TYPE_CHECKING:
    from axis.store.store import CounterKey, Store

__all__ = [
    "NATIONAL",
    "Attempt",
    "Claim",
    "PushTarget",
    "QueueStats",
    "QueuedDelivery",
    "breaker_states",
    "claim_due",
    "delivery_history",
    "destination_of",
    "get_delivery",
    "list_deliveries",
    "push_target",
    "queue_stats",
    "record_attempt",
    "release",
    "requeue",
    "requeue_destination",
    "set_pull_delivery",
    "set_push_delivery",
]

NATIONAL: Final = "national"
INBOX_PREFIX: Final = "inbox:"
Mode = Literal["push", "pull", "national"]

d = t.deliveries


def destination_of(route: str, push_url: str | None = None, target_code: str = "") -> str:
    """The queue a delivery belongs to: ``national``, a push URL's origin
    (``https://host:port``, default ports dropped), or ``inbox:<code>`` for pull."""
    if route == NATIONAL:
        return NATIONAL
    if not push_url:
        return INBOX_PREFIX + target_code
    parts = urlsplit(push_url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    scheme = parts.scheme.lower()
    port = parts.port
    if port is None or (scheme, port) in (("http", 80), ("https", 443)):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _push_context(code: str) -> str:
    return f"push:{code}"


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where and how to push to an agency (the secret is decrypted; never log it)."""

    agency_code: str
    url: str
    secret: str | None = field(repr=False)


class Claim(NamedTuple):
    """A claimed delivery: the job, the packet's original bytes, and when its current
    retry round began (creation, or the admin's requeue) for the policy's maximum age."""

    job: DeliveryJob
    data: bytes
    since: datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt of a delivery (its history)."""

    delivery_id: int
    attempt: int
    at: datetime
    destination: str
    ok: bool
    error_code: str | None
    error: str | None
    duration_ms: int | None
    remote_id: str | None

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["at"] = self.at.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """A delivery as admins see it."""

    delivery_id: int
    document_id: str
    kind: str
    sender_code: str
    recipient_code: str
    target_code: str
    route: str
    destination: str
    mode: Mode
    state: str
    attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    acked_at: datetime | None
    remote_id: str | None
    requeued_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class QueueStats:
    """One queue (destination) at a moment: what the dashboard and metrics show."""

    destination: str
    mode: Mode
    agencies: tuple[str, ...]
    pending: int  # depth: waiting or in flight
    in_flight: int
    oldest_pending_at: datetime | None
    oldest_pending_age: float | None  # seconds
    delivered_last_hour: int
    dead: int
    breaker: str  # closed | open | half-open
    paused: bool
    last_error: str | None
    failing_since: datetime | None

    @property
    def rate_per_minute(self) -> float:
        """Deliveries per minute over the last hour."""
        return self.delivered_last_hour / 60

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        out["agencies"] = list(self.agencies)
        out["rate_per_minute"] = self.rate_per_minute
        return out


# --- push endpoints -----------------------------------------------------------------------


async def _push_agencies(conn: AsyncConnection) -> dict[str, str]:
    """Code -> push URL of every agency that receives by push."""
    a = t.agencies.c
    rows = await conn.execute(
        sa.select(a.code, a.push_url).where(a.delivery_mode == "push", a.push_url.is_not(None))
    )
    return {code: url for code, url in rows}


async def set_push_delivery(
    store: Store, code: str, url: str, secret: str | None, *, actor: str | None = None
) -> None:
    """Make an agency receive by push at ``url``; ``secret`` (encrypted at rest) keys
    the requests' HMAC signature (None keeps the stored one). Audited, secret not logged."""
    code = normalize_code(code)
    if not url.startswith(("http://", "https://")) or not urlsplit(url).hostname:
        raise InputError(
            f"The push URL {url!r} must be an absolute http(s) URL.",
            code="agencies.bad-push-url",
            details={"code": code},
        )
    box = store._box
    if secret is not None and box is None:
        raise ConfigError(
            "The store was opened without a security key: push secrets cannot be stored.",
            code="config.no-secret-key",
        )
    now = store._now()
    async with store._write() as conn:
        await _set_delivery_mode(conn, code, "push", url, now)
        if secret is not None:
            assert box is not None
            sealed = box.seal(secret, context=_push_context(code))
            stmt = store._insert(t.push_secrets).values(
                agency_code=code, secret_enc=sealed, updated_at=now
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=[t.push_secrets.c.agency_code],
                set_={"secret_enc": sealed, "updated_at": now},
            )
            await conn.execute(stmt)
        await conn.execute(
            t.events.insert(),
            store._event_row(
                "agency.delivery-set",
                now,
                agency_code=code,
                actor=actor,
                detail={
                    "mode": "push",
                    "url": url,
                    "destination": destination_of("local", url),
                    "secret_changed": secret is not None,
                },
            ),
        )


async def _set_delivery_mode(
    conn: AsyncConnection, code: str, mode: str, url: str | None, now: datetime
) -> None:
    """Set an agency's delivery mode and push URL; ``agencies.not-found`` if unknown."""
    res = await conn.execute(
        t.agencies.update()
        .where(t.agencies.c.code == code)
        .values(delivery_mode=mode, push_url=url, updated_at=now)
    )
    if res.rowcount == 0:
        raise NotFoundError(
            f"Agency {code} is not in the directory.",
            code="agencies.not-found",
            details={"code": code},
        )


async def set_pull_delivery(store: Store, code: str, *, actor: str | None = None) -> None:
    """Make an agency receive by pull (its push URL and secret are forgotten; its pending
    deliveries stay in its inbox). Audited."""
    code = normalize_code(code)
    now = store._now()
    async with store._write() as conn:
        await _set_delivery_mode(conn, code, "pull", None, now)
        await conn.execute(t.push_secrets.delete().where(t.push_secrets.c.agency_code == code))
        await conn.execute(
            t.events.insert(),
            store._event_row(
                "agency.delivery-set", now, agency_code=code, actor=actor, detail={"mode": "pull"}
            ),
        )


async def push_target(store: Store, code: str) -> PushTarget | None:
    """The push endpoint of an agency, or None when it receives by pull."""
    code = normalize_code(code)
    a, s = t.agencies.c, t.push_secrets.c
    async with store._read() as conn:
        row = (
            await conn.execute(
                sa.select(a.delivery_mode, a.push_url, s.secret_enc)
                .select_from(t.agencies.outerjoin(t.push_secrets, s.agency_code == a.code))
                .where(a.code == code)
            )
        ).first()
    if row is None or row[0] != "push" or not row[1]:
        return None
    secret = None
    if row[2] is not None:
        if store._box is None:
            raise ConfigError(
                "The store was opened without a security key: push secrets cannot be read.",
                code="config.no-secret-key",
            )
        secret = store._box.open(bytes(row[2]), context=_push_context(code))
    return PushTarget(code, row[1], secret)


# --- claiming -----------------------------------------------------------------------------


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        d.c.state == "pending",
        d.c.next_attempt_at <= now,
        sa.or_(d.c.lease_until.is_(None), d.c.lease_until <= now),
    )


async def _find_due(
    conn: AsyncConnection,
    *,
    now: datetime,
    limit: int,
    per_destination: int,
    national_limit: int | None,
    routes: Collection[str],
    skip: Collection[str],
) -> tuple[dict[str, str], list[tuple[datetime, int]]]:
    """(push agency code -> destination, [(due time, delivery id)] of due candidates)."""
    push = await _push_agencies(conn) if "local" in routes else {}
    dest_of = {code: destination_of("local", url) for code, url in push.items()}
    targets = sorted(c for c, dest in dest_of.items() if dest not in skip)
    found: list[tuple[datetime, int]] = []
    if targets and per_destination > 0:
        rn = (
            sa.func.row_number()
            .over(partition_by=d.c.target_code, order_by=(d.c.next_attempt_at, d.c.id))
            .label("rn")
        )
        inner = (
            sa.select(d.c.id, d.c.next_attempt_at, rn)
            .where(d.c.route == "local", d.c.target_code.in_(targets), _due(now))
            .subquery()
        )
        q = (
            sa.select(inner.c.next_attempt_at, inner.c.id)
            .where(inner.c.rn <= per_destination)
            .order_by(inner.c.next_attempt_at, inner.c.id)
            .limit(limit)
        )
        found += [(r[0], r[1]) for r in await conn.execute(q)]
    n_limit = per_destination if national_limit is None else national_limit
    if NATIONAL in routes and NATIONAL not in skip and n_limit > 0:
        q = (
            sa.select(d.c.next_attempt_at, d.c.id)
            .where(d.c.route == NATIONAL, _due(now))
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(min(limit, n_limit))
        )
        found += [(r[0], r[1]) for r in await conn.execute(q)]
    return dest_of, found


async def claim_due(
    store: Store,
    now: datetime,
    *,
    limit: int,
    lease_seconds: float,
    per_destination: int = 4,
    national_limit: int | None = None,
    routes: Collection[str] = ("local", NATIONAL),
    skip: Collection[str] = (),
) -> list[Claim]:
    """Claim up to ``limit`` due deliveries, oldest due first, leasing each for
    ``lease_seconds``. At most ``per_destination`` per push agency and
    ``national_limit`` (default ``per_destination``) national ones; destinations in
    ``skip`` (paused or busy) and routes not in ``routes`` are left alone."""
    if limit <= 0:
        return []
    lease_until = now + timedelta(seconds=lease_seconds)
    find = functools.partial(
        _find_due,
        now=now,
        limit=limit,
        per_destination=per_destination,
        national_limit=national_limit,
        routes=routes,
        skip=skip,
    )
    # Most ticks find nothing due (pull inboxes are not the engine's): look in a read
    # snapshot first, so that an idle tick never takes the single SQLite writer.
    async with store._read() as conn:
        if not (await find(conn))[1]:
            return []
    async with store._write() as conn:
        dest_of, found = await find(conn)
        if not found:
            return []
        wanted = [i for _, i in sorted(found)[:limit]]
        # Lock what is still due; rows another node is claiming right now are skipped
        # (PostgreSQL re-checks these conditions on rows committed meanwhile).
        locked = [
            r[0]
            for r in await conn.execute(
                sa.select(d.c.id)
                .where(d.c.id.in_(wanted), _due(now))
                .with_for_update(skip_locked=True)
            )
        ]
        if not locked:
            return []
        await conn.execute(d.update().where(d.c.id.in_(locked)).values(lease_until=lease_until))
        doc, pkt = t.documents.c, t.packets.c
        rows = (
            await conn.execute(
                sa.select(
                    d.c.id,
                    d.c.document_id,
                    doc.kind,
                    doc.sender_code,
                    d.c.recipient_code,
                    d.c.target_code,
                    d.c.route,
                    d.c.attempts,
                    d.c.created_at,
                    d.c.requeued_at,
                    d.c.next_attempt_at,
                    *store.PACKET_COLUMNS,
                )
                .select_from(
                    t.deliveries.join(t.documents, doc.id == d.c.document_id).join(
                        t.packets, pkt.document_id == d.c.document_id
                    )
                )
                .where(d.c.id.in_(locked))
                .order_by(d.c.next_attempt_at, d.c.id)
            )
        ).all()
    out = []
    for r in rows:
        route = r[6]
        job = DeliveryJob(
            delivery_id=r[0],
            document_id=r[1],
            kind=r[2],
            sender_code=r[3],
            recipient_code=r[4],
            target_code=r[5],
            route=route,
            attempts=r[7],
            destination=NATIONAL if route == NATIONAL else dest_of[r[5]],
        )
        out.append(Claim(job, store.packet_bytes(*r[11:15]), r[9] or r[8]))
    return out


async def release(store: Store, delivery_ids: Sequence[int]) -> None:
    """Give claimed deliveries back without an attempt (their lease ends now)."""
    if not delivery_ids:
        return
    async with store._write() as conn:
        await conn.execute(
            d.update()
            .where(d.c.id.in_(list(delivery_ids)), d.c.state == "pending")
            .values(lease_until=None)
        )


# --- recording attempts -------------------------------------------------------------------


def _breaker_values(b: BreakerState, now: datetime) -> dict[str, Any]:
    return {
        "destination": b.destination,
        "state": b.state,
        "failures": b.failures,
        "failing_since": b.failing_since,
        "opened_at": b.opened_at,
        "last_error": b.last_error,
        "updated_at": b.updated_at or now,
    }


async def _save_breaker(
    store: Store, conn: AsyncConnection, b: BreakerState, now: datetime
) -> None:
    values = _breaker_values(b, now)
    stmt = store._insert(t.destinations).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.destinations.c.destination],
        set_={k: v for k, v in values.items() if k != "destination"},
    )
    await conn.execute(stmt)


def _error_text(outcome: DeliveryOutcome) -> str:
    code = outcome.error_code or "failed"
    return f"{code}: {outcome.error}" if outcome.error else code


async def record_attempt(
    store: Store,
    job: DeliveryJob,
    outcome: DeliveryOutcome,
    decision: Decision,
    now: datetime,
    *,
    duration_ms: int | None = None,
    breaker: BreakerState | None = None,
) -> str:
    """Record one attempt and its consequence in ONE transaction: the history row, the
    delivery's new state (``acked``, ``pending`` with its next attempt time, or
    ``dead``), the counter and audit event of an acknowledgement or a dead letter, and
    the destination's breaker state when given. Returns the delivery's state after it
    (an acknowledgement by pull meanwhile stays as it is)."""
    async with store._write() as conn:
        attempt_no = (
            await conn.execute(
                sa.select(sa.func.count())
                .select_from(t.delivery_attempts)
                .where(t.delivery_attempts.c.delivery_id == job.delivery_id)
            )
        ).scalar_one() + 1
        await conn.execute(
            t.delivery_attempts.insert(),
            {
                "delivery_id": job.delivery_id,
                "attempt": attempt_no,
                "at": now,
                "destination": job.destination,
                "ok": outcome.ok,
                "error_code": None if outcome.ok else (outcome.error_code or "failed"),
                "error": None if outcome.ok else (outcome.error or "")[:2000] or None,
                "duration_ms": duration_ms,
                "remote_id": outcome.remote_id,
            },
        )
        if breaker is not None:
            await _save_breaker(store, conn, breaker, now)
        base = d.update().where(d.c.id == job.delivery_id)
        bump = {"attempts": d.c.attempts + 1, "lease_until": None}
        if isinstance(decision, Done):
            res = await conn.execute(
                base.where(d.c.state.in_(("pending", "fetched"))).values(
                    state="acked",
                    acked_at=now,
                    last_error=None,
                    next_attempt_at=None,
                    remote_id=outcome.remote_id,
                    **bump,
                )
            )
            if res.rowcount:
                await _acked(store, conn, job=job, outcome=outcome, now=now, attempt_no=attempt_no)
        elif isinstance(decision, Retry):
            await conn.execute(
                base.values(next_attempt_at=decision.at, last_error=_error_text(outcome), **bump)
            )
        else:
            assert isinstance(decision, Dead)
            res = await conn.execute(
                base.where(d.c.state == "pending").values(
                    state="dead", next_attempt_at=None, last_error=decision.reason[:2000], **bump
                )
            )
            if res.rowcount == 0:  # fetched by pull meanwhile: leave it with its reader
                await conn.execute(base.values(last_error=_error_text(outcome), **bump))
            else:
                await conn.execute(
                    t.events.insert(),
                    store._event_row(
                        "delivery.dead",
                        now,
                        document_id=job.document_id,
                        agency_code=job.target_code,
                        actor="delivery",
                        detail={
                            "delivery_id": job.delivery_id,
                            "destination": job.destination,
                            "attempts": job.attempts + 1,
                            "reason": decision.reason,
                            "error_code": outcome.error_code,
                        },
                    ),
                )
        state = (
            await conn.execute(sa.select(d.c.state).where(d.c.id == job.delivery_id))
        ).scalar_one()
    return str(state)


async def _acked(
    store: Store,
    conn: AsyncConnection,
    *,
    job: DeliveryJob,
    outcome: DeliveryOutcome,
    now: datetime,
    attempt_no: int,
) -> None:
    """The counter and event of a delivery taken by its receiver."""
    row = (
        await conn.execute(
            sa.select(d.c.target_tier, t.documents.c.verdict)
            .select_from(t.deliveries.join(t.documents, t.documents.c.id == d.c.document_id))
            .where(d.c.id == job.delivery_id)
        )
    ).one()
    tier, verdict = row[0], row[1]
    if job.route == NATIONAL:
        await conn.execute(
            t.events.insert(),
            store._event_row(
                "delivery.forwarded",
                now,
                document_id=job.document_id,
                agency_code=job.target_code,
                actor="delivery",
                detail={
                    "delivery_id": job.delivery_id,
                    "remote_id": outcome.remote_id,
                    "attempt": attempt_no,
                },
            ),
        )
        return
    inc: Counter[CounterKey] = Counter()
    inc[(counter_day(now), job.target_code, tier or "", "acknowledged", verdict, "internal")] += 1
    await store._count(conn, inc)
    await conn.execute(
        t.events.insert(),
        store._event_row(
            "delivery.acked",
            now,
            document_id=job.document_id,
            agency_code=job.target_code,
            actor="push",
            detail={
                "delivery_id": job.delivery_id,
                "tier": tier,
                "verdict": verdict,
                "via": "push",
                "destination": job.destination,
                "attempt": attempt_no,
            },
        ),
    )


# --- dead letters -------------------------------------------------------------------------


async def _destination_clause(conn: AsyncConnection, destination: str) -> sa.ColumnElement[bool]:
    if destination == NATIONAL:
        return d.c.route == NATIONAL
    if destination.startswith(INBOX_PREFIX):
        code = normalize_code(destination[len(INBOX_PREFIX) :])
        return sa.and_(d.c.route == "local", d.c.target_code == code)
    push = await _push_agencies(conn)
    codes = sorted(c for c, url in push.items() if destination_of("local", url) == destination)
    if not codes:
        return sa.false()
    return sa.and_(d.c.route == "local", d.c.target_code.in_(codes))


async def requeue(store: Store, delivery_id: int, *, actor: str | None = None) -> bool:
    """A dead letter goes back to ``pending``, due now, with a fresh retry round.
    True if it was dead; False if it was in another state. ``NotFoundError`` if unknown.
    Audited (``delivery.requeued``)."""
    now = store._now()
    async with store._write() as conn:
        row = (
            await conn.execute(
                sa.select(d.c.document_id, d.c.target_code, d.c.state).where(d.c.id == delivery_id)
            )
        ).first()
        if row is None:
            raise NotFoundError(
                f"Delivery {delivery_id} does not exist.",
                code="deliveries.not-found",
                details={"delivery_id": delivery_id},
            )
        if row[2] != "dead":
            return False
        await conn.execute(_requeue_stmt(d.c.id == delivery_id, now))
        await conn.execute(
            t.events.insert(),
            store._event_row(
                "delivery.requeued",
                now,
                document_id=row[0],
                agency_code=row[1],
                actor=actor,
                detail={"delivery_id": delivery_id},
            ),
        )
    return True


def _requeue_stmt(where: sa.ColumnElement[bool], now: datetime) -> Any:
    return (
        d.update()
        .where(where, d.c.state == "dead")
        .values(state="pending", attempts=0, next_attempt_at=now, lease_until=None, requeued_at=now)
    )


async def requeue_destination(store: Store, destination: str, *, actor: str | None = None) -> int:
    """Every dead letter of a destination back to ``pending`` now; its breaker is reset
    (the admin says "try again now"). Returns how many. Audited."""
    now = store._now()
    async with store._write() as conn:
        where = await _destination_clause(conn, destination)
        res = await conn.execute(_requeue_stmt(where, now))
        count = int(res.rowcount or 0)
        await conn.execute(
            t.destinations.update()
            .where(t.destinations.c.destination == destination)
            .values(state="closed", failures=0, failing_since=None, opened_at=None, updated_at=now)
        )
        await conn.execute(
            t.events.insert(),
            store._event_row(
                "delivery.requeued-all",
                now,
                actor=actor,
                detail={"destination": destination, "count": count},
            ),
        )
    return count


# --- reading ------------------------------------------------------------------------------

_VIEW_COLUMNS = (
    d.c.id,
    d.c.document_id,
    t.documents.c.kind,
    t.documents.c.sender_code,
    d.c.recipient_code,
    d.c.target_code,
    d.c.route,
    d.c.state,
    d.c.attempts,
    d.c.next_attempt_at,
    d.c.lease_until,
    d.c.last_error,
    d.c.created_at,
    d.c.acked_at,
    d.c.remote_id,
    d.c.requeued_at,
)


def _view(row: Any, push: Mapping[str, str]) -> QueuedDelivery:
    (did, doc_id, kind, sender, recipient, target, route, state, attempts) = row[:9]
    url = push.get(target) if route == "local" else None
    mode: Mode = NATIONAL if route == NATIONAL else ("push" if url else "pull")
    return QueuedDelivery(
        delivery_id=did,
        document_id=doc_id,
        kind=kind,
        sender_code=sender,
        recipient_code=recipient,
        target_code=target,
        route=route,
        destination=destination_of(route, url, target),
        mode=mode,
        state=state,
        attempts=attempts,
        next_attempt_at=row[9],
        lease_until=row[10],
        last_error=row[11],
        created_at=row[12],
        acked_at=row[13],
        remote_id=row[14],
        requeued_at=row[15],
    )


def _view_query() -> sa.Select[Any]:
    return sa.select(*_VIEW_COLUMNS).select_from(
        t.deliveries.join(t.documents, t.documents.c.id == d.c.document_id)
    )


async def list_deliveries(
    store: Store,
    *,
    destination: str | None = None,
    state: str | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[QueuedDelivery]:
    """Deliveries by id, optionally of one destination (``national``, a push origin,
    ``inbox:<code>``) and/or in one state. Page with ``after_id``."""
    if state is not None and state not in t.DELIVERY_STATES:
        raise InputError(
            f"state must be one of {', '.join(t.DELIVERY_STATES)}.", code="input.bad-param"
        )
    q = _view_query()
    async with store._read() as conn:
        if destination is not None:
            q = q.where(await _destination_clause(conn, destination))
        if state is not None:
            q = q.where(d.c.state == state)
        if after_id is not None:
            q = q.where(d.c.id > after_id)
        q = q.order_by(d.c.id).limit(max(1, min(limit, 10_000)))
        rows = (await conn.execute(q)).all()
        push = await _push_agencies(conn)
    return [_view(r, push) for r in rows]


async def get_delivery(store: Store, delivery_id: int) -> QueuedDelivery:
    async with store._read() as conn:
        row = (await conn.execute(_view_query().where(d.c.id == delivery_id))).first()
        push = await _push_agencies(conn)
    if row is None:
        raise NotFoundError(
            f"Delivery {delivery_id} does not exist.",
            code="deliveries.not-found",
            details={"delivery_id": delivery_id},
        )
    return _view(row, push)


async def delivery_history(store: Store, delivery_id: int) -> list[Attempt]:
    """Every attempt of a delivery, first to last."""
    a = t.delivery_attempts.c
    async with store._read() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    a.delivery_id,
                    a.attempt,
                    a.at,
                    a.destination,
                    a.ok,
                    a.error_code,
                    a.error,
                    a.duration_ms,
                    a.remote_id,
                )
                .where(a.delivery_id == delivery_id)
                .order_by(a.attempt)
            )
        ).all()
    return [Attempt(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], r[8]) for r in rows]


async def breaker_states(store: Store) -> dict[str, BreakerState]:
    """The persisted breaker of every destination that ever had one."""
    async with store._read() as conn:
        rows = (await conn.execute(sa.select(t.destinations))).all()
    out = {}
    for r in rows:
        m = r._mapping
        out[m["destination"]] = BreakerState(
            destination=m["destination"],
            state=m["state"],
            failures=m["failures"],
            failing_since=m["failing_since"],
            opened_at=m["opened_at"],
            last_error=m["last_error"],
            updated_at=m["updated_at"],
        )
    return out


@dataclass
class _Acc:
    mode: Mode
    agencies: set[str] = field(default_factory=set)
    pending: int = 0
    in_flight: int = 0
    oldest: datetime | None = None
    delivered: int = 0
    dead: int = 0


async def queue_stats(
    store: Store, now: datetime, *, include_pull: bool = False
) -> list[QueueStats]:
    """Per destination: depth, in flight, oldest pending age, delivered in the last
    hour, dead letters, breaker state. Push destinations and ``national`` always;
    pull inboxes (``inbox:<code>``) with something pending when ``include_pull``."""
    hour_ago = now - timedelta(hours=1)
    in_flight = sa.case((d.c.lease_until > now, 1), else_=0)
    async with store._read() as conn:
        push = await _push_agencies(conn)
        grouped = (
            await conn.execute(
                sa.select(
                    d.c.route,
                    d.c.target_code,
                    d.c.state,
                    sa.func.count(),
                    sa.func.min(d.c.created_at),
                    sa.func.sum(in_flight),
                )
                .where(d.c.state.in_(("pending", "dead")))
                .group_by(d.c.route, d.c.target_code, d.c.state)
            )
        ).all()
        a = t.delivery_attempts.c
        delivered: dict[str, int] = dict(
            (
                await conn.execute(
                    sa.select(a.destination, sa.func.count())
                    .where(a.ok.is_(True), a.at >= hour_ago)
                    .group_by(a.destination)
                )
            ).all()
        )
    breakers = await breaker_states(store)
    acc: dict[str, _Acc] = {}
    for code, push_url in push.items():
        acc.setdefault(destination_of("local", push_url), _Acc("push")).agencies.add(code)
    for route, target, state, count, oldest, flying in grouped:
        url: str | None = push.get(target) if route == "local" else None
        if route == "local" and url is None and not include_pull:
            continue
        dest = destination_of(route, url, target)
        mode: Mode = NATIONAL if route == NATIONAL else ("push" if url else "pull")
        q = acc.setdefault(dest, _Acc(mode))
        if route == "local":
            q.agencies.add(target)
        if state == "pending":
            q.pending += int(count)
            q.in_flight += int(flying or 0)
            if q.oldest is None or oldest < q.oldest:
                q.oldest = oldest
        else:
            q.dead += int(count)
    for dest, n in delivered.items():
        if dest in acc:
            acc[dest].delivered = int(n)
        elif dest == NATIONAL:
            acc[dest] = _Acc(NATIONAL, delivered=int(n))
    if NATIONAL in breakers and NATIONAL not in acc:
        acc[NATIONAL] = _Acc(NATIONAL)
    out = []
    for dest in sorted(acc):
        q = acc[dest]
        b = breakers.get(dest, BreakerState(dest))
        out.append(
            QueueStats(
                destination=dest,
                mode=q.mode,
                agencies=tuple(sorted(q.agencies)),
                pending=q.pending,
                in_flight=q.in_flight,
                oldest_pending_at=q.oldest,
                oldest_pending_age=(
                    None if q.oldest is None else max(0.0, (now - q.oldest).total_seconds())
                ),
                delivered_last_hour=q.delivered,
                dead=q.dead,
                breaker=b.state,
                paused=b.paused,
                last_error=b.last_error,
                failing_since=b.failing_since,
            )
        )
    return out
