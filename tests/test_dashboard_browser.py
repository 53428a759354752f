"""The admin dashboard in a real browser: headless Debian Chromium driven by Playwright.

A daemon on loopback with a push agency whose endpoint fails until told to recover; a
user made by ``axis admin add-user``. The test logs in (and replaces the one-time
password), checks that the numbers on the pages are the database's, clicks "Thử lại
ngay / Retry now" on the dead letter and sees it delivered (once). A screenshot of each
page is saved in ``test-artifacts/``.

Chromium is Debian's ``/usr/bin/chromium`` (``make tools`` installs it); Playwright never
downloads a browser. Outside CI the test is skipped, with the reason, when either is
missing; in CI it must run.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from axis.app import RunningDaemon, start_daemon
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.store.deliveries import set_push_delivery
from tests.dashboard_support import (
    FAST_DELIVERY,
    ROOT,
    Receiver,
    add_user_while_serving,
    receiver,
    sql,
    today_bounds_utc,
    wait_for,
)
from tests.harness import NOW, native, signed_document

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
DEPT = "000.01.00.H36"  # receives by pull
CITY = "000.30.00.H36"  # receives by push (the failing endpoint)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_skip() -> Any:
    """The Playwright module, or a skip (outside CI) / failure (in CI) with the reason."""
    reason = None
    try:
        from playwright import async_api
    except ImportError as exc:  # pragma: no cover - depends on the machine
        reason = f"the playwright package is not installed ({exc})"
        async_api = None
    if reason is None and not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium; `make tools` does it)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(f"browser test skipped: {reason}")
    return async_api


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    return await create_dev_deployment(
        tmp_path / "dep",
        agencies=AGENCIES,
        systems=SYSTEMS,
        now=NOW,
        extra={"delivery": FAST_DELIVERY, "log": {"format": "json"}},
    )


@pytest.fixture
async def push_endpoint() -> AsyncIterator[Receiver]:
    async with receiver() as r:
        yield r


@pytest.fixture
async def daemon(deployment: DevDeployment) -> AsyncIterator[RunningDaemon]:
    d = await start_daemon(deployment.config)
    yield d
    await d.stop()


async def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


async def _metric(page: Any, name: str) -> int:
    return int(await page.get_attribute(f'[data-metric="{name}"]', "data-value"))


async def test_dashboard_in_chromium(
    deployment: DevDeployment, daemon: RunningDaemon, push_endpoint: Receiver
) -> None:
    async_api = _browser_or_skip()
    dep = deployment
    await set_push_delivery(daemon.services.store, CITY, push_endpoint.url, "push-secret-1")
    password = await add_user_while_serving(dep, "alice", "admin")

    # traffic: two documents (pull + push recipients), one tampered packet refused
    async with aiohttp.ClientSession() as http:
        province = native(daemon, dep, "qlvb.lamdong", http)
        for n in ("1", "2"):
            status, answer = await province.send(
                signed_document(dep, PROVINCE, [DEPT, CITY], number=n)
            )
            assert status == 201, answer
        good = signed_document(dep, PROVINCE, [DEPT], number="3", subject="Kế hoạch 2026")
        status, _ = await province.send(
            good.replace("Kế hoạch 2026".encode(), "Kế hoạch 2027".encode())
        )
        assert status == 422
    # the push endpoint fails: both push deliveries become dead letters
    await wait_for(
        lambda: sql(dep, "SELECT count(*) FROM deliveries WHERE state = 'dead'") == 2,
        what="two dead letters",
    )
    dead_id = sql(dep, "SELECT min(id) FROM deliveries WHERE state = 'dead'")
    assert push_endpoint.taken == []

    base = daemon.base_url
    async with async_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})

            # no page without login: redirected to the login form
            await page.goto(f"{base}/queues")
            assert page.url.startswith(f"{base}/login")
            await _shot(page, "login")
            await page.fill('input[name="name"]', "alice")
            await page.fill('input[name="password"]', "wrong password")
            await page.click('form[action="/login"] button[type="submit"] >> nth=0')
            assert await page.is_visible('[data-testid="login-error"]')
            await page.fill('input[name="name"]', "alice")
            await page.fill('input[name="password"]', password)
            await page.click('form[action="/login"] button[type="submit"] >> nth=0')

            # the one-time password must be replaced first
            assert page.url == f"{base}/password"
            await page.fill('input[name="current"]', password)
            await page.fill('input[name="new"]', "a long new passphrase")
            await page.fill('input[name="confirm"]', "a long new passphrase")
            await page.click('form[action="/password"] button[type="submit"]')
            assert page.url.startswith(f"{base}/?done=password")

            # overview: the numbers are the database's
            start, end = today_bounds_utc()
            received = sql(
                dep,
                "SELECT count(*) FROM documents WHERE received_at >= ? AND received_at < ?",
                start,
                end,
            )
            assert received == 2
            assert await _metric(page, "received-today") == received
            assert await _metric(page, "pending") == sql(
                dep, "SELECT count(*) FROM deliveries WHERE state IN ('pending', 'fetched')"
            )
            assert await _metric(page, "failed") == sql(
                dep, "SELECT count(*) FROM deliveries WHERE state IN ('failed', 'dead')"
            )
            assert await _metric(page, "failed") == 2
            assert await _metric(page, "refused-today") == sql(
                dep, "SELECT count(*) FROM events WHERE kind = 'packet.refused'"
            )
            assert await _metric(page, "delivered-today") == sql(
                dep, "SELECT count(*) FROM deliveries WHERE state = 'acked'"
            )
            valid = await page.get_attribute('[data-verdict="valid"] td[data-value]', "data-value")
            assert int(valid) == sql(dep, "SELECT count(*) FROM documents WHERE verdict = 'valid'")
            assert await page.locator('[data-testid="chart"] svg rect').count() > 0
            await _shot(page, "overview")

            # queues: the push destination has two dead letters, the pull inbox two waiting
            await page.click('nav a[href="/queues"]')
            push_row = page.locator("tr[data-destination^='http://127.0.0.1']")
            assert await push_row.locator('[data-col="dead"]').get_attribute("data-value") == "2"
            inbox = page.locator(f"tr[data-destination='inbox:{DEPT}']")
            depth = await inbox.locator('[data-col="depth"]').get_attribute("data-value")
            assert int(depth) == sql(
                dep,
                "SELECT count(*) FROM deliveries WHERE target_code = ? AND state = 'pending'",
                DEPT,
            )
            await _shot(page, "queues")

            # drill-down to the dead letter: its failed attempts and their errors
            await push_row.locator("a").first.click()
            await page.click(".tabs a >> text=dead")
            await page.click(f'tr[data-delivery="{dead_id}"] a >> nth=0')
            assert await page.text_content('[data-testid="delivery-state"]') == "dead"
            attempts = page.locator('[data-testid="attempts"] tbody tr')
            assert await attempts.count() == sql(
                dep, "SELECT count(*) FROM delivery_attempts WHERE delivery_id = ?", dead_id
            )
            assert "503" in (await page.text_content('[data-testid="attempts"]') or "")
            await _shot(page, "delivery-dead")

            # dead letters: the endpoint recovers, "retry now" delivers the first one
            await page.click('nav a[href="/dead"]')
            await _shot(page, "dead-letters")
            push_endpoint.failing = False
            await page.click(f'[data-testid="retry-{dead_id}"]')
            assert "requeued" in (await page.text_content('[data-testid="notice"]') or "")
            await wait_for(
                lambda: sql(dep, "SELECT state FROM deliveries WHERE id = ?", dead_id) == "acked",
                what="the requeued delivery to be delivered",
            )
            assert push_endpoint.taken == [str(dead_id)]
            await page.goto(f"{base}/deliveries/{dead_id}")
            assert await page.text_content('[data-testid="delivery-state"]') == "acked"
            await _shot(page, "delivery-acked")

            # the document's trace shows the requeue by alice
            doc_id = sql(dep, "SELECT document_id FROM deliveries WHERE id = ?", dead_id)
            await page.goto(f"{base}/documents/{doc_id}")
            trace = await page.text_content('[data-testid="trace"]') or ""
            assert "delivery.requeued" in trace and "user:alice" in trace
            await _shot(page, "document-trace")

            # "retry all" for the destination takes the other dead letter
            await page.goto(f"{base}/dead")
            await page.click('[data-testid="retry-all"]')
            await wait_for(
                lambda: (
                    sql(dep, "SELECT count(*) FROM deliveries WHERE state = 'dead'") == 0
                    and len(push_endpoint.taken) == 2
                ),
                what="retry all",
            )
            assert sorted(push_endpoint.taken) == sorted(set(push_endpoint.taken))

            await page.goto(f"{base}/national")
            await _shot(page, "national")
            await page.goto(f"{base}/certificates")
            rows = page.locator('[data-testid="trust-certs"] tbody tr')
            assert await rows.count() == len(daemon.services.intake.settings.trust.anchors) + len(
                daemon.services.intake.settings.trust.intermediates
            )
            await _shot(page, "certificates")

            # reports: the signature report's figures are the stored documents', with charts
            await page.click('nav a[href="/reports"]')
            assert await _metric(page, "sig-total") == sql(
                dep, "SELECT count(*) FROM documents WHERE kind = 'document'"
            )
            assert await _metric(page, "sig-valid") == sql(
                dep, "SELECT count(*) FROM documents WHERE kind = 'document' AND verdict = 'valid'"
            )
            assert await page.locator('[data-testid="verdict-chart"] svg').count() == 1
            assert await page.locator('[data-testid="trend-chart"] svg rect').count() > 0
            await _shot(page, "reports")

            # log out: the pages are closed again
            await page.click("header form[action='/logout'] button")
            await page.goto(f"{base}/")
            assert page.url.startswith(f"{base}/login")
        finally:
            await browser.close()
    # audited: one failed login, the login, the password change, the logout
    for kind in ("web.login-failed", "web.login", "user.password-changed", "web.logout"):
        assert (
            sql(dep, "SELECT count(*) FROM events WHERE kind = ? AND actor = ?", kind, "user:alice")
            == 1
        ), kind
