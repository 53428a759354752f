"""Reports: the arithmetic is property-tested; the figures agree through every face
(engine, native API, CLI in JSON, CSV and Excel) and equal a count over the raw
``packet.accepted`` events; Excel opens cleanly with Vietnamese headings."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from axis.app import start_daemon
from axis.cli import main as cli
from axis.credentials import new_secret, new_token
from axis.report import DIRECTIONS, ExchangeLine, exchange_report, grand_total
from axis.reportfmt import EXCHANGE_HEADINGS, SIGNATURE_HEADINGS
from axis.reporting import ExchangeQuery, SignatureQuery, exchange, signatures
from axis.reporttree import exchange_tree, flatten
from axis.sigreport import SIG_VERDICTS, signature_report
from axis.store import NewSystem, open_configured_store
from axis.store import schema as t
from axis.store.sigcounts import (
    ALL_RECIPIENTS,
    guess_tier,
    month_split,
    recount_signatures_from_events,
    signature_counts,
)
from tests.audit_support import AGENCIES, PARENTS, SIGNER_A, Filled, filled

# --------------------------------------------------------------------- arithmetic


@dataclass(frozen=True)
class SRow:
    period: str
    agency_code: str
    sender_tier: str
    recipient_tier: str
    kind: str
    verdict: str
    signer_sha256: str
    count: int


sig_rows = st.lists(
    st.builds(
        SRow,
        period=st.sampled_from(["2026-01-05", "2026-01-20", "2026-02-01", "2026-03-31"]),
        agency_code=st.sampled_from(sorted(AGENCIES)),
        sender_tier=st.sampled_from(["province", "district", "commune"]),
        recipient_tier=st.just("*"),
        kind=st.just("document"),
        verdict=st.sampled_from(SIG_VERDICTS),
        signer_sha256=st.sampled_from(["", "a" * 64, "b" * 64]),
        count=st.integers(0, 5000),
    ),
    max_size=50,
)


@given(sig_rows, st.sampled_from(["agency", "tier", "month", "all"]))
def test_signature_lines_add_up_to_the_total_and_the_trend(rows: list[SRow], by: str) -> None:
    r = signature_report(rows, by=by)  # type: ignore[arg-type]
    for verdict in SIG_VERDICTS:
        expected = sum(x.count for x in rows if x.verdict == verdict)
        assert sum(line.by_verdict.get(verdict, 0) for line in r.lines) == expected
        assert sum(line.by_verdict.get(verdict, 0) for line in r.trend) == expected
        assert r.total.by_verdict.get(verdict, 0) == expected
    assert r.total.total == sum(x.count for x in rows)
    if r.total.total:
        assert r.total.share == r.total.valid / r.total.total
        assert 0 <= r.total.share <= 1
    signed = sum(x.count for x in rows if x.signer_sha256)
    assert sum(s.total for s in r.signers) == sum(i.total for i in r.issuers) == signed
    assert sum(s.valid for s in r.signers) == sum(
        x.count for x in rows if x.signer_sha256 and x.verdict == "valid"
    )


@given(sig_rows, st.sampled_from(["agency", "tier", "month", "all"]))
def test_pre_aggregating_rows_does_not_change_the_report(rows: list[SRow], by: str) -> None:
    merged: Counter[tuple[str, str, str, str, str, str, str]] = Counter()
    for x in rows:
        merged[
            (
                x.period[:7],
                x.agency_code,
                x.sender_tier,
                "*",
                "document",
                x.verdict,
                x.signer_sha256,
            )
        ] += x.count
    coarse = [SRow(*k, n) for k, n in merged.items()]
    grouping: Any = by
    assert (
        signature_report(coarse, by=grouping).as_dict()
        == signature_report(rows, by=grouping).as_dict()
    )


@dataclass(frozen=True)
class Ag:
    code: str
    name: str
    tier: str
    parent: str | None


@settings(max_examples=60)
@given(
    st.dictionaries(
        st.sampled_from([*sorted(AGENCIES), "000.09.00.H36", "000.00.00.G99"]),
        st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(0, 5)),
        max_size=8,
    ),
    st.booleans(),
)
def test_tree_rollups_add_up_to_the_whole(
    figures: dict[str, tuple[int, int, int]], cyclic: bool
) -> None:
    parents = dict(PARENTS)
    if cyclic:  # a broken directory must not lose figures
        parents["000.00.00.H36"] = "000.01.30.H36"
    agencies = [Ag(c, c, tier, parents.get(c)) for c, tier in AGENCIES.items()]
    lines = {
        c: ExchangeLine(c, sent=s, received=r, refused=f, sent_by_verdict={"valid": s})
        for c, (s, r, f) in figures.items()
    }
    roots = exchange_tree(lines, agencies)
    whole = grand_total(list(lines.values()))
    top = grand_total([n.rollup for n in roots])
    assert (top.sent, top.received, top.refused) == (whole.sent, whole.received, whole.refused)
    codes = [n.code for n in flatten(roots) if n.own.total or n.own.refused]
    assert len(codes) == len(set(codes))  # each agency counted once
    for node in flatten(roots):
        kids = grand_total([node.own, *(k.rollup for k in node.children)])
        assert node.rollup.sent == kids.sent and node.rollup.received == kids.received


def test_tiers_guessed_for_codes_outside_the_directory() -> None:
    assert guess_tier("000.00.00.G13") == "central"
    assert guess_tier("000.01.00.G13") == "central"
    assert guess_tier("000.00.00.H37") == ""
    assert guess_tier("G1") == ""


# --------------------------------------------------------------------- the faces


@pytest.fixture
async def dep(tmp_path: Path) -> Filled:
    return await filled(tmp_path)


def _from_events(events: list[tuple[str, str]], recipient_tier: str) -> Counter[str]:
    """Signature verdicts counted straight from the raw packet.accepted events."""
    out: Counter[str] = Counter()
    for _agency, text in events:
        d = json.loads(text)
        if d["kind"] != "document":
            continue
        if recipient_tier == ALL_RECIPIENTS or recipient_tier in d["recipient_tiers"]:
            out[d["verdict"]] += 1
    return out


async def _raw_events(dep: Filled) -> list[tuple[str, str]]:
    store = await open_configured_store(dep.config)
    try:
        async with store._read() as conn:
            rows = await conn.execute(
                t.events.select()
                .with_only_columns(t.events.c.agency_code, t.events.c.detail)
                .where(t.events.c.kind == "packet.accepted")
            )
            return [(a, d) for a, d in rows]
    finally:
        await store.close()


def _cli_json(dep: Filled, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert dep.config.source is not None
    capsys.readouterr()
    code = cli(["report", *args, "--config", str(dep.config.source), "--format", "json"])
    assert code == 0
    value: dict[str, Any] = json.loads(capsys.readouterr().out)
    return value


async def test_signature_counters_equal_the_events(dep: Filled) -> None:
    store = await open_configured_store(dep.config)
    try:
        recount = await recount_signatures_from_events(store)
        for tier in ("*", "central", "province", "district", "commune", ""):
            stored = await signature_counts(store, recipient_tier=tier, kind=None, by_month=False)
            assert sorted(stored, key=repr) == sorted(
                [r for r in recount if r.recipient_tier == tier], key=repr
            )
    finally:
        await store.close()


@pytest.fixture
async def auditor_api(dep: Filled) -> AsyncIterator[tuple[str, str]]:
    store = await open_configured_store(dep.config)
    token = new_token()
    try:
        await store.add_system(
            NewSystem("kiemtoan", "kiemtoan", "auditor", ("*",), new_secret(), token)
        )
    finally:
        await store.close()
    daemon = await start_daemon(dep.config)
    try:
        yield daemon.base_url, token
    finally:
        await daemon.stop()


async def _api(base: str, token: str, path: str, **params: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{base}/api/v1/reports/{path}",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        value: dict[str, Any] = await r.json()
        return value


@pytest.mark.parametrize("recipient_tier", ["*", "central", "province", "commune"])
async def test_signature_figures_agree_across_faces_and_with_the_events(
    dep: Filled,
    auditor_api: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    recipient_tier: str,
) -> None:
    expected = _from_events(await _raw_events(dep), recipient_tier)
    assert sum(expected.values()) > 0
    store = await open_configured_store(dep.config)
    try:
        engine = await signatures(store, SignatureQuery(by="tier", recipient_tier=recipient_tier))
    finally:
        await store.close()
    api = await _api(*auditor_api, "signatures", by="tier", recipient_tier=recipient_tier)
    cli_json = await asyncio.to_thread(
        _cli_json, dep, capsys, "signatures", "--by", "tier", "--recipient-tier", recipient_tier
    )
    faces: list[dict[str, Any]] = [engine.as_dict()["total"], api["total"], cli_json["total"]]  # type: ignore[list-item]
    for face in faces:
        assert {k: v for k, v in face["by_verdict"].items() if v} == dict(expected)
        assert face["valid"] == expected["valid"]
        assert face["total"] == sum(expected.values())
    assert api["lines"] == cli_json["lines"] == engine.as_dict()["lines"]


async def test_documents_sent_to_ministries_and_their_signers(dep: Filled) -> None:
    store = await open_configured_store(dep.config)
    try:
        r = await signatures(store, SignatureQuery(by="agency", recipient_tier="central"))
    finally:
        await store.close()
    # PLAN in tests.audit_support: to G22/G12 (+ G13 through the national route)
    by_agency = {line.key: line for line in r.lines}
    assert by_agency["000.00.00.H36"].by_verdict == {"valid": 2, "unsigned": 1}
    assert by_agency["000.01.00.H36"].by_verdict == {"valid": 1, "revoked": 1}
    assert r.total.total == 5 and r.total.valid == 3
    assert r.signers[0].key == SIGNER_A and r.signers[0].issuer == "CN=Test Issuing CA"
    assert [i.key for i in r.issuers] == ["CN=Test Issuing CA"]
    assert [line.key for line in r.trend] == ["2026-03", "2026-04"]


async def test_exchange_figures_agree_across_faces_and_formats(
    dep: Filled,
    auditor_api: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    store = await open_configured_store(dep.config)
    try:
        engine = await exchange(store, ExchangeQuery(by="agency"))
        rows = await store.counter_rows()
    finally:
        await store.close()
    direct = grand_total(exchange_report(rows))
    api = await _api(*auditor_api, "exchange", by="agency")
    cli_json = await asyncio.to_thread(_cli_json, dep, capsys, "exchange", "--by", "agency")
    assert api["lines"] == cli_json["lines"] == engine.as_dict()["lines"]
    for d in DIRECTIONS:
        assert api["total"][d] == getattr(direct, d) == engine.total.as_dict()[d]
    assert api["total"]["sent_internal"] + api["total"]["sent_national"] == direct.sent
    assert api["total"]["sent_national"] == 1  # the one packet routed to the national axis

    # the tree: the province's rollup holds everything its subtree sent
    tree = await asyncio.to_thread(_cli_json, dep, capsys, "exchange", "--by", "tree")
    province = next(n for n in tree["tree"] if n["code"] == "000.00.00.H36")
    subtree = {"000.00.00.H36", "000.01.00.H36", "000.30.00.H36", "000.01.30.H36"}
    assert province["rollup"]["sent"] == sum(
        line["sent"] for line in api["lines"] if line["key"] in subtree
    )

    # CSV: UTF-8 with BOM, Vietnamese headings, the same numbers
    out_csv = tmp_path / "exchange.csv"
    assert dep.config.source is not None
    conf = ["--config", str(dep.config.source)]
    csv_args = ["report", "exchange", *conf, "--format", "csv", "-o", str(out_csv)]
    assert await asyncio.to_thread(cli, csv_args) == 0
    raw = out_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(table[0]) == EXCHANGE_HEADINGS
    assert table[-1][0] == "TỔNG CỘNG" and int(table[-1][3]) == direct.sent

    # Excel: opens, Vietnamese headings, numbers as numbers, shares as percentages
    out_xlsx = tmp_path / "exchange.xlsx"
    xlsx_args = ["report", "exchange", *conf, "--format", "xlsx", "-o", str(out_xlsx)]
    assert await asyncio.to_thread(cli, xlsx_args) == 0
    wb = load_workbook(out_xlsx)
    ws = wb["Trao đổi văn bản"]
    values = list(ws.iter_rows(values_only=True))
    assert tuple(values[0]) == EXCHANGE_HEADINGS
    by_code = {r[0]: r for r in values[1:]}
    for line in api["lines"]:
        row = by_code[line["key"]]
        assert (row[3], row[6], row[8]) == (line["sent"], line["received"], line["refused"])
        assert row[1] == line["name"]
    assert by_code["TỔNG CỘNG"][3] == direct.sent
    share_cell = ws.cell(row=len(values), column=12)
    assert share_cell.number_format == "0.0%"

    out_sig = tmp_path / "signatures.xlsx"
    sig_args = ["report", "signatures", *conf, "--recipient-tier", "central"]
    assert await asyncio.to_thread(cli, [*sig_args, "--format", "xlsx", "-o", str(out_sig)]) == 0
    wb = load_workbook(out_sig)
    assert wb.sheetnames == ["Ký số", "Theo tháng", "Chứng thư số", "Tổ chức cấp"]
    head = next(wb["Ký số"].iter_rows(values_only=True))
    assert tuple(head) == SIGNATURE_HEADINGS and head[2] == "Ký số hợp lệ"
    total = list(wb["Ký số"].iter_rows(values_only=True))[-1]
    assert total[0] == "TỔNG CỘNG" and total[1] == 5 and total[2] == 3
    assert total[-1] == pytest.approx(3 / 5)


@given(
    st.none() | st.dates(min_value=date(2025, 11, 1), max_value=date(2026, 6, 30)),
    st.none() | st.dates(min_value=date(2025, 11, 1), max_value=date(2026, 6, 30)),
)
def test_month_split_covers_exactly_the_days(lo: date | None, hi: date | None) -> None:
    days, months = month_split(lo, hi)
    first, last = lo or date(2025, 10, 1), hi or date(2026, 8, 31)
    covered: list[date] = []
    for a, b in days:
        assert a is not None and b is not None
        covered += [a + timedelta(days=i) for i in range((b - a).days + 1)]
    if months is not None:
        m_lo, m_hi = months
        d = m_lo or date(2025, 10, 1)
        end = m_hi or date(2026, 8, 1)
        assert d.day == 1 and end.day == 1
        while d <= end:
            nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
            covered += [d + timedelta(days=i) for i in range((nxt - d).days)]
            d = nxt
    expected = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert sorted(covered) == expected or (lo is not None and hi is not None and lo > hi)
    assert len(covered) == len(set(covered))


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(None, None), (date(2026, 3, 2), date(2026, 4, 11)), (date(2026, 3, 1), date(2026, 3, 31))],
)
async def test_monthly_rollups_give_the_daily_figures(
    dep: Filled, lo: date | None, hi: date | None
) -> None:
    store = await open_configured_store(dep.config)
    try:
        for tier in ("*", "central", "province"):
            kw: Any = {"day_from": lo, "day_to": hi, "recipient_tier": tier, "kind": None}
            fast = await signature_counts(store, **kw)
            daily = await signature_counts(store, by_month=False, **kw)
            for by in ("agency", "tier", "month", "all"):
                grouping: Any = by
                assert (
                    signature_report(fast, by=grouping).as_dict()
                    == signature_report(daily, by=grouping).as_dict()
                )
            assert sum(r.count for r in daily) > 0
    finally:
        await store.close()
