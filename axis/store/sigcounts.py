"""Signature counters: what the signature report reads, kept in the packet's transaction.

The exchange counters (``counters``) hold the sender's dimensions only; "documents sent
to ministries, and how many were validly signed" needs the RECIPIENT's tier. So each
accepted packet also increments ``signature_counters`` per (day UTC+7, sender, sender
tier, recipient tier, kind, verdict, signer certificate):

- once with ``recipient_tier = "*"`` (every packet once: the "any recipient" slice);
- once per DISTINCT tier among its recipients (a packet to two ministries counts once
  under ``central``; a packet to a ministry and a department once under each).

A recipient's tier is the directory's (``deliveries.target_tier``; for a national route
the directory is asked, and a code whose level-1 group is ``Gnn`` is a central body);
unknown is ``""``. ``signers`` keeps each signing certificate's subject and issuer once.

The report then aggregates a few thousand rows per month and agency, whatever the
number of packets (``bench/bench_reports.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from axis.store import schema as t
from axis.store.models import NewDelivery, NewPacket, counter_day
from axis.store.once import built_once
from axis.store.upserts import add_counts_upsert

if TYPE_CHECKING:
    from collections.abc import Callable

    from axis.store.store import Store

__all__ = [
    "ALL_RECIPIENTS",
    "SigCount",
    "SignerInfo",
    "count_signatures",
    "guess_tier",
    "month_split",
    "recount_signatures_from_events",
    "signature_counts",
    "signer_infos",
]

ALL_RECIPIENTS: Final = "*"
SigKey = tuple[date, str, str, str, str, str, str]
_C = t.signature_counters.c


def guess_tier(code: str) -> str:
    """The tier of a code the directory does not know: ``central`` for a level-1 group
    ``Gnn`` (ministries and central agencies), otherwise unknown (``""``)."""
    level1 = code.rsplit(".", 1)[-1]
    return "central" if len(level1) == 3 and level1[0] == "G" and level1[1:].isdigit() else ""


async def count_signatures(
    conn: AsyncConnection,
    insert: Callable[[sa.Table], Any],
    packets: Sequence[tuple[NewPacket, Sequence[NewDelivery]]],
) -> list[tuple[str, ...]]:
    """Increment the signature counters of these packets (in the caller's transaction).
    Returns each packet's distinct recipient tiers (for its audit event)."""
    unknown = sorted({d.target_code for _, mine in packets for d in mine if d.target_tier is None})
    known: dict[str, str] = {}
    if unknown:
        a = t.agencies.c
        for i in range(0, len(unknown), 500):
            rows = await conn.execute(
                sa.select(a.code, a.tier).where(a.code.in_(unknown[i : i + 500]))
            )
            known.update({code: tier for code, tier in rows})
    inc: Counter[SigKey] = Counter()
    signers: dict[str, dict[str, Any]] = {}
    out: list[tuple[str, ...]] = []
    for p, mine in packets:
        tiers = tuple(
            sorted(
                {
                    d.target_tier or known.get(d.target_code) or guess_tier(d.target_code)
                    for d in mine
                }
            )
        )
        out.append(tiers)
        day = counter_day(p.received_at)
        signer = p.signer_sha256 or ""
        for rt in (ALL_RECIPIENTS, *tiers):
            inc[(day, p.sender_code, p.sender_tier or "", rt, p.kind, p.verdict, signer)] += 1
        if p.signer_sha256 and p.signer_sha256 not in signers:
            signers[p.signer_sha256] = {
                "sha256": p.signer_sha256,
                "subject": p.signer_subject or "",
                "issuer": p.issuer,
                "organ_id": p.signer_organ_id,
            }
    await _upsert(conn, insert, inc)
    if signers:
        stmt = built_once(  # run on every commit with a signed packet
            ("signers.insert", conn.dialect.name),
            lambda: insert(t.signers).on_conflict_do_nothing(index_elements=[t.signers.c.sha256]),
        )
        await conn.execute(stmt, [signers[k] for k in sorted(signers)])
    return out


async def _upsert(
    conn: AsyncConnection, insert: Callable[[sa.Table], Any], inc: Counter[SigKey]
) -> None:
    if not inc:
        return
    monthly: Counter[SigKey] = Counter()
    for k, n in inc.items():
        monthly[(k[0].replace(day=1), *k[1:])] += n
    names = ("agency_code", "sender_tier", "recipient_tier", "kind", "verdict", "signer_sha256")
    for table, first, counts in (
        (t.signature_counters, "day", inc),
        (t.signature_counters_month, "month", monthly),
    ):
        rows = [
            dict(zip((first, *names), k, strict=True)) | {"count": n}
            for k, n in sorted(counts.items())
        ]
        stmt = add_counts_upsert(conn.dialect.name, insert, table, (first, *names))
        await conn.execute(stmt, rows)


# --------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class SigCount:
    """A (pre-aggregated) signature counter: what :mod:`axis.sigreport` adds up.

    ``period`` is a day (``YYYY-MM-DD``) or a month (``YYYY-MM``); ``agency_code`` and
    ``sender_tier`` are ``""`` when the query collapsed them.
    """

    period: str
    agency_code: str
    sender_tier: str
    recipient_tier: str
    kind: str
    verdict: str
    signer_sha256: str
    count: int


@dataclass(frozen=True, slots=True)
class SignerInfo:
    sha256: str
    subject: str
    issuer: str | None
    organ_id: str | None


def month_split(
    day_from: date | None, day_to: date | None
) -> tuple[list[tuple[date | None, date | None]], tuple[date | None, date | None] | None]:
    """Split [day_from, day_to] into day ranges (the partial months at its edges) and one
    range of whole months (first days of months, inclusive), either possibly absent."""
    first_full = (
        None
        if day_from is None
        else day_from
        if day_from.day == 1
        else (day_from.replace(day=28) + timedelta(days=4)).replace(day=1)
    )
    after = None if day_to is None else day_to + timedelta(days=1)
    end_full = None if after is None else after.replace(day=1)  # exclusive
    if first_full is not None and end_full is not None and first_full >= end_full:
        return [(day_from, day_to)], None
    days: list[tuple[date | None, date | None]] = []
    if day_from is not None and first_full is not None and day_from < first_full:
        days.append((day_from, first_full - timedelta(days=1)))
    if end_full is not None and after is not None and end_full < after:
        days.append((end_full, day_to))
    last_month = None if end_full is None else (end_full - timedelta(days=1)).replace(day=1)
    return days, (first_full, last_month)


async def signature_counts(
    store: Store,
    *,
    day_from: date | None = None,
    day_to: date | None = None,
    agencies: Sequence[str] | None = None,
    sender_tiers: Sequence[str] | None = None,
    recipient_tier: str = ALL_RECIPIENTS,
    kind: str | None = "document",
    by_month: bool = True,
    keep_agency: bool = True,
    keep_signer: bool = True,
) -> list[SigCount]:
    """Signature counters of a slice, aggregated in the database by (period, agency,
    sender tier, recipient tier, kind, verdict, signer); dimensions not kept are
    collapsed to ``""``. ``recipient_tier`` ``"*"`` counts each packet once.

    ``by_month``: whole months are read from the monthly roll-up (``period`` =
    ``YYYY-MM``) and only the partial months at the edges from the daily counters
    (``period`` = ``YYYY-MM-DD``); otherwise every row is daily.
    """
    ranges: list[tuple[sa.Table, str, date | None, date | None]] = []
    if by_month:
        days, months = month_split(day_from, day_to)
        ranges += [(t.signature_counters, "day-as-month", a, b) for a, b in days]
        if months is not None:
            ranges.append((t.signature_counters_month, "month", *months))
    else:
        ranges.append((t.signature_counters, "day", day_from, day_to))
    out: list[SigCount] = []
    async with store._read() as conn:
        for table, period_col, lo, hi in ranges:
            out.extend(
                await _aggregate(
                    conn,
                    table,
                    period_col,
                    lo,
                    hi,
                    agencies=agencies,
                    sender_tiers=sender_tiers,
                    recipient_tier=recipient_tier,
                    kind=kind,
                    keep_agency=keep_agency,
                    keep_signer=keep_signer,
                )
            )
    return out


async def _aggregate(
    conn: AsyncConnection,
    table: sa.Table,
    period_col: str,
    lo: date | None,
    hi: date | None,
    *,
    agencies: Sequence[str] | None,
    sender_tiers: Sequence[str] | None,
    recipient_tier: str,
    kind: str | None,
    keep_agency: bool,
    keep_signer: bool,
) -> list[SigCount]:
    c = table.c
    period: sa.ColumnElement[Any] = c["day" if period_col == "day-as-month" else period_col]
    bound = period
    if period_col == "day-as-month":  # partial months: group the days by their month
        period = (
            sa.func.to_char(period, "YYYY-MM")
            if conn.dialect.name == "postgresql"
            else sa.func.strftime("%Y-%m", period)
        )
    group: list[sa.ColumnElement[Any]] = [period, c.sender_tier, c.verdict]
    if keep_agency:
        group.append(c.agency_code)
    if keep_signer:
        group.append(c.signer_sha256)
    q = sa.select(*group, c.kind, sa.func.sum(c.count)).where(c.recipient_tier == recipient_tier)
    if kind is not None:
        q = q.where(c.kind == kind)
    if lo is not None:
        q = q.where(bound >= lo)
    if hi is not None:
        q = q.where(bound <= hi)
    if agencies is not None:
        from axis.store.store import _codes_clause  # noqa: PLC0415 - store imports us

        q = q.where(_codes_clause(c.agency_code, agencies))
    if sender_tiers is not None:
        q = q.where(c.sender_tier.in_(list(sender_tiers)))
    q = q.group_by(*group, c.kind)
    rows = (await conn.execute(q)).all()
    out = []
    for r in rows:
        p = r[0] if isinstance(r[0], str) else r[0].isoformat()
        i = 3
        agency = r[i] if keep_agency else ""
        i += keep_agency
        signer = r[i] if keep_signer else ""
        i += keep_signer
        out.append(
            SigCount(
                p[:7] if period_col == "month" else p,
                agency,
                r[1],
                recipient_tier,
                r[i],
                r[2],
                signer,
                int(r[i + 1]),
            )
        )
    return out


async def signer_infos(store: Store, sha256s: Sequence[str]) -> dict[str, SignerInfo]:
    """Subject and issuer of these signing certificates."""
    s = t.signers.c
    wanted = sorted({x for x in sha256s if x})
    out: dict[str, SignerInfo] = {}
    async with store._read() as conn:
        for i in range(0, len(wanted), 500):
            rows = await conn.execute(
                sa.select(s.sha256, s.subject, s.issuer, s.organ_id).where(
                    s.sha256.in_(wanted[i : i + 500])
                )
            )
            out.update({r[0]: SignerInfo(*r) for r in rows})
    return out


async def recount_signatures_from_events(store: Store) -> list[SigCount]:
    """The signature counters recomputed from the ``packet.accepted`` events alone, by
    day (a consistency check: equals ``signature_counts(by_month=False, kind=None)``
    for each recipient tier)."""
    e = t.events.c
    async with store._read() as conn:
        rows = (
            await conn.execute(
                sa.select(e.at, e.agency_code, e.detail)
                .where(e.kind == "packet.accepted")
                .order_by(e.id)
            )
        ).all()
    inc: Counter[tuple[str, str, str, str, str, str, str]] = Counter()
    for at, agency, text in rows:
        d = json.loads(text)
        day = counter_day(at).isoformat()
        for rt in (ALL_RECIPIENTS, *d.get("recipient_tiers", ())):
            key = (
                day,
                agency,
                d["sender_tier"] or "",
                rt,
                d["kind"],
                d["verdict"],
                d.get("signer_sha256") or "",
            )
            inc[key] += 1
    return [SigCount(*k, n) for k, n in sorted(inc.items())]
