"""``/metrics`` (Prometheus), ``/healthz`` (the process answers) and ``/readyz`` (the
database answers, background jobs run, trust material is loaded and fresh).

No authentication: they carry no secrets and no document content (counts, queue names,
certificate issuers).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from axis.api.common import services
from axis.metrics import CONTENT_TYPE_LATEST, AxisMetrics
from axis.monitor import AlertMonitor
from axis.sources import Sources
from axis.store.dashboard import ping
from axis_errors import AxisError

__all__ = ["METRICS", "MONITOR", "add_health_routes"]

log = logging.getLogger("axis.web")

METRICS: web.AppKey[AxisMetrics] = web.AppKey("metrics", AxisMetrics)
MONITOR: web.AppKey[AlertMonitor] = web.AppKey("alert_monitor", AlertMonitor)
HEALTH_SOURCES: web.AppKey[Sources] = web.AppKey("health_sources", Sources)


async def metrics_handler(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    metrics = request.app[METRICS]
    try:
        await metrics.refresh(svc, request.app[HEALTH_SOURCES], svc.clock())
    except AxisError as exc:  # the store is down: still serve the in-process figures
        log.warning("metrics refresh failed: [%s] %s", exc.code, exc.message)
    resp = web.Response(body=metrics.render())
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    resp.charset = "utf-8"
    return resp


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    now = svc.clock()
    checks: dict[str, Any] = {}
    try:
        await ping(svc.store)
        checks["database"] = "ok"
    except AxisError as exc:
        checks["database"] = f"unavailable ({exc.code})"
    engine = getattr(svc, "delivery", None)
    if engine is not None and hasattr(engine, "scheduler_running"):
        checks["scheduler"] = "ok" if engine.scheduler_running else "stopped"
    monitor = request.app[MONITOR]
    if monitor.channels:
        checks["alerts"] = "ok" if monitor.running else "stopped"
    trust = svc.intake.settings.trust
    checks["trust"] = f"ok ({len(trust.anchors)} anchors)" if trust.anchors else "no anchors"
    if svc.config.policy.revocation_mode != "off":
        stale = [
            c.issuer
            for c in request.app[HEALTH_SOURCES].crls()
            if c.next_update is None or c.next_update <= now
        ]
        checks["crls"] = "ok" if not stale else {"stale": stale}
    ready = all(isinstance(v, str) and v.startswith("ok") for v in checks.values())
    return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)


def add_health_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
