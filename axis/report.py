"""Report arithmetic: pure functions over counter rows. No I/O.

The store keeps counters per (day, agency, tier, direction, verdict, scope), updated in
the same transaction as the events they count. Everything an auditor reads — "sent X,
received Y, Z % validly signed" — is computed here from those rows, so the API, the CLI
and the demo give the same figures for the same slice.

Directions:
    ``sent``          one per accepted packet, against the sender
    ``received``      one per local recipient of an accepted packet (delivered to its inbox)
    ``acknowledged``  one per first acknowledgement of a delivery by the recipient
    ``refused``       one per refused packet, against the claimed sender when known
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

DIRECTIONS: tuple[str, ...] = ("sent", "received", "acknowledged", "refused")
VERDICTS: tuple[str, ...] = (
    "valid",
    "invalid",
    "untrusted",
    "expired",
    "not-yet-valid",
    "revoked",
    "weak-algorithm",
    "legacy-unverifiable",
    "unsigned",
    "none",  # refused before a verdict existed (malformed XML, bad schema)
)
GroupBy = Literal["agency", "tier", "day", "month", "all"]
Scope = Literal["internal", "national", "all"]


class CounterLike(Protocol):
    """What a counter row must offer (``axis.store`` rows satisfy it)."""

    @property
    def day(self) -> date: ...
    @property
    def agency_code(self) -> str | None: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def direction(self) -> str: ...
    @property
    def verdict(self) -> str | None: ...
    @property
    def scope(self) -> str: ...
    @property
    def count(self) -> int: ...


@dataclass(frozen=True)
class Slice:
    """Which counter rows a report covers. ``None`` means no restriction."""

    day_from: date | None = None
    day_to: date | None = None
    agencies: frozenset[str] | None = None
    tiers: frozenset[str] | None = None
    scope: Scope = "all"

    def admits(self, row: CounterLike) -> bool:
        if self.day_from is not None and row.day < self.day_from:
            return False
        if self.day_to is not None and row.day > self.day_to:
            return False
        if self.agencies is not None and row.agency_code not in self.agencies:
            return False
        if self.tiers is not None and row.tier not in self.tiers:
            return False
        return self.scope in ("all", row.scope)


@dataclass
class ExchangeLine:
    """One line of an exchange report: a group's totals and its sent packets by verdict."""

    key: str
    sent: int = 0
    received: int = 0
    acknowledged: int = 0
    refused: int = 0
    sent_by_verdict: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Packets through the axis for this group: sent plus received."""
        return self.sent + self.received

    @property
    def validly_signed(self) -> int:
        return self.sent_by_verdict.get("valid", 0)

    @property
    def signed_share(self) -> float | None:
        """Share of sent packets that were validly signed; ``None`` when nothing was sent."""
        return self.validly_signed / self.sent if self.sent else None

    def add(self, direction: str, verdict: str, count: int) -> None:
        if direction == "sent":
            self.sent += count
            self.sent_by_verdict[verdict] = self.sent_by_verdict.get(verdict, 0) + count
        elif direction == "received":
            self.received += count
        elif direction == "acknowledged":
            self.acknowledged += count
        elif direction == "refused":
            self.refused += count
        else:
            raise ValueError(f"unknown counter direction {direction!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExchangeLine:
        """The inverse of :meth:`as_dict` (what the API answers)."""
        return cls(
            key=str(data["key"]),
            sent=int(data["sent"]),
            received=int(data["received"]),
            acknowledged=int(data["acknowledged"]),
            refused=int(data["refused"]),
            sent_by_verdict={str(k): int(v) for k, v in data.get("sent_by_verdict", {}).items()},
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "sent": self.sent,
            "received": self.received,
            "acknowledged": self.acknowledged,
            "refused": self.refused,
            "total": self.total,
            "validly_signed": self.validly_signed,
            "signed_share": self.signed_share,
            "sent_by_verdict": dict(sorted(self.sent_by_verdict.items())),
        }


UNKNOWN = "(unknown)"  # refusals of packets whose sender could not be read


def _key_fn(by: GroupBy) -> Callable[[CounterLike], str]:
    if by == "agency":
        return lambda r: r.agency_code or UNKNOWN
    if by == "tier":
        return lambda r: r.tier or UNKNOWN
    if by == "day":
        return lambda r: r.day.isoformat()
    if by == "month":
        return lambda r: r.day.strftime("%Y-%m")
    return lambda r: "all"


def exchange_report(
    rows: Iterable[CounterLike], *, by: GroupBy = "agency", where: Slice | None = None
) -> list[ExchangeLine]:
    """Group counter rows and add them up. Lines come sorted by key."""
    key_of = _key_fn(by)
    lines: dict[str, ExchangeLine] = {}
    for row in rows:
        if where is not None and not where.admits(row):
            continue
        key = key_of(row)
        line = lines.get(key)
        if line is None:
            line = lines[key] = ExchangeLine(key)
        line.add(row.direction, row.verdict or "none", row.count)
    return [lines[k] for k in sorted(lines)]


def grand_total(lines: Iterable[ExchangeLine], key: str = "all") -> ExchangeLine:
    """The sum of report lines (equals ``exchange_report(rows, by="all")``)."""
    out = ExchangeLine(key)
    for line in lines:
        out.sent += line.sent
        out.received += line.received
        out.acknowledged += line.acknowledged
        out.refused += line.refused
        for verdict, n in line.sent_by_verdict.items():
            out.sent_by_verdict[verdict] = out.sent_by_verdict.get(verdict, 0) + n
    return out


def format_share(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.1f} %"


def render_table(lines: Iterable[ExchangeLine], *, names: Mapping[str, str] | None = None) -> str:
    """A plain-text table for terminals (the CLI and the demo print it)."""
    header = ("", "sent", "received", "acked", "refused", "valid-signed", "share")
    body = []
    all_lines = list(lines)
    for line in [*all_lines, grand_total(all_lines, "TOTAL")]:
        label = line.key if names is None else f"{line.key} {names.get(line.key, '')}".strip()
        body.append(
            (
                label,
                str(line.sent),
                str(line.received),
                str(line.acknowledged),
                str(line.refused),
                str(line.validly_signed),
                format_share(line.signed_share),
            )
        )
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    out = []
    for i, r in enumerate([header, *body]):
        cells = [r[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)
        ]
        out.append("  ".join(cells))
        if i == 0 or i == len(body) - 1:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# --- today's structure after a reorganization ------------------------------------------


@dataclass(frozen=True)
class MappedRow:
    """A counter row whose agency is given in today's structure (see
    :func:`by_current_structure`); satisfies :class:`CounterLike`."""

    day: date
    agency_code: str | None
    tier: str | None
    direction: str
    verdict: str | None
    scope: str
    count: int


def current_code(
    code: str, successor_of: Callable[[str], str | None], *, max_hops: int = 16
) -> str:
    """Follow ``successor_of`` from ``code`` to a code that has none (today's agency).

    A cycle or a chain longer than ``max_hops`` stops at the last code before it repeats
    (the directory refuses cycles; a report must not hang on a bad one).
    """
    seen = {code}
    current = code
    for _ in range(max_hops):
        nxt = successor_of(current)
        if nxt is None or nxt in seen:
            break
        seen.add(nxt)
        current = nxt
    return current


def by_current_structure(
    rows: Iterable[CounterLike],
    successor_of: Callable[[str], str | None],
    *,
    tier_of: Callable[[str], str | None] | None = None,
) -> list[MappedRow]:
    """The same counts with each agency replaced by the agency that carries it on today
    (its successor's successor...). Rows that land on the same key are added up, so the
    totals of every direction and verdict are unchanged; only the agency (and, with
    ``tier_of``, the tier: today's agency's) differ. Reports by the codes of the time
    use the rows as they are. Sorted like the store's ``counter_rows``.
    """
    merged: dict[tuple[date, str | None, str | None, str, str | None, str], int] = {}
    for row in rows:
        code = row.agency_code
        tier = row.tier
        if code is not None:
            today = current_code(code, successor_of)
            if today != code:
                code = today
                if tier_of is not None:
                    tier = tier_of(today) or tier
        key = (row.day, code, tier, row.direction, row.verdict, row.scope)
        merged[key] = merged.get(key, 0) + row.count
    out = [MappedRow(k[0], k[1], k[2], k[3], k[4], k[5], n) for k, n in merged.items()]
    out.sort(
        key=lambda r: (
            r.day,
            r.agency_code or "",
            r.tier or "",
            r.direction,
            r.verdict or "",
            r.scope,
        )
    )
    return out
