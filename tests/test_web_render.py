"""Pure parts of the dashboard: the SVG day chart, number and age formatting, passwords,
safe redirects and the JSON log formatter."""

from __future__ import annotations

import io
import json
import logging
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from axis.config import LogConfig
from axis.logs import configure_logging
from axis.observe import log_context
from axis.passwords import hash_password, verify_password
from axis.store.dashboard import DayFigures, Overview
from axis.web.auth import safe_next
from axis.web.render import day_chart, fmt_age, fmt_num

DAY0 = date(2026, 10, 29)
counts = st.integers(min_value=0, max_value=10**7)


@settings(max_examples=40)
@given(st.lists(st.tuples(counts, counts, counts), min_size=1, max_size=40))
def test_chart_is_well_formed_svg_with_one_group_per_day(
    figures: list[tuple[int, int, int]],
) -> None:
    days = [
        DayFigures(DAY0 + timedelta(days=i), received=r, refused=f, acknowledged=a)
        for i, (r, f, a) in enumerate(figures)
    ]
    svg = etree.fromstring(str(day_chart(days)).encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = svg.findall("s:g", ns)
    assert [g.get("data-day") for g in groups] == [d.day.isoformat() for d in days]
    for g, d in zip(groups, days, strict=True):
        assert len(g.findall("s:rect", ns)) == (d.received > 0) + (d.refused > 0)
        for rect in g.findall("s:rect", ns):  # inside the plot, never negative
            assert float(rect.get("height")) >= 0 and float(rect.get("y")) >= 0
    (line,) = svg.findall("s:polyline", ns)
    assert len(line.get("points").split()) == len(days)


def test_chart_bar_heights_are_proportional() -> None:
    days = [DayFigures(DAY0, 10, 0, 0), DayFigures(DAY0 + timedelta(days=1), 5, 0, 0)]
    svg = etree.fromstring(str(day_chart(days)).encode())
    heights = [float(r.get("height")) for r in svg.iter("{http://www.w3.org/2000/svg}rect")][:2]
    assert abs(heights[0] - 2 * heights[1]) < 0.2


def test_verdict_shares_add_up() -> None:
    ov = Overview(DayFigures(DAY0), (), {"valid": 3, "unsigned": 1}, {})
    assert ov.verdict_shares() == [("valid", 3, 75.0), ("unsigned", 1, 25.0)]
    assert Overview(DayFigures(DAY0), (), {}, {}).verdict_shares() == []


@given(st.integers(min_value=0, max_value=10**15))
def test_fmt_num_groups_thousands_with_dots(n: int) -> None:
    text = fmt_num(n)
    assert int(text.replace(".", "")) == n
    assert all(len(part) == 3 for part in text.split(".")[1:])


def test_fmt_age() -> None:
    assert fmt_age(None) == "–"
    assert fmt_age(42) == "42 s"
    assert fmt_age(12 * 60 + 5) == "12 phút"
    assert fmt_age(3 * 3600 + 5 * 60) == "3 giờ 5 phút"
    assert fmt_age(50 * 3600) == "2 ngày 2 giờ"


def test_passwords_round_trip_and_refuse_garbage() -> None:
    stored = hash_password("mật khẩu dài 2026")
    assert stored.startswith("scrypt$15$8$1$")
    assert verify_password("mật khẩu dài 2026", stored)
    assert not verify_password("mật khẩu dài 2027", stored)
    assert hash_password("same") != hash_password("same")  # salted
    for bad in ("", "scrypt$", "bcrypt$x", "scrypt$99$8$1$AA==$AA==", stored.replace("$", "#")):
        assert not verify_password("x", bad)


def test_safe_next_stays_on_the_site() -> None:
    assert safe_next("/queue?d=national") == "/queue?d=national"
    for bad in (None, "", "//evil.example", "https://evil.example/", "evil", "/\\evil.example"):
        assert safe_next(bad) == "/"


def test_json_log_lines_carry_the_context() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = configure_logging(LogConfig(format="json", level="INFO"), stream=stream)
    try:
        log = logging.getLogger("axis.test")
        with log_context(request_id="r-1", document_id="D1"):
            log.info("hello %s", "world", extra={"secret_value": "x", "n": 3})
        log.info("outside")
    finally:
        root.removeHandler(handler)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "hello world" and first["request_id"] == "r-1"
    assert first["document_id"] == "D1" and first["n"] == 3 and "secret_value" not in first
    assert "request_id" not in second
