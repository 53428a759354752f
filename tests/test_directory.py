"""The directory's pure rules: successor resolution, route matching, import parsing."""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from axis.directory import (
    Agency,
    RouteRule,
    code_matches,
    match_route,
    parse_agencies,
    parse_agencies_csv,
    parse_agencies_json,
    resolve_recipient,
    validate_pattern,
)
from axis_errors import ConfigError, InputError, PacketError

group = st.text("0123456789", min_size=2, max_size=3)
level1 = st.builds(lambda c, n: f"{c}{n:02d}", st.sampled_from("GHKA"), st.integers(1, 99))
codes = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", group, group, group, level1)


# --- successor resolution -------------------------------------------------------------


def test_active_agency_resolves_to_itself() -> None:
    a = Agency("000.00.00.H36", "UBND", "province")
    directory: dict[str, Agency] = {a.code: a}
    r = resolve_recipient(" 000.00.00.h36 ", directory.get)
    assert r is not None
    assert r.addressed == "000.00.00.H36" and r.target == a and r.via_successor == ()


def test_unknown_code_is_none() -> None:
    empty: dict[str, Agency] = {}
    assert resolve_recipient("000.00.00.H99", empty.get) is None


@given(st.lists(codes, min_size=2, max_size=12, unique=True))
def test_chain_of_closed_codes_reaches_the_last(chain: list[str]) -> None:
    """c0 -> c1 -> ... -> cn (active): every code resolves to cn, naming the hops."""
    directory = {
        code: Agency(code, code, "district", status="closed", successor=chain[i + 1])
        for i, code in enumerate(chain[:-1])
    }
    directory[chain[-1]] = Agency(chain[-1], "last", "province")
    for i, code in enumerate(chain):
        r = resolve_recipient(code, directory.get, max_hops=len(chain))
        assert r is not None
        assert r.target.code == chain[-1]
        assert r.via_successor == tuple(chain[i:-1])
        assert r.target.active


@given(st.lists(codes, min_size=1, max_size=8, unique=True), st.data())
def test_cycles_are_refused(cycle: list[str], data: st.DataObject) -> None:
    directory = {
        code: Agency(code, code, "district", status="closed", successor=cycle[(i + 1) % len(cycle)])
        for i, code in enumerate(cycle)
    }
    start = data.draw(st.sampled_from(cycle))
    with pytest.raises(PacketError) as info:
        resolve_recipient(start, directory.get, max_hops=20)
    assert info.value.code == "directory.successor-cycle"


def test_chain_too_long_closed_without_successor_and_missing_successor() -> None:
    chain = [f"000.00.{i:02d}.H36" for i in range(12)]
    directory = {
        c: Agency(c, c, "district", status="closed", successor=chain[i + 1])
        for i, c in enumerate(chain[:-1])
    }
    directory[chain[-1]] = Agency(chain[-1], "x", "province")
    with pytest.raises(PacketError) as deep:
        resolve_recipient(chain[0], directory.get, max_hops=8)
    assert deep.value.code == "directory.successor-too-deep"

    dead = {"000.00.01.H36": Agency("000.00.01.H36", "x", "district", status="closed")}
    with pytest.raises(PacketError) as no_succ:
        resolve_recipient("000.00.01.H36", dead.get)
    assert no_succ.value.code == "directory.closed-no-successor"

    orphan = {
        "000.00.01.H36": Agency(
            "000.00.01.H36", "x", "district", status="closed", successor="000.00.02.H36"
        )
    }
    with pytest.raises(PacketError) as missing:
        resolve_recipient("000.00.01.H36", orphan.get)
    assert missing.value.code == "directory.successor-unknown"


# --- patterns and routes --------------------------------------------------------------


@given(codes)
def test_star_matches_everything_and_exact_matches_itself(code: str) -> None:
    assert code_matches("*", code)
    assert code_matches(code, code)
    assert code_matches(code.lower(), code)
    assert code_matches("*." + code.rsplit(".", 1)[1], code)


@given(codes, codes)
def test_province_pattern(a: str, b: str) -> None:
    province = a.rsplit(".", 1)[1]
    assert code_matches(f"*.{province}", b) == b.endswith("." + province)


@given(codes, st.text("0123456789.ABCGHK*?", min_size=1, max_size=12))
def test_glob_agrees_with_a_regex_oracle(code: str, pattern: str) -> None:
    oracle = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    assert code_matches(pattern, code) == (re.fullmatch(oracle, code, re.DOTALL) is not None)


@given(
    codes,
    st.lists(
        st.builds(
            RouteRule,
            st.sampled_from(["*.H36", "*.G*", "000.00.00.*", "*", "?00.*"]),
            st.sampled_from(["local", "national"]),
        ),
        max_size=5,
    ),
)
def test_first_matching_route_wins(code: str, routes: list[RouteRule]) -> None:
    result = match_route(code, routes)
    matching = [r for r in routes if code_matches(r.match, code)]
    assert result == (matching[0].via if matching else None)


