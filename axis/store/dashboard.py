"""Read-only figures for the admin dashboard, metrics and alerts.

Everything is aggregated in SQL and served by indexes, so that the pages stay fast with
millions of deliveries:

- day figures come from ``counters`` (one row per day x agency x direction x verdict),
  never from scanning documents or deliveries;
- open deliveries are counted through ``ix_deliveries_due`` (route, state, ...): both
  route values are named so that the index is used on SQLite as well as PostgreSQL.

Queues per destination, drill-down and dead letters are in :mod:`axis.store.deliveries`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from axis.store import schema as t

if TYPE_CHECKING:
    from axis.store.store import Store

__all__ = [
    "DayFigures",
    "Overview",
    "RegisteredCert",
    "delivery_state_counts",
    "node_state",
    "overview",
    "ping",
    "registered_certs",
    "request_id_of",
    "totals",
]

_ROUTES = ("local", "national")


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One reporting day (Asia/Ho_Chi_Minh): packets the axis took from senders, refused,
    and deliveries acknowledged by their recipients."""

    day: date
    received: int = 0
    refused: int = 0
    acknowledged: int = 0


@dataclass(frozen=True, slots=True)
class Overview:
    today: DayFigures
    days: tuple[DayFigures, ...]  # oldest first, every day of the window (zeros too)
    verdicts: dict[str, int]  # accepted packets by signature verdict, over the window
    states: dict[str, int]  # deliveries now open or failed, by state

    @property
    def pending(self) -> int:
        return self.states.get("pending", 0) + self.states.get("fetched", 0)

    @property
    def failed(self) -> int:
        return self.states.get("failed", 0) + self.states.get("dead", 0)

    def verdict_shares(self) -> list[tuple[str, int, float]]:
        """(verdict, count, percent) largest first; percents of the window's total."""
        total = sum(self.verdicts.values())
        return [
            (v, n, 100.0 * n / total if total else 0.0)
            for v, n in sorted(self.verdicts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]


async def delivery_state_counts(
    store: Store, states: tuple[str, ...] = ("pending", "fetched", "failed", "dead")
) -> dict[str, int]:
    """How many deliveries are in each of ``states`` (every state named, zeros too)."""
    d = t.deliveries.c
    q = (
        sa.select(d.state, sa.func.count())
        .where(d.route.in_(_ROUTES), d.state.in_(states))
        .group_by(d.state)
    )
    async with store._read() as conn:
        rows = (await conn.execute(q)).all()
    out = dict.fromkeys(states, 0)
    out.update({state: int(n) for state, n in rows})
    return out


async def overview(store: Store, today: date, *, days: int = 30) -> Overview:
    """Today's figures, the last ``days`` days and the verdict shares, from counters."""
    c = t.counters.c
    first = today - timedelta(days=days - 1)
    q = (
        sa.select(c.day, c.direction, c.verdict, sa.func.sum(c.count))
        .where(c.day >= first, c.day <= today)
        .group_by(c.day, c.direction, c.verdict)
    )
    async with store._read() as conn:
        rows = (await conn.execute(q)).all()
    per_day: dict[date, dict[str, int]] = {}
    verdicts: dict[str, int] = {}
    for day, direction, verdict, n in rows:
        slot = per_day.setdefault(day, {})
        slot[direction] = slot.get(direction, 0) + int(n)
        if direction == "sent":
            key = verdict or "unknown"
            verdicts[key] = verdicts.get(key, 0) + int(n)
    series = []
    for i in range(days):
        day = first + timedelta(days=i)
        slot = per_day.get(day, {})
        series.append(
            DayFigures(
                day,
                received=slot.get("sent", 0),
                refused=slot.get("refused", 0),
                acknowledged=slot.get("acknowledged", 0),
            )
        )
    states = await delivery_state_counts(store)
    return Overview(series[-1], tuple(series), verdicts, states)


async def totals(store: Store) -> dict[str, int]:
    """All-time counter totals by direction (for ``/metrics``)."""
    c = t.counters.c
    async with store._read() as conn:
        rows = (
            await conn.execute(sa.select(c.direction, sa.func.sum(c.count)).group_by(c.direction))
        ).all()
    return {direction: int(n) for direction, n in rows}


@dataclass(frozen=True, slots=True)
class RegisteredCert:
    agency_code: str
    agency_name: str | None
    subject: str
    sha256: str
    not_after: datetime


async def registered_certs(
    store: Store, *, expiring_before: datetime | None = None, limit: int = 500
) -> list[RegisteredCert]:
    """Registered agency certificates, soonest expiry first (optionally only those
    expiring before a time)."""
    ac, a = t.agency_certs.c, t.agencies.c
    q = sa.select(ac.agency_code, a.name, ac.subject, ac.sha256, ac.not_after).select_from(
        t.agency_certs.outerjoin(t.agencies, a.code == ac.agency_code)
    )
    if expiring_before is not None:
        q = q.where(ac.not_after < expiring_before)
    q = q.order_by(ac.not_after, ac.sha256).limit(limit)
    async with store._read() as conn:
        rows = (await conn.execute(q)).all()
    return [RegisteredCert(r[0], r[1], r[2], r[3], r[4]) for r in rows]


async def request_id_of(store: Store, document_id: str) -> str | None:
    """The id of the HTTP request that brought a document (to bind in logs)."""
    d = t.documents.c
    async with store._read() as conn:
        value = (await conn.execute(sa.select(d.request_id).where(d.id == document_id))).scalar()
    return None if value is None else str(value)


async def node_state(store: Store, key: str) -> dict[str, Any] | None:
    """A JSON object of ``node_state`` (e.g. ``national.poll``, the national poller's
    health), or None."""
    ns = t.node_state.c
    async with store._read() as conn:
        value = (await conn.execute(sa.select(ns.value).where(ns.key == key))).scalar()
    if value is None:
        return None
    try:
        data = json.loads(value)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def ping(store: Store) -> None:
    """A round trip to the database (raises ``StoreError`` when it is unreachable)."""
    async with store._read() as conn:
        await conn.execute(sa.select(sa.literal(1)))
