"""Signed PDF attachments in the store: the verdicts, and the counters the signature
report reads ("signed in the envelope, in an attachment, in both, in neither").

Written in the packet's transaction by :meth:`axis.store.Store` (``_write_packet_rest``
calls :func:`record_attachments`):

- ``attachment_verdicts``: one row per PDF file of the document (axis.pades);
- ``attachment_counters`` (+ ``attachment_counters_month``, the same rolled up by
  month): every accepted DOCUMENT once per (day UTC+7, sender, sender tier, recipient
  tier, envelope verdict, attachment summary) — under ``*`` and under each distinct
  recipient tier, as the signature counters do. A document whose attachments were not
  examined, or which has no PDF, counts under the summary ``none``.

Reading: :func:`attachment_verdicts_of` (one document), :func:`attachment_counts` (a
slice, whole months from the roll-up and the partial edges from the days).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from axis.jsontext import dumps_sorted
from axis.pades import AttachmentVerdict, attachment_summary
from axis.store import schema as t
from axis.store.models import NewPacket, counter_day
from axis.store.sigcounts import ALL_RECIPIENTS, month_split
from axis.store.syncconn import insert_rows
from axis.store.upserts import add_counts_upsert

if TYPE_CHECKING:
    from axis.store.store import Store

__all__ = [
    "AttachmentCount",
    "attachment_counts",
    "attachment_verdicts_of",
    "record_attachments",
]

_Key = tuple[date, str, str, str, str, str]
_NAMES = ("agency_code", "sender_tier", "recipient_tier", "envelope", "attachments")


async def record_attachments(
    conn: AsyncConnection,
    insert: Callable[[sa.Table], Any],
    packets: Sequence[tuple[NewPacket, Sequence[str]]],
) -> None:
    """Store the attachment verdicts of these packets and count their documents (in the
    caller's transaction). ``packets`` pairs each packet with its recipient tiers."""
    rows: list[dict[str, Any]] = []
    inc: Counter[_Key] = Counter()
    for p, tiers in packets:
        if p.kind != "document":
            continue
        verdicts: Sequence[AttachmentVerdict] = p.attachment_verdicts or ()
        rows.extend(
            {
                "document_id": p.document_id,
                "seq": i,
                "content_id": v.content_id,
                "name": v.name,
                "verdict": v.verdict,
                "signatures": v.signatures,
                "signer_subject": v.signer_subject,
                "signer_sha256": v.signer_sha256,
                "issuer": v.issuer,
                "reasons": dumps_sorted(list(v.reasons)),
                "sha256": v.sha256,
                "size": v.size,
            }
            for i, v in enumerate(verdicts)
        )
        day = counter_day(p.received_at)
        summary = attachment_summary(verdicts)
        for rt in (ALL_RECIPIENTS, *tiers):
            inc[(day, p.sender_code, p.sender_tier or "", rt, p.verdict, summary)] += 1
    if rows:
        await insert_rows(conn, t.attachment_verdicts, rows)
    if not inc:
        return
    monthly: Counter[_Key] = Counter()
    for k, n in inc.items():
        monthly[(k[0].replace(day=1), *k[1:])] += n
    for table, first, counts in (
        (t.attachment_counters, "day", inc),
        (t.attachment_counters_month, "month", monthly),
    ):
        values = [
            dict(zip((first, *_NAMES), k, strict=True)) | {"count": n}
            for k, n in sorted(counts.items())
        ]
        stmt = add_counts_upsert(conn.dialect.name, insert, table, (first, *_NAMES))
        await conn.execute(stmt, values)


async def attachment_verdicts_of(store: Store, document_id: str) -> list[AttachmentVerdict]:
    """The verdicts recorded for one document's PDF attachments, in order."""
    a = t.attachment_verdicts.c
    async with store._read() as conn:
        rows = (
            await conn.execute(
                sa.select(
                    a.content_id,
                    a.name,
                    a.verdict,
                    a.signatures,
                    a.signer_subject,
                    a.signer_sha256,
                    a.issuer,
                    a.reasons,
                    a.sha256,
                    a.size,
                )
                .where(a.document_id == document_id)
                .order_by(a.seq)
            )
        ).all()
    return [
        AttachmentVerdict(
            content_id=r[0],
            name=r[1],
            verdict=r[2],
            signatures=r[3],
            signer_subject=r[4],
            signer_sha256=r[5],
            issuer=r[6],
            reasons=tuple(json.loads(r[7] or "[]")),
            sha256=r[8],
            size=int(r[9]),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class AttachmentCount:
    """Documents of a (pre-aggregated) group: ``period`` ``YYYY-MM`` (or a day)."""

    period: str
    agency_code: str
    sender_tier: str
    envelope: str
    attachments: str
    count: int


async def attachment_counts(
    store: Store,
    *,
    day_from: date | None = None,
    day_to: date | None = None,
    agencies: Sequence[str] | None = None,
    sender_tiers: Sequence[str] | None = None,
    recipient_tier: str = ALL_RECIPIENTS,
    keep_agency: bool = True,
) -> list[AttachmentCount]:
    """Documents of a slice per (month, agency, sender tier, envelope verdict,
    attachment summary), aggregated in the database (whole months from the roll-up)."""
    days, months = month_split(day_from, day_to)
    ranges: list[tuple[sa.Table, str, date | None, date | None]] = [
        (t.attachment_counters, "day", a, b) for a, b in days
    ]
    if months is not None:
        ranges.append((t.attachment_counters_month, "month", *months))
    out: list[AttachmentCount] = []
    async with store._read() as conn:
        for table, col, lo, hi in ranges:
            c = table.c
            bound = c[col]
            period: sa.ColumnElement[Any] = bound
            if col == "day":
                period = (
                    sa.func.to_char(bound, "YYYY-MM")
                    if conn.dialect.name == "postgresql"
                    else sa.func.strftime("%Y-%m", bound)
                )
            group: list[sa.ColumnElement[Any]] = [period, c.sender_tier, c.envelope, c.attachments]
            if keep_agency:
                group.append(c.agency_code)
            q = sa.select(*group, sa.func.sum(c.count)).where(c.recipient_tier == recipient_tier)
            if lo is not None:
                q = q.where(bound >= lo)
            if hi is not None:
                q = q.where(bound <= hi)
            if agencies is not None:
                from axis.store.store import _codes_clause  # noqa: PLC0415 - store imports us

                q = q.where(_codes_clause(c.agency_code, agencies))
            if sender_tiers is not None:
                q = q.where(c.sender_tier.in_(list(sender_tiers)))
            for r in (await conn.execute(q.group_by(*group))).all():
                p = r[0] if isinstance(r[0], str) else r[0].isoformat()
                out.append(
                    AttachmentCount(
                        period=p[:7],
                        agency_code=r[4] if keep_agency else "",
                        sender_tier=r[1],
                        envelope=r[2],
                        attachments=r[3],
                        count=int(r[-1]),
                    )
                )
    return out
