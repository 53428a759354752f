"""Where a document's signature is: in the envelope (the edXML packet's XMLDSig), in an
attachment (a PAdES-signed PDF), in both, or in neither. Pure arithmetic over the
attachment counters (:mod:`axis.store.attachments`); no I/O.

"Signed" means VALIDLY signed: the envelope's verdict is ``valid``, and at least one PDF
attachment's verdict is ``valid`` (the counters' attachment summary, see
:func:`axis.pades.attachment_summary`). Each document falls in exactly one carrier, so
the four add up to the documents of the slice (property-tested).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

__all__ = ["CARRIERS", "CarrierLine", "CarrierReport", "carrier_of", "carrier_report"]

#: report order
CARRIERS: Final = ("both", "envelope_only", "attachment_only", "neither")
CarrierBy = Literal["agency", "tier", "month", "all"]


class CarrierRow(Protocol):
    @property
    def period(self) -> str: ...
    @property
    def agency_code(self) -> str: ...
    @property
    def sender_tier(self) -> str: ...
    @property
    def envelope(self) -> str: ...
    @property
    def attachments(self) -> str: ...
    @property
    def count(self) -> int: ...


def carrier_of(envelope: str, attachments: str) -> str:
    """The carrier of one document from its envelope verdict and attachment summary."""
    in_envelope = envelope == "valid"
    in_attachment = attachments == "valid"
    if in_envelope and in_attachment:
        return "both"
    if in_envelope:
        return "envelope_only"
    if in_attachment:
        return "attachment_only"
    return "neither"


@dataclass
class CarrierLine:
    """One group: documents per carrier, and per attachment summary."""

    key: str
    by_carrier: dict[str, int] = field(default_factory=dict)
    by_attachments: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_carrier.values())

    def add(self, envelope: str, attachments: str, n: int) -> None:
        c = carrier_of(envelope, attachments)
        self.by_carrier[c] = self.by_carrier.get(c, 0) + n
        self.by_attachments[attachments] = self.by_attachments.get(attachments, 0) + n

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "total": self.total,
            **{c: self.by_carrier.get(c, 0) for c in CARRIERS},
            "signed_anywhere": self.total - self.by_carrier.get("neither", 0),
            "by_attachments": dict(sorted(self.by_attachments.items())),
        }


@dataclass
class CarrierReport:
    lines: list[CarrierLine]
    total: CarrierLine
    trend: list[CarrierLine]

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": [line.as_dict() for line in self.lines],
            "total": self.total.as_dict(),
            "trend": [line.as_dict() for line in self.trend],
        }


def _key_fn(by: CarrierBy) -> Callable[[CarrierRow], str]:
    if by == "agency":
        return lambda r: r.agency_code or "(unknown)"
    if by == "tier":
        return lambda r: r.sender_tier or "(unknown)"
    if by == "month":
        return lambda r: r.period[:7]
    return lambda r: "all"


def carrier_report(rows: Iterable[CarrierRow], *, by: CarrierBy = "agency") -> CarrierReport:
    """Add the rows up by group, in total and by month."""
    key_of = _key_fn(by)
    lines: dict[str, CarrierLine] = {}
    trend: dict[str, CarrierLine] = {}
    total = CarrierLine("all")
    for r in rows:
        if r.count == 0:
            continue
        for bucket, key in ((lines, key_of(r)), (trend, r.period[:7])):
            line = bucket.get(key)
            if line is None:
                line = bucket[key] = CarrierLine(key)
            line.add(r.envelope, r.attachments, r.count)
        total.add(r.envelope, r.attachments, r.count)
    return CarrierReport(
        lines=[lines[k] for k in sorted(lines)],
        total=total,
        trend=[trend[k] for k in sorted(trend)],
    )
