"""Report arithmetic: totals equal the sum of parts, whatever the grouping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from axis.report import DIRECTIONS, Slice, exchange_report, grand_total, render_table


@dataclass(frozen=True)
class Row:
    day: date
    agency_code: str
    tier: str
    direction: str
    verdict: str
    scope: str
    count: int


rows_st = st.lists(
    st.builds(
        Row,
        day=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
        agency_code=st.sampled_from(["000.00.00.H36", "000.01.00.H36", "000.00.31.H36", "G22"]),
        tier=st.sampled_from(["central", "province", "district", "commune"]),
        direction=st.sampled_from(DIRECTIONS),
        verdict=st.sampled_from(["valid", "invalid", "unsigned", "legacy-unverifiable"]),
        scope=st.sampled_from(["internal", "national"]),
        count=st.integers(min_value=0, max_value=10_000),
    ),
    max_size=60,
)


def totals(line: object) -> tuple[int, int, int, int, int]:
    return (line.sent, line.received, line.acknowledged, line.refused, line.validly_signed)  # type: ignore[attr-defined]


@given(rows_st, st.sampled_from(["agency", "tier", "day", "month"]))
def test_sum_of_groups_equals_the_whole(rows: list[Row], by: str) -> None:
    whole = exchange_report(rows, by="all")
    parts = exchange_report(rows, by=by)  # type: ignore[arg-type]
    expected = totals(whole[0]) if whole else (0, 0, 0, 0, 0)
    assert totals(grand_total(parts)) == expected


@given(rows_st)
def test_each_direction_is_the_plain_sum_of_its_rows(rows: list[Row]) -> None:
    line = grand_total(exchange_report(rows, by="agency"))
    for direction, value in [
        ("sent", line.sent),
        ("received", line.received),
        ("acknowledged", line.acknowledged),
        ("refused", line.refused),
    ]:
        assert value == sum(r.count for r in rows if r.direction == direction)
    assert sum(line.sent_by_verdict.values()) == line.sent
    assert line.total == line.sent + line.received


@given(rows_st, st.sampled_from(["internal", "national"]))
def test_scopes_partition_the_whole(rows: list[Row], scope: str) -> None:
    other = "national" if scope == "internal" else "internal"
    a = grand_total(exchange_report(rows, where=Slice(scope=scope)))  # type: ignore[arg-type]
    b = grand_total(exchange_report(rows, where=Slice(scope=other)))  # type: ignore[arg-type]
    whole = grand_total(exchange_report(rows))
    assert tuple(x + y for x, y in zip(totals(a), totals(b), strict=True)) == totals(whole)


def test_signed_share_and_table() -> None:
    d = date(2026, 11, 27)
    rows = [
        Row(d, "000.00.00.H36", "province", "sent", "valid", "national", 1233),
        Row(d, "000.00.00.H36", "province", "sent", "unsigned", "national", 450),
        Row(d, "000.00.00.G22", "central", "received", "valid", "national", 1683),
    ]
    (h36,) = [x for x in exchange_report(rows) if x.key == "000.00.00.H36"]
    assert h36.sent == 1683
    assert h36.signed_share is not None and round(h36.signed_share * 100) == 73
    table = render_table(exchange_report(rows))
    assert "73.3 %" in table and "TOTAL" in table
    assert exchange_report([], by="agency") == []
