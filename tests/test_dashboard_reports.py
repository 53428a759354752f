"""The dashboard's reports page over real HTTP: for the same slice its numbers are the
native API's (exchange and signatures, by recipient tier, the monthly trend, signers),
its downloads are the same figures in CSV (UTF-8 with BOM) and Excel, its charts are
inline SVG, and it is closed to anyone not logged in."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lxml import html
from openpyxl import load_workbook

from axis.app import RunningDaemon, start_daemon
from axis.credentials import new_secret, new_token
from axis.reportfmt import EXCHANGE_HEADINGS, SIGNATURE_HEADINGS
from axis.store import NewSystem, open_configured_store
from tests.audit_support import Filled, filled


@dataclass
class Running:
    daemon: RunningDaemon
    token: str


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    dep: Filled = await filled(tmp_path)
    token = new_token()
    store = await open_configured_store(dep.config)
    try:
        await store.add_system(
            NewSystem("kiemtoan", "kiemtoan", "auditor", ("*",), new_secret(), token)
        )
    finally:
        await store.close()
    daemon = await start_daemon(dep.config)
    try:
        yield Running(daemon, token)
    finally:
        await daemon.stop()


@pytest.fixture
async def browser(running: Running) -> AsyncIterator[aiohttp.ClientSession]:
    """An auditor's dashboard session (token login)."""
    base = running.daemon.base_url
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.post(
            f"{base}/login",
            data={"token": running.token},
            headers={"Origin": base},
            allow_redirects=False,
        ) as r:
            assert r.status == 303
        yield s


