"""The dashboard over real HTTP (no browser): login, sessions, CSRF, roles, escaping,
security headers, ``/metrics``, ``/healthz``, ``/readyz`` and JSON logs with the
request id, against a daemon on loopback built by the composition root."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from axis.app import RunningDaemon, start_daemon
from axis.config import LogConfig
from axis.demodata import AGENCIES, PROVINCE, SYSTEMS
from axis.devsetup import DevDeployment, create_dev_deployment
from axis.logs import configure_logging
from axis.store.deliveries import set_push_delivery
from tests.dashboard_support import (
    FAST_DELIVERY,
    add_user,
    add_user_while_serving,
    receiver,
    sql,
    wait_for,
)
from tests.harness import NOW, native, signed_document

DEPT = "000.01.00.H36"
CITY = "000.30.00.H36"
PAGES = ("/", "/queues", "/queue?d=national", "/dead", "/documents", "/national", "/certificates")
NEW_PASSWORD = "correct horse battery staple"


@pytest.fixture
async def deployment(tmp_path: Path) -> DevDeployment:
    return await create_dev_deployment(
        tmp_path / "dep", agencies=AGENCIES, systems=SYSTEMS, now=NOW,
        extra={"delivery": FAST_DELIVERY},
    )  # fmt: skip


@pytest.fixture
async def daemon(deployment: DevDeployment) -> AsyncIterator[RunningDaemon]:
    d = await start_daemon(deployment.config)
    yield d
    await d.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: keep cookies for an IP address host (127.0.0.1), as a browser does
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        yield s


async def login(
    http: aiohttp.ClientSession, base: str, name: str, password: str, *, origin: str | None = None
) -> aiohttp.ClientResponse:
    async with http.post(
        f"{base}/login",
        data={"name": name, "password": password, "next": "/queues"},
        headers={"Origin": origin or base},
        allow_redirects=False,
    ) as r:
        await r.read()
        return r


async def csrf_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as r:
        text = await r.text()
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found, text[:500]
    return found.group(1)


async def admin_session(http: aiohttp.ClientSession, base: str, dep: DevDeployment) -> str:
    """Log in as a new admin, replace the one-time password; returns the CSRF token."""
    password = await add_user_while_serving(dep, "alice", "admin")
    r = await login(http, base, "alice", password)
    assert r.status == 303 and r.headers["Location"] == "/password"
    csrf = await csrf_of(http, f"{base}/password")
    async with http.post(
        f"{base}/password",
        data={"csrf": csrf, "current": password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        headers={"Origin": base},
        allow_redirects=False,
    ) as r:
        assert r.status == 303, await r.text()
    return await csrf_of(http, f"{base}/")


async def test_no_page_without_login(daemon: RunningDaemon, http: aiohttp.ClientSession) -> None:
    base = daemon.base_url
    for path in PAGES:
        async with http.get(base + path, allow_redirects=False) as r:
            assert r.status == 303, path
            assert r.headers["Location"].startswith("/login?next=")
        async with http.get(base + path, headers={"X-Requested-With": "XMLHttpRequest"}) as r:
            assert r.status == 401, path
            assert (await r.json())["error"]["code"] == "auth.login-required"
    async with http.post(f"{base}/dead/retry", data={"delivery_id": "1"}) as r:
        assert r.status in (200, 401)  # redirected to the login page, never acted
        assert str(r.url).startswith(f"{base}/login")
    async with http.get(f"{base}/healthz") as r:
        assert r.status == 200 and (await r.json()) == {"status": "ok"}
    async with http.get(f"{base}/login") as r:
        assert r.status == 200
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]


async def test_login_one_time_password_and_session_cookie(
    deployment: DevDeployment, daemon: RunningDaemon, http: aiohttp.ClientSession
) -> None:
    base = daemon.base_url
    password = await add_user_while_serving(deployment, "binh", "auditor")
    r = await login(http, base, "binh", "not it")
    assert r.status == 401
    r = await login(http, base, "nobody", password)
    assert r.status == 401
    r = await login(http, base, "binh", password)
    assert r.status == 303 and r.headers["Location"] == "/password"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; TLS deployments get Secure + __Host-
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert sql(deployment, "SELECT count(*) FROM web_sessions WHERE id_sha256 = ?", session_id) == 0
    # until the password is changed, every page leads to /password
    async with http.get(f"{base}/queues", allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"] == "/password"
    csrf = await csrf_of(http, f"{base}/password")
    async with http.post(
        f"{base}/password",
        data={"csrf": csrf, "current": password, "new": "short", "confirm": "short"},
        headers={"Origin": base},
    ) as resp:
        assert resp.status == 400
    async with http.post(
        f"{base}/password",
        data={"csrf": csrf, "current": password, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        headers={"Origin": base},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303
    for path in PAGES:
        async with http.get(base + path) as resp:
            assert resp.status == 200, path
            assert resp.headers["Cache-Control"] == "no-store"
    # the one-time password no longer works; the new one does
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        assert (await login(other, base, "binh", password)).status == 401
        assert (await login(other, base, "binh", NEW_PASSWORD)).status == 303


async def test_csrf_and_origin_are_required_for_actions(
    deployment: DevDeployment, daemon: RunningDaemon, http: aiohttp.ClientSession
) -> None:
    base = daemon.base_url
    csrf = await admin_session(http, base, deployment)
    requeues = "SELECT count(*) FROM events WHERE kind LIKE 'delivery.requeued%'"
    form = {"destination": "national", "csrf": csrf}
    bad = [
        ({"destination": "national"}, {"Origin": base}),  # no token
        ({**form, "csrf": "x" * 43}, {"Origin": base}),  # wrong token
        (form, {"Origin": "http://evil.example"}),  # another site
        (form, {}),  # neither Origin nor Referer
    ]
    for data, headers in bad:
        async with http.post(f"{base}/dead/retry-all", data=data, headers=headers) as r:
            assert r.status == 403, (data, headers)
            assert "auth.csrf" in await r.text()
    assert sql(deployment, requeues) == 0
    async with http.post(
        f"{base}/dead/retry-all", data=form, headers={"Referer": f"{base}/dead"},
        allow_redirects=False,
    ) as r:  # fmt: skip
        assert r.status == 303 and r.headers["Location"].startswith("/dead?done=requeued-all")
    assert sql(deployment, requeues) == 1
    assert (
        sql(deployment, "SELECT actor FROM events WHERE kind = 'delivery.requeued-all'")
        == "user:alice"
    )
    # a login form posted from another site is refused
    r = await login(http, base, "alice", NEW_PASSWORD, origin="http://evil.example")
    assert r.status == 403


async def test_token_login_and_roles(
    deployment: DevDeployment, daemon: RunningDaemon, http: aiohttp.ClientSession
) -> None:
    base = daemon.base_url

    async def token_login(session: aiohttp.ClientSession, token: str) -> int:
        async with session.post(
            f"{base}/login", data={"token": token}, headers={"Origin": base},
            allow_redirects=False,
        ) as r:  # fmt: skip
            return r.status

    assert await token_login(http, deployment.systems["qlvb.dalat"].token) == 401  # an agency
    assert await token_login(http, deployment.systems["kiemtoan"].token) == 303  # an auditor
    async with http.get(f"{base}/dead") as r:
        assert r.status == 200
        assert "retry-all" not in await r.text()  # auditors get no action buttons
    csrf = await csrf_of(http, f"{base}/")
    async with http.post(
        f"{base}/dead/retry", data={"delivery_id": "1", "csrf": csrf}, headers={"Origin": base}
    ) as r:
        assert r.status == 403
        assert "auth.forbidden" in await r.text()
    # logging out ends the session server-side
    async with http.post(
        f"{base}/logout", data={"csrf": csrf}, headers={"Origin": base}, allow_redirects=False
    ) as r:
        assert r.status == 303
    assert sql(deployment, "SELECT count(*) FROM web_sessions") == 0
    async with http.get(f"{base}/", allow_redirects=False) as r:
        assert r.status == 303


async def test_failed_logins_are_throttled(
    deployment: DevDeployment, daemon: RunningDaemon, http: aiohttp.ClientSession
) -> None:
    base = daemon.base_url
    password = await add_user_while_serving(deployment, "chi", "admin")
    for _ in range(10):
        assert (await login(http, base, "chi", "guess")).status == 401
    assert (await login(http, base, "chi", password)).status == 429
    assert sql(deployment, "SELECT count(*) FROM events WHERE kind = 'web.login-failed'") == 10


async def test_content_is_escaped(
    deployment: DevDeployment, daemon: RunningDaemon, http: aiohttp.ClientSession
) -> None:
    base = daemon.base_url
    evil = '<script>alert("x")</script>'
    async with aiohttp.ClientSession() as api:
        status, answer = await native(daemon, deployment, "qlvb.lamdong", api).send(
            signed_document(deployment, PROVINCE, [DEPT], subject=f"Công văn {evil}")
        )
    assert status == 201, answer
    await admin_session(http, base, deployment)
    async with http.get(f"{base}/documents/{answer['document_id']}") as r:
        text = await r.text()
    assert evil not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text
    # a hostile "next" never leads off the site
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiohttp.ClientSession(cookie_jar=jar) as other,
        other.post(
            f"{base}/login",
            data={"token": deployment.systems["quantri"].token, "next": "//evil.example/x"},
            headers={"Origin": base},
            allow_redirects=False,
        ) as r,
    ):
        assert r.status == 303 and r.headers["Location"] == "/"


def _metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_per_daemon(
    deployment: DevDeployment, daemon: RunningDaemon, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as api:
        province = native(daemon, deployment, "qlvb.lamdong", api)
        data = signed_document(deployment, PROVINCE, [DEPT], subject="Kế hoạch 2026")
        assert (await province.send(data))[0] == 201
        assert (await province.send(data))[0] == 200  # a duplicate
        tampered = data.replace("Kế hoạch 2026".encode(), "Kế hoạch 2027".encode())
        assert (await province.send(tampered))[0] == 422
        async with api.get(f"{daemon.base_url}/metrics") as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
    m = _metric
    received = m(text, "axis_packets_received_total", kind="document", verdict="valid")
    assert received == 1.0
    assert m(text, "axis_packets_duplicate_total", kind="document", channel="native") == 1.0
    assert m(text, "axis_packets_refused_total", reason="signature.invalid") == 1.0
    assert m(text, "axis_verify_seconds_count", verdict="valid") == 2.0
    assert m(text, "axis_verify_seconds_count", verdict="invalid") == 1.0
    assert m(text, "axis_queue_depth", destination=f"inbox:{DEPT}") == 1.0
    assert m(text, "axis_deliveries_by_state", state="pending") == 1.0
    assert m(text, "axis_counted_total", direction="refused") == 1.0
    crls = [ln for ln in text.splitlines() if ln.startswith("axis_crl_next_update_seconds{")]
    assert len(crls) == 2 and all(float(ln.rsplit(" ", 1)[1]) > 0 for ln in crls)
    assert "Kế hoạch" not in text  # no document content
    # a second daemon in the same process has its own registry
    other = await create_dev_deployment(
        tmp_path / "other", agencies=AGENCIES, systems=SYSTEMS, now=NOW
    )
    second = await start_daemon(other.config)
    try:
        async with aiohttp.ClientSession() as api, api.get(f"{second.base_url}/metrics") as r:
            text2 = await r.text()
        assert m(text2, "axis_packets_received_total", kind="document", verdict="valid") is None
    finally:
        await second.stop()


async def test_readyz(deployment: DevDeployment) -> None:
    fresh = await start_daemon(deployment.config)
    try:
        async with aiohttp.ClientSession() as api, api.get(f"{fresh.base_url}/readyz") as r:
            assert r.status == 200, await r.text()
            body = await r.json()
        assert body["ready"] is True
        assert body["checks"]["database"] == "ok" and body["checks"]["crls"] == "ok"
        assert body["checks"]["scheduler"] == "ok"
    finally:
        await fresh.stop()
    # a year on, the development CRLs are past their nextUpdate: not ready
    later = datetime.now(UTC) + timedelta(days=400)
    stale = await start_daemon(deployment.config, clock=lambda: later)
    try:
        async with aiohttp.ClientSession() as api, api.get(f"{stale.base_url}/readyz") as r:
            assert r.status == 503
            body = await r.json()
        assert body["ready"] is False and "stale" in body["checks"]["crls"]
    finally:
        await stale.stop()


async def test_json_logs_carry_the_request_id_into_delivery(
    deployment: DevDeployment, daemon: RunningDaemon
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = configure_logging(LogConfig(format="json", level="INFO"), stream=stream)
    try:
        async with receiver() as endpoint:
            endpoint.failing = False
            await set_push_delivery(daemon.services.store, CITY, endpoint.url, "s3cret-push")
            async with aiohttp.ClientSession() as api:
                data = signed_document(deployment, PROVINCE, [CITY], number="77")
                async with api.post(
                    f"{daemon.base_url}/api/v1/packets",
                    data=data,
                    headers={
                        "Authorization": f"Bearer {deployment.systems['qlvb.lamdong'].token}",
                        "X-Request-Id": "req-follow-me",
                    },
                ) as r:
                    assert r.status == 201
                    assert r.headers["X-Request-Id"] == "req-follow-me"
                    doc_id = (await r.json())["document_id"]
            await wait_for(lambda: len(endpoint.taken) == 1, what="the push")
            await wait_for(lambda: "delivered to" in stream.getvalue(), what="the delivery log")
    finally:
        root.removeHandler(handler)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    mine = [rec for rec in lines if rec.get("request_id") == "req-follow-me"]
    loggers = {rec["logger"] for rec in mine}
    assert "axis.intake" in loggers  # accepted
    assert "axis.delivery.trace" in loggers  # delivered, in another task, later
    assert any(rec.get("document_id") == doc_id for rec in mine)
    assert all({"ts", "level", "logger", "msg"} <= rec.keys() for rec in lines)
    assert "s3cret-push" not in stream.getvalue()
    assert sql(deployment, "SELECT request_id FROM documents WHERE id = ?", doc_id) == (
        "req-follow-me"
    )


def test_cli_add_user_refuses_a_taken_name(deployment: DevDeployment) -> None:
    from axis.cli import main

    add_user(deployment, "dung", "admin")
    assert main(["admin", "add-user", "dung", "--role", "admin", "--config",
                 str(deployment.config_path)]) == 2  # fmt: skip
    assert main(["admin", "add-user", "bad name!", "--role", "admin", "--config",
                 str(deployment.config_path)]) == 2  # fmt: skip
    assert main(["admin", "reset-password", "dung", "--config", str(deployment.config_path)]) == 0
    assert sql(deployment, "SELECT must_change FROM users WHERE name = 'dung'") == 1
    stored = sql(deployment, "SELECT password_hash FROM users WHERE name = 'dung'")
    assert stored.startswith("scrypt$")