def test_typical_province_routes() -> None:
    routes = [RouteRule("*.H36", "local"), RouteRule("*", "national")]
    assert match_route("000.31.31.H36", routes) == "local"
    assert match_route("000.00.00.G22", routes) == "national"
    assert match_route("000.00.00.H37", routes) == "national"
    with pytest.raises(ConfigError):
        RouteRule("*", "elsewhere")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "[AB]*", "000%", "a b", "x" * 36])
def test_bad_patterns(bad: str) -> None:
    with pytest.raises(InputError):
        validate_pattern(bad)


# --- import files ---------------------------------------------------------------------

CSV = """\ufeffcode,name,tier,parent,status,successor,delivery
000.00.00.H36,"UBND tỉnh Lâm Đồng, khóa mới",province,,,,
000.01.00.h36,Sở Nội vụ,PROVINCE,000.00.00.H36,,,

000.00.32.H36,UBND huyện B,district,000.00.00.H36,closed,000.00.00.H36,
"""


def test_csv_import() -> None:
    agencies = parse_agencies_csv(CSV)
    assert [a.code for a in agencies] == ["000.00.00.H36", "000.01.00.H36", "000.00.32.H36"]
    assert agencies[0].name == "UBND tỉnh Lâm Đồng, khóa mới"
    assert agencies[0].parent is None and agencies[0].status == "active"
    assert agencies[1].tier == "province" and agencies[1].parent == "000.00.00.H36"
    assert agencies[2].status == "closed" and agencies[2].successor == "000.00.00.H36"
    assert parse_agencies(CSV, filename="x.csv") == agencies


def test_minimal_csv_header() -> None:
    (a,) = parse_agencies_csv("code,name,tier,parent\n000.00.00.G22,Văn phòng Chính phủ,central,\n")
    assert a == Agency("000.00.00.G22", "Văn phòng Chính phủ", "central")


@pytest.mark.parametrize(
    ("text", "line", "code"),
    [
        ("code,name\n", "line 1", "directory.bad-header"),
        ("code,name,tier\n000.00.00.H36,A,county\n", "line 2", "directory.bad-row"),
        ("code,name,tier\n\n000.00.00.H36,A\n", "line 3", "directory.bad-row"),
        ("code,name,tier\n000.00.00.H36,A,province\nbad code,B,province\n", "line 3", None),
        ("code,name,tier\n000.00.00.H36,,province\n", "line 2", None),
        ("code,name,tier,colour\n000.00.00.H36,A,province,red\n", "line 2", None),
        ("code,name,tier,delivery\n000.00.00.H36,A,province,push\n", "line 2", None),
        (
            "code,name,tier\n000.00.00.H36,A,province\n000.00.00.h36,B,province\n",
            "line 3",
            "directory.duplicate-code",
        ),
        ("", "", "directory.bad-header"),
    ],
)
def test_csv_errors_name_the_line(text: str, line: str, code: str | None) -> None:
    with pytest.raises(InputError) as info:
        parse_agencies_csv(text)
    assert line in info.value.message
    if code is not None:
        assert info.value.code == code


def test_json_import_and_errors() -> None:
    text = json.dumps(
        [
            {"code": "000.00.00.H36", "name": "UBND", "tier": "province"},
            {
                "code": "000.02.00.H36",
                "name": "Sở B",
                "tier": "province",
                "delivery": "push",
                "push_url": "https://so-b.example/inbox",
            },
        ]
    )
    agencies = parse_agencies_json(text)
    assert agencies[1].delivery_mode == "push" and agencies[1].push_url
    assert parse_agencies(text, filename="dir.json") == agencies
    with pytest.raises(InputError, match="item 1"):
        parse_agencies_json('[{"code":"000.00.00.H36","name":"A","tier":"province"}, 3]')
    with pytest.raises(InputError, match="item 0"):
        parse_agencies_json('[{"code":"000.00.00.H36","name":"A","tier":7}]')
    with pytest.raises(InputError, match="line 2"):
        parse_agencies_json("[\n{]")
    with pytest.raises(InputError):
        parse_agencies_json('{"code": "x"}')


@given(
    st.lists(
        st.builds(
            Agency,
            code=codes,
            name=st.text(
                st.characters(
                    min_codepoint=0x20,
                    max_codepoint=0x1FFF,
                    exclude_categories=("Cc", "Cs"),
                    exclude_characters='"',
                ),
                min_size=1,
                max_size=30,
            )
            .map(str.strip)
            .filter(bool),
            tier=st.sampled_from(["central", "province", "district", "commune"]),
            parent=st.none() | codes,
        ),
        max_size=8,
        unique_by=lambda a: a.code,
    )
)
def test_csv_and_json_round_trip(agencies: list[Agency]) -> None:
    assume(all(a.parent != a.code for a in agencies))
    lines = ["code,name,tier,parent"] + [
        f'{a.code},"{a.name}",{a.tier},{a.parent or ""}' for a in agencies
    ]
    assert parse_agencies_csv("\n".join(lines) + "\n") == agencies
    objects = [
        {"code": a.code, "name": a.name, "tier": a.tier, "parent": a.parent} for a in agencies
    ]
    assert parse_agencies_json(json.dumps(objects, ensure_ascii=False)) == agencies


@given(st.text(max_size=200))
def test_csv_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_agencies_csv(text)
