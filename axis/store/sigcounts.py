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
from datetime import date
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from axis.store import schema as t
from axis.store.models import NewDelivery, NewPacket, counter_day

if TYPE_CHECKING:
    from collections.abc import Callable

    from axis.store.store import Store

__all__ = [
    "ALL_RECIPIENTS",
    "SigCount",
    "SignerInfo",
    "count_signatures",
    "guess_tier",
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
        stmt = insert(t.signers).on_conflict_do_nothing(index_elements=[t.signers.c.sha256])
        await conn.execute(stmt, [signers[k] for k in sorted(signers)])
    return out


async def _upsert(
    conn: AsyncConnection, insert: Callable[[sa.Table], Any], inc: Counter[SigKey]
) -> None:
    if not inc:
        return
    names = ("day", "agency_code", "sender_tier", "recipient_tier", "kind", "verdict")
    rows = [
        dict(zip((*names, "signer_sha256"), k, strict=True)) | {"count": n}
        for k, n in sorted(inc.items())
    ]
    stmt = insert(t.signature_counters)
    stmt = stmt.on_conflict_do_update(
        index_elements=[getattr(_C, c) for c in (*names, "signer_sha256")],
        set_={"count": _C.count + stmt.excluded.count},
    )
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
    """Signature counters of a slice, aggregated in the database by (month or day,
    agency, sender tier, recipient tier, kind, verdict, signer); dimensions not kept are
    collapsed to ``""``. ``recipient_tier`` ``"*"`` counts each packet once."""
    if by_month:
        period: sa.ColumnElement[Any] = (
            sa.func.to_char(_C.day, "YYYY-MM")
            if store.dialect == "postgresql"
            else sa.func.strftime("%Y-%m", _C.day)
        )
    else:
        period = (
            sa.func.to_char(_C.day, "YYYY-MM-DD")
            if store.dialect == "postgresql"
            else sa.func.strftime("%Y-%m-%d", _C.day)
        )
    agency: sa.ColumnElement[Any] = _C.agency_code if keep_agency else sa.literal("")
    signer: sa.ColumnElement[Any] = _C.signer_sha256 if keep_signer else sa.literal("")
    cols = [
        period.label("period"),
        agency.label("agency"),
        _C.sender_tier,
        _C.recipient_tier,
        _C.kind,
        _C.verdict,
        signer.label("signer"),
    ]
    q = sa.select(*cols, sa.func.sum(_C.count)).where(_C.recipient_tier == recipient_tier)
    if day_from is not None:
        q = q.where(_C.day >= day_from)
    if day_to is not None:
        q = q.where(_C.day <= day_to)
    if kind is not None:
        q = q.where(_C.kind == kind)
    if agencies is not None:
        from axis.store.store import _codes_clause  # noqa: PLC0415 - store imports us

        q = q.where(_codes_clause(_C.agency_code, agencies))
    if sender_tiers is not None:
        q = q.where(_C.sender_tier.in_(list(sender_tiers)))
    group = [sa.literal_column("period"), _C.sender_tier, _C.recipient_tier, _C.kind, _C.verdict]
    if keep_agency:
        group.append(_C.agency_code)
    if keep_signer:
        group.append(_C.signer_sha256)
    q = q.group_by(*group)
    async with store._read() as conn:
        rows = (await conn.execute(q)).all()
    return [
        SigCount(str(r[0]), r[1] or "", r[2], r[3], r[4], r[5], r[6] or "", int(r[7])) for r in rows
    ]


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
