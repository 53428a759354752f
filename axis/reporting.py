"""The report engine: one place that reads the counters and applies the arithmetic,
behind every face (the native API, ``axis report``, the dashboard).

- :func:`exchange` — sent, received, acknowledged, refused per agency, tier, day, month,
  all, or as a tree following the directory; internal versus national sends; by the
  codes of the time or by today's structure (closed codes under their successors).
- :func:`signatures` — packets per signature verdict for a slice (period, senders,
  sender tier, RECIPIENT tier), share validly signed, certificates and issuing CAs
  used, trend by month; for documents, how many were signed in the envelope, in a PDF
  attachment, in both or in neither (:mod:`axis.sigcarriers`).

The arithmetic is :mod:`axis.report`, :mod:`axis.reporttree` and :mod:`axis.sigreport`
(pure); this module only fetches and shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from axis.directory import Agency
from axis.report import (
    CounterLike,
    ExchangeLine,
    GroupBy,
    Scope,
    Slice,
    by_current_structure,
    exchange_report,
    grand_total,
)
from axis.reporttree import TreeNode, exchange_tree
from axis.sigcarriers import carrier_report
from axis.sigreport import SigBy, SignatureReport, signature_report
from axis.store import Store
from axis.store.attachments import attachment_counts
from axis.store.sigcounts import ALL_RECIPIENTS, signature_counts, signer_infos
from axis_errors import InputError

__all__ = [
    "EXCHANGE_BY",
    "SIGNATURE_BY",
    "ExchangeQuery",
    "ExchangeResult",
    "SignatureQuery",
    "exchange",
    "signatures",
    "signatures_dict",
]

ExchangeBy = Literal["agency", "tier", "day", "month", "all", "tree"]
EXCHANGE_BY: tuple[str, ...] = ("agency", "tier", "day", "month", "all", "tree")
SIGNATURE_BY: tuple[str, ...] = ("agency", "tier", "month", "all")
RECIPIENT_TIERS: tuple[str, ...] = (ALL_RECIPIENTS, "central", "province", "district", "commune")


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InputError(
            f"{name} must be one of {', '.join(allowed)}, not {value!r}.",
            code="input.bad-param",
            details={"param": name},
        )


@dataclass(frozen=True)
class ExchangeQuery:
    day_from: date | None = None
    day_to: date | None = None
    by: ExchangeBy = "agency"
    scope: Scope = "all"
    structure: Literal["time", "current"] = "time"

    def __post_init__(self) -> None:
        _check("by", self.by, EXCHANGE_BY)
        _check("scope", self.scope, ("internal", "national", "all"))
        _check("structure", self.structure, ("time", "current"))


@dataclass
class ExchangeResult:
    query: ExchangeQuery
    lines: list[ExchangeLine]
    total: ExchangeLine
    #: key -> (sent internal, sent national)
    split: dict[str, tuple[int, int]]
    agencies: dict[str, Agency]
    tree: list[TreeNode] | None = None

    def line_dict(self, line: ExchangeLine) -> dict[str, Any]:
        internal, national = self.split.get(line.key, (0, 0))
        agency = self.agencies.get(line.key) if self.query.by == "agency" else None
        return line.as_dict() | {
            "name": agency.name if agency else None,
            "tier": agency.tier if agency else None,
            "sent_internal": internal,
            "sent_national": national,
        }

    def as_dict(self) -> dict[str, Any]:
        q = self.query
        internal = sum(i for i, _ in self.split.values())
        national = sum(n for _, n in self.split.values())
        out: dict[str, Any] = {
            "by": q.by,
            "scope": q.scope,
            "structure": q.structure,
            "from": q.day_from.isoformat() if q.day_from else None,
            "to": q.day_to.isoformat() if q.day_to else None,
            "lines": [self.line_dict(line) for line in self.lines],
            "total": self.total.as_dict()
            | {"name": None, "tier": None, "sent_internal": internal, "sent_national": national},
        }
        if self.tree is not None:
            out["tree"] = [n.as_dict() for n in self.tree]
        return out


async def exchange(store: Store, q: ExchangeQuery) -> ExchangeResult:
    """The exchange report of a slice (see the module docstring)."""
    rows: Sequence[CounterLike] = await store.counter_rows(q.day_from, q.day_to)
    agencies = {a.code: a for a in await store.list_agencies()}
    if q.structure == "current":
        successors = {c: a.successor for c, a in agencies.items() if a.status == "closed"}
        tiers: dict[str, str] = {c: a.tier for c, a in agencies.items()}
        rows = by_current_structure(rows, successors.get, tier_of=tiers.get)
    group: GroupBy = "agency" if q.by == "tree" else q.by
    where = Slice(day_from=q.day_from, day_to=q.day_to, scope=q.scope)
    lines = exchange_report(rows, by=group, where=where)
    split: dict[str, tuple[int, int]] = {}
    for scope in ("internal", "national"):
        if q.scope not in ("all", scope):
            continue
        part = exchange_report(
            rows, by=group, where=Slice(day_from=q.day_from, day_to=q.day_to, scope=scope)
        )
        for line in part:
            i, n = split.get(line.key, (0, 0))
            split[line.key] = (i + line.sent, n) if scope == "internal" else (i, n + line.sent)
    tree = None
    if q.by == "tree":
        tree = exchange_tree({line.key: line for line in lines}, list(agencies.values()))
    return ExchangeResult(q, lines, grand_total(lines), split, agencies, tree)


@dataclass(frozen=True)
class SignatureQuery:
    day_from: date | None = None
    day_to: date | None = None
    by: SigBy = "agency"
    recipient_tier: str = ALL_RECIPIENTS
    sender_tiers: tuple[str, ...] | None = None
    agencies: tuple[str, ...] | None = None
    kind: Literal["document", "status", "all"] = "document"

    def __post_init__(self) -> None:
        _check("by", self.by, SIGNATURE_BY)
        _check("recipient_tier", self.recipient_tier, RECIPIENT_TIERS)
        _check("kind", self.kind, ("document", "status", "all"))
        for tier in self.sender_tiers or ():
            _check("sender_tier", tier, RECIPIENT_TIERS[1:])


async def signatures(store: Store, q: SignatureQuery) -> SignatureReport:
    """The signature report of a slice, from the signature counters."""
    rows = await signature_counts(
        store,
        day_from=q.day_from,
        day_to=q.day_to,
        agencies=q.agencies,
        sender_tiers=q.sender_tiers,
        recipient_tier=q.recipient_tier,
        kind=None if q.kind == "all" else q.kind,
        keep_agency=q.by == "agency",
    )
    infos = await signer_infos(store, [r.signer_sha256 for r in rows])
    report = signature_report(
        rows, by=q.by, signer_info={k: (v.subject, v.issuer) for k, v in infos.items()}
    )
    if q.kind == "document":  # where documents are signed: envelope, PDF attachment, both
        report.carriers = carrier_report(
            await attachment_counts(
                store,
                day_from=q.day_from,
                day_to=q.day_to,
                agencies=q.agencies,
                sender_tiers=q.sender_tiers,
                recipient_tier=q.recipient_tier,
                keep_agency=q.by == "agency",
            ),
            by=q.by,
        )
    return report


def signatures_dict(q: SignatureQuery, report: SignatureReport) -> dict[str, Any]:
    """The JSON shape of a signature report (API, CLI ``--format json``)."""
    return {
        "from": q.day_from.isoformat() if q.day_from else None,
        "to": q.day_to.isoformat() if q.day_to else None,
        "recipient_tier": q.recipient_tier,
        "sender_tiers": list(q.sender_tiers) if q.sender_tiers else None,
        "agencies": list(q.agencies) if q.agencies else None,
        "kind": q.kind,
    } | report.as_dict()
