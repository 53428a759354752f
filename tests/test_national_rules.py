"""The pure rules of the national link: what a peer's failure means, hops, directory sync
and reorganization plans, and counts by today's structure (property tests)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.vxp.national import failure_of
from axis.directory import Agency
from axis.directory_changes import (
    infer_tier,
    parse_reorganization,
    plan_reorganization,
    plan_sync,
)
from axis.hops import MAX_HOPS, Hop, append_hop, hops_to_json, parse_hops
from axis.report import by_current_structure, current_code
from axis_errors import InputError, PeerError

# --- a peer's failure --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "details", "retryable", "outcome_code"),
    [
        ("vxp.timeout", {}, True, "vxp.timeout"),
        ("vxp.unreachable", {}, True, "vxp.unreachable"),
        ("vxp.bad-answer", {}, True, "vxp.bad-answer"),
        ("vxp.http-503", {}, True, "vxp.http-503"),
        ("vxp.http-404", {}, False, "vxp.http-404"),
        ("vxp.http-413", {}, False, "vxp.http-413"),
        ("vxp.http-429", {}, True, "vxp.http-429"),
        (
            "vxp.http-422",
            {"ErrorCode": "signature.invalid", "ErrorDesc": "bad"},
            False,
            "national.signature.invalid",
        ),
        ("vxp.http-422", {"ErrorCode": "schema.invalid"}, False, "national.schema.invalid"),
        ("vxp.http-403", {"ErrorCode": "auth.forged-from"}, False, "national.auth.forged-from"),
        ("vxp.http-401", {"ErrorCode": "vxp.bad-hmac"}, True, "national.vxp.bad-hmac"),
        ("vxp.http-500", {"ErrorCode": "store.unavailable"}, True, "national.store.unavailable"),
        ("vxp.peer-fail", {"ErrorCode": "99", "ErrorDesc": "Lỗi hệ thống"}, True, "national.99"),
        ("vxp.peer-fail", {"ErrorCode": "route.unknown-recipient"}, False, None),
    ],
)
def test_a_peer_failure_is_retryable_or_final_by_its_error_code(
    code: str, details: dict[str, str], retryable: bool, outcome_code: str | None
) -> None:
    failure = failure_of(PeerError("the peer failed", code=code, details=details))
    assert failure.retryable is retryable
    if outcome_code is not None:
        assert failure.code == outcome_code
    if "ErrorDesc" in details:
        assert details["ErrorDesc"] in failure.message


def test_a_peer_error_code_is_sanitized_into_the_outcome_code() -> None:
    failure = failure_of(PeerError("x", code="vxp.peer-fail", details={"ErrorCode": "a b\n<c>"}))
    assert failure.code == "national.abc"


# --- hops --------------------------------------------------------------------------------

codes = st.from_regex(r"[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[GH][0-9]{2}", fullmatch=True)
times = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
hops = st.builds(Hop, codes, times, st.sampled_from([None, "valid", "unsigned", "untrusted"]))


@given(st.lists(hops, max_size=MAX_HOPS))
def test_hops_survive_their_json_text(trace: list[Hop]) -> None:
    text = hops_to_json(trace)
    assert text.isascii()  # it travels in an HTTP header
    assert parse_hops(text) == tuple(trace)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@given(json_values)
def test_a_peers_bad_trace_is_an_input_error_never_a_crash(value: object) -> None:
    try:
        parse_hops(json.dumps(value))
    except InputError as exc:
        assert exc.code == "trace.bad-hops"


def test_a_routing_loop_is_stopped_by_the_hop_limit() -> None:
    hop = Hop("000.00.00.H36", datetime(2026, 1, 1, tzinfo=UTC), "valid")
    full = tuple([hop] * MAX_HOPS)
    with pytest.raises(InputError) as caught:
        append_hop(full, hop)
    assert caught.value.code == "trace.bad-hops"
    with pytest.raises(InputError):
        parse_hops(hops_to_json([*full, hop]))


def test_a_hop_has_the_trace_header_timestamp_of_vietnam() -> None:
    hop = Hop("000.00.00.H36", datetime(2026, 7, 1, 17, 30, 5, tzinfo=UTC))
    assert hop.trace_timestamp == "2026/07/02 00:30:05"


# --- tiers and directory sync ------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "parent_tier", "tier"),
    [
        ("000.00.00.G22", None, "central"),
        ("000.00.12.G12", None, "central"),
        ("000.00.00.H53", None, "province"),
        ("000.00.05.H53", None, "province"),
        ("000.21.32.H53", None, "commune"),
        ("001.01.07.H53", None, "commune"),
        ("000.01.00.H99", "central", "central"),
    ],
)
def test_the_tier_of_a_remote_code(code: str, parent_tier: str | None, tier: str) -> None:
    assert infer_tier(code, parent_tier) == tier  # type: ignore[arg-type]


@dataclass(frozen=True)
class Item:
    id: str
    code: str
    name: str = ""
    pid: str = ""
    old_code: str = ""


TODAY = date(2026, 11, 27)
H36_LOCAL = lambda code: not code.endswith(".H36")  # noqa: E731 - the routes' view


def test_sync_adds_renames_closes_and_never_touches_our_own_codes() -> None:
    local = [
        Agency("000.00.00.H36", "UBND tỉnh Lâm Đồng", "province"),
        Agency("000.00.00.G22", "Văn phòng Chính phủ (cũ)", "central"),
        Agency("000.00.00.H17", "UBND tỉnh Đắk Nông", "province"),
        Agency("000.00.09.H53", "Sở cũ", "province"),
    ]
    remote = [
        Item("1", "000.00.00.G22", "Văn phòng Chính phủ"),
        Item("2", "000.00.00.H53", "UBND tỉnh Tây Ninh"),
        Item("3", "000.00.01.H53", "Sở Nội vụ tỉnh Tây Ninh", pid="2"),
        Item("4", "000.00.00.H36", "UBND tỉnh Lâm Đồng (mới)", old_code="000.00.00.H17"),
        Item("5", "000.00.00.H15", "UBND tỉnh Đắk Lắk", old_code="000.00.00.H99;000.00.00.H15"),
    ]
    changes = plan_sync(local, remote, is_remote=H36_LOCAL, today=TODAY)
    added = {a.code: a for a in changes.added}
    assert set(added) == {"000.00.00.H53", "000.00.01.H53", "000.00.00.H15"}
    assert added["000.00.01.H53"].parent == "000.00.00.H53"
    assert added["000.00.01.H53"].tier == "province"
    assert [(a.code, a.name) for a in changes.updated] == [("000.00.00.G22", "Văn phòng Chính phủ")]
    closed = {a.code: a.successor for a in changes.closed}
    # H17 is replaced by H36 (ours: H36 itself is not touched), H99 by H15 (added closed),
    # the old department vanished from the list: closed without successor
    assert closed == {
        "000.00.00.H17": "000.00.00.H36",
        "000.00.00.H99": "000.00.00.H15",
        "000.00.09.H53": None,
    }
    assert all(c.closed_on == TODAY and c.source == "sync" for c in changes.closures)
    assert "000.00.00.H36" not in {a.code for a in changes.agencies}


def test_sync_of_an_unchanged_list_changes_nothing() -> None:
    local = [Agency("000.00.00.G22", "Văn phòng Chính phủ", "central")]
    changes = plan_sync(
        local, [Item("1", "000.00.00.G22", "Văn phòng Chính phủ")], is_remote=H36_LOCAL, today=TODAY
    )
    assert changes.empty


def test_an_empty_national_list_closes_nothing() -> None:
    with pytest.raises(PeerError) as caught:
        plan_sync(
            [Agency("000.00.00.G22", "VPCP", "central")], [], is_remote=H36_LOCAL, today=TODAY
        )
    assert caught.value.code == "directory.sync-empty"


remote_codes = st.from_regex(r"000\.0[0-3]\.0[0-3]\.[GH]5[0-3]", fullmatch=True)


@given(
    st.lists(remote_codes, unique=True, max_size=8),
    st.lists(st.tuples(remote_codes, st.text(max_size=5), remote_codes), max_size=8),
)
def test_sync_never_deletes_and_closes_only_what_it_must(
    known: list[str], listed: list[tuple[str, str, str]]
) -> None:
    local = [Agency(c, c, "province") for c in known]
    items = [Item(str(i), c, n, old_code=o) for i, (c, n, o) in enumerate(listed)]
    try:
        changes = plan_sync(local, items, is_remote=H36_LOCAL, today=TODAY)
    except PeerError:
        assert not items
        return
    after = {a.code: a for a in local} | {a.code: a for a in changes.agencies}
    assert set(known) <= set(after)  # nothing deleted
    listed_codes = {c for c, _, _ in listed}
    replaced = {o for c, _, o in listed if o and o != c}
    for code, agency in after.items():
        if code in listed_codes and code not in replaced:
            assert agency.status == "active"  # the national axis lists it
        elif code in known and code not in listed_codes:
            assert agency.status == "closed"  # gone or replaced
        if agency.status == "closed" and agency.successor is not None:
            seen = {code}  # no successor chain loops
            nxt: str | None = agency.successor
            while nxt is not None and nxt in after:
                assert nxt not in seen
                seen.add(nxt)
                following = after[nxt]
                nxt = following.successor if following.status == "closed" else None


# --- reorganization ------------------------------------------------------------------------

DIRECTORY = {
    a.code: a
    for a in (
        Agency("000.00.00.H36", "UBND tỉnh Lâm Đồng", "province"),
        Agency("000.31.00.H36", "UBND huyện Đức Trọng", "district", "000.00.00.H36"),
        Agency("000.30.00.H36", "UBND thành phố Đà Lạt", "district", "000.00.00.H36"),
        Agency("000.01.31.H36", "UBND xã Liên Nghĩa", "commune", "000.31.00.H36"),
    )
}
CSV = """old_code,new_code,date,name
000.31.00.H36,000.01.31.H36,2025-07-01,UBND xã Đức Trọng
000.30.00.H36,000.05.30.H36,2025-07-01,UBND phường Xuân Hương - Đà Lạt
000.00.00.H17,000.00.00.H36,2025-07-01,
"""


def test_a_reorganization_closes_old_codes_with_successor_and_date() -> None:
    rows = parse_reorganization(CSV, filename="reorg.csv")
    changes = plan_reorganization(DIRECTORY, rows, today=TODAY)
    closed = {a.code: a.successor for a in changes.closed}
    assert closed == {
        "000.31.00.H36": "000.01.31.H36",
        "000.30.00.H36": "000.05.30.H36",
        "000.00.00.H17": "000.00.00.H36",
    }
    assert {c.code: c.closed_on for c in changes.closures} == dict.fromkeys(
        closed, date(2025, 7, 1)
    )
    added = {a.code: a for a in changes.added}
    assert added["000.05.30.H36"].name == "UBND phường Xuân Hương - Đà Lạt"
    assert [(a.code, a.name) for a in changes.updated] == [("000.01.31.H36", "UBND xã Đức Trọng")]


def test_the_same_file_as_json() -> None:
    data = json.dumps(
        [{"old_code": "000.31.00.H36", "new_code": "000.01.31.H36", "date": "2025-07-01"}]
    )
    rows = parse_reorganization(data, filename="r.json")
    assert [(r.old_code, r.new_code, r.on) for r in rows] == [
        ("000.31.00.H36", "000.01.31.H36", date(2025, 7, 1))
    ]


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        (
            "old_code,new_code,date\n000.31.00.H36,000.01.31.H36," + str(TODAY + timedelta(1)),
            "in the future",
        ),
        ("old_code,new_code,date\n000.31.00.H36,000.09.31.H36,2025-07-01", "give its name"),
        (
            "old_code,new_code,date\n000.31.00.H36,000.30.00.H36,2025-07-01\n"
            "000.30.00.H36,000.31.00.H36,2025-07-01",
            "cycle",
        ),
        ("old_code,new_code,date\n000.31.00.H36,000.31.00.H36,2025-07-01", "same code"),
        ("old_code,new_code,date\n000.31.00.H36,000.01.31.H36,1/7/2025", "YYYY-MM-DD"),
        ("old_code,new_code\n000.31.00.H36,000.01.31.H36", "header"),
    ],
)
def test_a_bad_reorganization_is_refused_whole(text: str, fault: str) -> None:
    with pytest.raises(InputError) as caught:
        plan_reorganization(DIRECTORY, parse_reorganization(text), today=TODAY)
    assert fault in caught.value.message


# --- counts by today's structure --------------------------------------------------------


@dataclass(frozen=True)
class Row:
    day: date
    agency_code: str | None
    tier: str | None
    direction: str
    verdict: str | None
    scope: str
    count: int


agency_codes = st.sampled_from(["A", "B", "C", "D", "E"])
rows = st.lists(
    st.builds(
        Row,
        st.sampled_from([date(2025, 6, 30), date(2025, 7, 1)]),
        st.none() | agency_codes,
        st.sampled_from([None, "district", "commune"]),
        st.sampled_from(["sent", "received", "acknowledged", "refused"]),
        st.sampled_from([None, "valid", "unsigned"]),
        st.sampled_from(["internal", "national"]),
        st.integers(1, 1000),
    ),
    max_size=30,
)
# the directory refuses cycles: a successor is always a later letter here
successors = st.dictionaries(agency_codes, agency_codes, max_size=5).map(
    lambda d: {k: v for k, v in d.items() if v > k}
)


@given(rows, successors)
def test_todays_structure_keeps_every_total(counted: list[Row], successor: dict[str, str]) -> None:
    mapped = by_current_structure(counted, successor.get)

    def totals(rs: list[Row] | list[object]) -> Counter[tuple[object, ...]]:
        out: Counter[tuple[object, ...]] = Counter()
        for r in rs:
            out[(r.day, r.direction, r.verdict, r.scope)] += r.count  # type: ignore[attr-defined]
        return out

    assert totals(mapped) == totals(counted)  # type: ignore[arg-type]
    for r in mapped:  # every agency is today's: a second mapping changes nothing
        assert r.agency_code is None or current_code(r.agency_code, successor.get) == (
            r.agency_code
        )
    assert by_current_structure(mapped, successor.get) == mapped


def test_a_cycle_of_successors_does_not_hang_a_report() -> None:
    assert current_code("A", {"A": "B", "B": "A"}.get) == "B"


def test_todays_structure_adds_a_closed_district_to_its_successor() -> None:
    day = date(2025, 6, 1)
    counted = [
        Row(day, "000.31.00.H36", "district", "sent", "valid", "internal", 3),
        Row(day, "000.01.31.H36", "commune", "sent", "valid", "internal", 2),
    ]
    succ = {"000.31.00.H36": "000.01.31.H36"}
    tiers = {"000.01.31.H36": "commune"}
    (row,) = by_current_structure(counted, succ.get, tier_of=tiers.get)
    assert (row.agency_code, row.tier, row.count) == ("000.01.31.H36", "commune", 5)