async def _api(running: Running, path: str, params: dict[str, str]) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            f"{running.daemon.base_url}/api/v1/reports/{path}",
            params=params,
            headers={"Authorization": f"Bearer {running.token}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
        value: dict[str, Any] = await r.json()
        return value


async def _page(browser: aiohttp.ClientSession, url: str) -> Any:
    async with browser.get(url) as r:
        assert r.status == 200, (await r.text())[:2000]
        assert r.headers["Content-Security-Policy"].startswith("default-src 'none'")
        return html.fromstring(await r.text())


def _ints(row: Any) -> dict[str, int]:
    return {td.get("data-col"): int(td.get("data-value")) for td in row.xpath("td[@data-value]")}


EX_COLS = ("sent", "sent_internal", "sent_national", "received", "acknowledged", "refused")

SLICES = [
    {"by": "agency", "scope": "all", "recipient_tier": "*"},
    {"by": "agency", "scope": "all", "recipient_tier": "central"},
    {"by": "tier", "scope": "internal", "from": "2026-03-01", "to": "2026-03-31"},
    {"by": "month", "scope": "national", "recipient_tier": "province"},
    {"by": "tree", "scope": "all", "to": "2026-04-30"},
]


@pytest.mark.parametrize("slice_", SLICES, ids=lambda s: "-".join(s.values()))
async def test_page_figures_equal_the_apis(
    running: Running, browser: aiohttp.ClientSession, slice_: dict[str, str]
) -> None:
    base = running.daemon.base_url
    doc = await _page(browser, f"{base}/reports?" + "&".join(f"{k}={v}" for k, v in slice_.items()))
    common = {k: v for k, v in slice_.items() if k in ("from", "to")}

    # exchange: every line (or tree node's rollup) and the total
    ex = await _api(running, "exchange", common | {"by": slice_["by"], "scope": slice_["scope"]})
    rows = {
        r.get("data-key"): _ints(r)
        for r in doc.xpath('//table[@data-testid="exchange"]//tr[@data-key]')
    }
    if slice_["by"] == "tree":
        nodes: list[dict[str, Any]] = []
        stack = list(ex["tree"])
        while stack:
            n = stack.pop()
            nodes.append(n)
            stack.extend(n["children"])
        assert nodes
        for n in nodes:
            got = rows[n["code"]]
            for col in ("sent", "received", "acknowledged", "refused", "total"):
                assert got[col] == n["rollup"][col], (n["code"], col)
    else:
        assert {k for k in rows if k != "total"} == {line["key"] for line in ex["lines"]}
        for line in ex["lines"]:
            assert {c: rows[line["key"]][c] for c in (*EX_COLS, "total")} == {
                c: line[c] for c in (*EX_COLS, "total")
            }
    assert {c: rows["total"][c] for c in (*EX_COLS, "total")} == {
        c: ex["total"][c] for c in (*EX_COLS, "total")
    }
    assert ex["total"]["total"] > 0

    # signatures: the chosen recipient tier, by the page's grouping (tree: by agency)
    sig_by = "agency" if slice_["by"] == "tree" else slice_["by"]
    tier = slice_.get("recipient_tier", "*")
    sig = await _api(running, "signatures", common | {"by": sig_by, "recipient_tier": tier})
    lines = {
        r.get("data-key"): _ints(r)
        for r in doc.xpath('//table[@data-testid="signatures"]//tr[@data-key]')
    }
    assert {k for k in lines if k != "all"} == {line["key"] for line in sig["lines"]}
    for line in [*sig["lines"], sig["total"]]:
        got = lines[line["key"]]
        assert got["total"] == line["total"]
        assert {v: got[v] for v in line["by_verdict"]} == line["by_verdict"]
    carriers = {
        r.get("data-key"): _ints(r)
        for r in doc.xpath('//table[@data-testid="carriers"]//tr[@data-key]')
    }
    for line in [*sig["carriers"]["lines"], sig["carriers"]["total"]]:
        want = {
            k: line[k] for k in ("total", "both", "envelope_only", "attachment_only", "neither")
        }
        assert carriers[line["key"]] == want
    assert sig["carriers"]["total"]["total"] == sig["total"]["total"]  # every document once
    tiles = {e.get("data-metric"): e.get("data-value") for e in doc.xpath("//*[@data-metric]")}
    assert int(tiles["sig-total"]) == sig["total"]["total"]
    assert int(tiles["sig-valid"]) == sig["total"]["valid"]
    # the verdict chart's bars and the trend chart's months are the same figures
    bars = {
        g.get("data-verdict"): int(g.get("data-count"))
        for g in doc.xpath('//*[@data-testid="verdict-chart"]//*[@data-verdict]')
    }
    assert {v: n for v, n in bars.items() if n} == {
        v: n for v, n in sig["total"]["by_verdict"].items() if n
    }
    months = [
        (g.get("data-month"), int(g.get("data-total")), int(g.get("data-valid")))
        for g in doc.xpath('//*[@data-testid="trend-chart"]//*[@data-month]')
    ]
    assert months == [(t["key"], t["total"], t["valid"]) for t in sig["trend"]]
    # one line per recipient tier ("sent to ministries" is central)
    by_tier = {
        r.get("data-recipient-tier"): _ints(r)
        for r in doc.xpath('//table[@data-testid="by-recipient-tier"]/tbody/tr')
    }
    for rt in ("*", "central", "province", "district", "commune"):
        want = (await _api(running, "signatures", common | {"by": "all", "recipient_tier": rt}))[
            "total"
        ]
        assert by_tier[rt]["total"] == want["total"], rt
        assert by_tier[rt]["valid"] == want["valid"], rt
    signers = {
        r.get("data-signer"): _ints(r)
        for r in doc.xpath('//table[@data-testid="signers"]//tr[@data-signer]')
    }
    assert {k: v["total"] for k, v in signers.items() if k} == {
        s["key"]: s["total"] for s in sig["signers"]
    }


async def test_sent_to_ministries_is_shown_as_in_the_plan(
    running: Running, browser: aiohttp.ClientSession
) -> None:
    # tests.audit_support.PLAN: 5 documents to central bodies, 3 validly signed
    doc = await _page(browser, f"{running.daemon.base_url}/reports?recipient_tier=central")
    row = doc.xpath(
        '//table[@data-testid="by-recipient-tier"]/tbody/tr[@data-recipient-tier="central"]'
    )
    assert len(row) == 1
    assert "gửi bộ, ngành / sent to ministries" in row[0].text_content()
    got = _ints(row[0])
    assert (got["total"], got["valid"]) == (5, 3)
    assert doc.xpath('//*[@data-metric="sig-share"]')[0].text_content().strip() == "60.0 %"
    assert len(doc.xpath('//*[@data-testid="verdict-chart"]/*[local-name()="svg"]')) == 1
    assert len(doc.xpath('//*[@data-testid="trend-chart"]//*[local-name()="rect"]')) >= 2


async def test_downloads_are_the_same_figures(
    running: Running, browser: aiohttp.ClientSession
) -> None:
    base = running.daemon.base_url
    doc = await _page(browser, f"{base}/reports?by=agency&recipient_tier=central")
    link = doc.xpath('//a[@data-testid="download-exchange-csv"]')[0].get("href")
    async with browser.get(base + link) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert tuple(table[0]) == EXCHANGE_HEADINGS
    ex = await _api(running, "exchange", {"by": "agency"})
    sent = {row[0]: int(row[3]) for row in table[1:-1]}
    assert sent == {line["key"]: line["sent"] for line in ex["lines"]}
    assert int(table[-1][9]) == ex["total"]["total"]

    link = doc.xpath('//a[@data-testid="download-signatures-xlsx"]')[0].get("href")
    async with browser.get(base + link) as r:
        assert r.status == 200
        assert "spreadsheetml" in r.headers["Content-Type"]
        body = await r.read()
    wb = load_workbook(io.BytesIO(body), read_only=True)
    main = list(wb["Ký số"].iter_rows(values_only=True))
    assert tuple(main[0]) == SIGNATURE_HEADINGS
    sig = await _api(running, "signatures", {"by": "agency", "recipient_tier": "central"})
    assert main[-1][0] == "TỔNG CỘNG" and main[-1][1] == sig["total"]["total"]
    assert "Theo tháng" in wb.sheetnames


async def test_closed_without_login_and_bad_fields_refused(
    running: Running, browser: aiohttp.ClientSession
) -> None:
    base = running.daemon.base_url
    async with aiohttp.ClientSession() as anon:
        for path in ("/reports", "/reports/download?report=exchange&format=csv"):
            async with anon.get(base + path, allow_redirects=False) as r:
                assert r.status == 303, path
                assert r.headers["Location"].startswith("/login?next=")
    for query in ("by=day", "from=yesterday", "scope=abroad", "from=2026-05-01&to=2026-04-01"):
        async with browser.get(f"{base}/reports?{query}") as r:
            assert r.status == 400, query
            assert "input.bad-param" in await r.text()
    async with browser.get(f"{base}/reports/download?report=exchange&format=pdf") as r:
        assert r.status == 400
