"""Alerts: the pure rules and de-duplication (property tests), the sender against a real
loopback webhook and a real SMTP server (aiosmtpd), and the daemon's alert job."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from adapters.alerting import AlertSender, SmtpTarget, WebhookTarget, sign_body
from axis import alerts
from axis.app import RunningDaemon, start_daemon
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import create_dev_deployment
from axis.store.deliveries import set_push_delivery
from axis.web.health import MONITOR
from tests.dashboard_support import FAST_DELIVERY, receiver, sql, wait_for
from tests.harness import NOW, native, signed_document

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
TH = alerts.Thresholds(
    destination_failing=timedelta(minutes=15),
    inbox_waiting=timedelta(minutes=60),
    cert_expiry=timedelta(days=30),
)
DEPT = "000.01.00.H36"
CITY = "000.30.00.H36"


# --- pure rules ----------------------------------------------------------------------------


def test_each_condition_raises_its_alert() -> None:
    facts = alerts.Facts(
        now=T0,
        destinations=[
            alerts.DestinationFact("https://a.example", T0 - timedelta(minutes=15), True, "503"),
            alerts.DestinationFact("https://b.example", T0 - timedelta(minutes=14)),
            alerts.DestinationFact("national", None),
        ],
        inboxes=[
            alerts.InboxFact("000.01.00.H36", T0 - timedelta(hours=2), 3),
            alerts.InboxFact("000.02.00.H36", T0 - timedelta(minutes=59), 1),
            alerts.InboxFact("000.03.00.H36", None),
        ],
        crls=[
            alerts.CrlFact("CN=Root", T0),  # nextUpdate now: stale
            alerts.CrlFact("CN=Issuing", T0 + timedelta(hours=1)),
            alerts.CrlFact("CN=NoNext", None),
        ],
        certs=[
            alerts.CertFact("agency", "CN=A", "aa", T0 + timedelta(days=30), "000.01.00.H36"),
            alerts.CertFact("anchor", "CN=R", "bb", T0 + timedelta(days=31)),
            alerts.CertFact("axis", "CN=Axis", "cc", T0 - timedelta(days=1)),
        ],
    )
    got = {a.key: a for a in alerts.evaluate(facts, TH)}
    assert sorted(got) == [
        "cert-expiring:aa",
        "cert-expiring:cc",
        "crl-stale:CN=NoNext",
        "crl-stale:CN=Root",
        "destination-failing:https://a.example",
        "inbox-waiting:000.01.00.H36",
    ]
    assert got["cert-expiring:cc"].severity == "critical"  # expired
    assert got["cert-expiring:aa"].severity == "warning"
    assert got["inbox-waiting:000.01.00.H36"].detail["waiting"] == 3
    assert "15 minutes" in got["destination-failing:https://a.example"].summary
    json.dumps([a.to_dict() for a in got.values()])  # JSON-able for the webhook


minutes = st.integers(min_value=0, max_value=10_000)


@given(failing_for=minutes, threshold=st.integers(min_value=1, max_value=10_000))
def test_destination_alert_iff_failing_long_enough(failing_for: int, threshold: int) -> None:
    th = alerts.Thresholds(destination_failing=timedelta(minutes=threshold))
    facts = alerts.Facts(
        T0, destinations=[alerts.DestinationFact("d", T0 - timedelta(minutes=failing_for))]
    )
    assert bool(alerts.evaluate(facts, th)) == (failing_for >= threshold)


@given(days_left=st.integers(min_value=-400, max_value=400), within=st.integers(1, 365))
def test_cert_alert_iff_expiring_within(days_left: int, within: int) -> None:
    th = alerts.Thresholds(cert_expiry=timedelta(days=within))
    cert = alerts.CertFact("agency", "CN=x", "ff", T0 + timedelta(days=days_left), "X")
    assert bool(alerts.evaluate(alerts.Facts(T0, certs=[cert]), th)) == (days_left <= within)


KEYS = ["crl-stale:A", "crl-stale:B", "inbox-waiting:C", "destination-failing:D"]


def _alert(key: str) -> alerts.Alert:
    return alerts.Alert(key, "crl-stale", "warning", key)


@given(st.lists(st.sets(st.sampled_from(KEYS)), max_size=12))
def test_each_condition_fires_once_until_it_clears(rounds: list[set[str]]) -> None:
    """Model: a key fires at a round iff it holds now and did not hold the round before;
    it resolves iff it held before and does not now."""
    state = alerts.AlertState()
    previous: set[str] = set()
    for now_keys in rounds:
        step = alerts.transition(state, [_alert(k) for k in sorted(now_keys)])
        assert {a.key for a in step.fired} == now_keys - previous
        assert set(step.resolved) == previous - now_keys
        state, previous = step.state, now_keys


# --- the sender against real servers ---------------------------------------------------------


@dataclass
class Hook:
    status: int = 200
    posts: list[tuple[dict[str, Any], str | None, bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.posts.append((json.loads(body), request.headers.get("X-Axis-Signature"), body))
        return web.Response(status=self.status)


@pytest.fixture
async def hook() -> AsyncIterator[Hook]:
    h = Hook()
    app = web.Application()
    app.router.add_post("/alerts", h.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    h.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/alerts"  # type: ignore[union-attr]
    yield h
    await runner.cleanup()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


async def test_sender_posts_signed_json_and_sends_mail(
    hook: Hook, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    sender = AlertSender(
        "Trục tỉnh Lâm Đồng",
        webhook=WebhookTarget(hook.url, secret="hook-secret"),
        smtp=SmtpTarget("127.0.0.1", port, "axis@lamdong.gov.vn", ("ops@lamdong.gov.vn",)),
    )
    fired = [_alert("crl-stale:A").to_dict()]
    try:
        assert await sender.notify(fired, ["inbox-waiting:C"]) == []
    finally:
        await sender.close()
    ((payload, signature, body),) = hook.posts
    assert payload == {
        "source": "Trục tỉnh Lâm Đồng",
        "fired": fired,
        "resolved": ["inbox-waiting:C"],
    }
    assert signature == sign_body("hook-secret", body)
    ((rcpts, msg),) = box.messages
    assert rcpts == ["ops@lamdong.gov.vn"]
    assert "crl-stale:A" in msg["Subject"]
    text = msg.get_payload(decode=True).decode("utf-8")
    assert "resolved" in text and "inbox-waiting:C" in text


async def test_sender_reports_failures_without_raising(hook: Hook) -> None:
    hook.status = 500
    dead_port = _free_port()
    sender = AlertSender(
        "axis",
        webhook=WebhookTarget(hook.url),
        smtp=SmtpTarget("127.0.0.1", dead_port, "a@x", ("b@x",), timeout=2),
    )
    try:
        errors = await sender.notify([_alert("crl-stale:A").to_dict()])
    finally:
        await sender.close()
    assert len(errors) == 2
    assert "HTTP 500" in errors[0] and "e-mail" in errors[1]


# --- the alert job in a daemon ----------------------------------------------------------------


async def test_daemon_alert_job_fires_once_and_resolves(
    tmp_path: Path, hook: Hook, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    dep = await create_dev_deployment(
        tmp_path / "dep",
        agencies=AGENCIES,
        systems=SYSTEMS,
        now=NOW,
        extra={
            "delivery": FAST_DELIVERY,
            "alerts": {
                "webhook_url": hook.url,
                "webhook_secret": "hook-secret",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "email_to": ["ops@lamdong.gov.vn"],
                "interval": 3600.0,
                "destination_failing_minutes": 0.001,
                "inbox_waiting_minutes": 0.001,
            },
        },
    )
    daemon: RunningDaemon = await start_daemon(dep.config)
    try:
        monitor = daemon.runner.app[MONITOR]
        await wait_for(lambda: monitor.running, what="the alert job")
        async with receiver() as endpoint, aiohttp.ClientSession() as api:
            await set_push_delivery(daemon.services.store, CITY, endpoint.url, "push-secret")
            province = native(daemon, dep, "qlvb.lamdong", api)
            status, _ = await province.send(signed_document(dep, PROVINCE, [DEPT, CITY]))
            assert status == 201
            await wait_for(
                lambda: sql(dep, "SELECT count(*) FROM deliveries WHERE state = 'dead'") == 1,
                what="the dead letter",
            )
            await asyncio.sleep(0.1)  # past the (tiny) thresholds

            step = await monitor.tick()
            keys = sorted(a.key for a in step.fired)
            assert keys == [
                "destination-failing:" + endpoint.url.rsplit("/", 1)[0],
                f"inbox-waiting:{DEPT}",
            ]
            assert len(hook.posts) == 1 and len(box.messages) == 1
            assert sorted(a["key"] for a in hook.posts[0][0]["fired"]) == keys

            # still failing, still waiting: nothing new is sent
            again = await monitor.tick()
            assert again.fired == () and again.resolved == ()
            assert len(hook.posts) == 1 and len(box.messages) == 1

            # the department takes its packet: that alert resolves
            dept = native(daemon, dep, "qlvb.lamdong", api)
            (item,) = await dept.inbox(agency=DEPT)
            assert (await dept.ack(item["delivery_id"]))[0] == 200
            cleared = await monitor.tick()
            assert cleared.resolved == (f"inbox-waiting:{DEPT}",) and cleared.fired == ()
            assert hook.posts[-1][0]["resolved"] == [f"inbox-waiting:{DEPT}"]
            assert len(box.messages) == 2
        # the overview shows the standing alert
        assert [a.key for a in monitor.active] == [keys[0]]
        assert sql(dep, "SELECT count(*) FROM events WHERE kind = 'alert.fired'") == 2
        assert sql(dep, "SELECT count(*) FROM events WHERE kind = 'alert.resolved'") == 1
    finally:
        await daemon.stop()


async def test_stale_crl_alert_from_the_loaded_trust_material(tmp_path: Path, hook: Hook) -> None:
    dep = await create_dev_deployment(
        tmp_path / "dep",
        agencies=AGENCIES,
        systems=SYSTEMS,
        now=NOW,
        extra={"alerts": {"webhook_url": hook.url, "interval": 3600.0}},
    )
    later = datetime.now(UTC) + timedelta(days=4000)  # past CRLs and certificates
    daemon = await start_daemon(dep.config, clock=lambda: later)
    try:
        monitor = daemon.runner.app[MONITOR]
        await wait_for(lambda: bool(hook.posts), what="the first evaluation at start")
        kinds = {a["kind"] for a in hook.posts[0][0]["fired"]}
        assert kinds == {"crl-stale", "cert-expiring"}
        assert {a.kind for a in monitor.active} == kinds
    finally:
        await daemon.stop()
