"""The admin dashboard and the operational endpoints of the daemon.

``setup(app)`` (called by ``axis.app.build_web_app``) adds:

- the dashboard pages at ``/`` (:mod:`axis.web.pages`, login in :mod:`axis.web.auth`,
  the reports page in :mod:`axis.web.reports` with its charts in :mod:`axis.web.charts`,
  templates in ``templates/``, rendering and the SVG chart in :mod:`axis.web.render`);
- ``/metrics``, ``/healthz``, ``/readyz`` (:mod:`axis.web.health`);
- the alert job (:mod:`axis.monitor`) tied to the app's lifetime.
"""

from __future__ import annotations

from aiohttp import web

from axis.api.common import SERVICES
from axis.metrics import AxisMetrics
from axis.monitor import AlertMonitor
from axis.sources import Sources
from axis.tracing import install_tracing
from axis.web.auth import LoginThrottle
from axis.web.health import HEALTH_SOURCES, METRICS, MONITOR, add_health_routes
from axis.web.pages import ACTIVE_ALERTS, ENV, SOURCES, THROTTLE, add_page_routes
from axis.web.render import environment
from axis.web.reports import add_report_routes

__all__ = ["setup"]


def setup(app: web.Application) -> None:
    """Register the dashboard, metrics, health and the alert job on the daemon's app."""
    services = app[SERVICES]
    sources = Sources(services)
    metrics = AxisMetrics()
    services.intake.observer = metrics
    install_tracing(services)
    monitor = AlertMonitor(services, sources)
    app[ENV] = environment()
    app[SOURCES] = sources
    app[HEALTH_SOURCES] = sources
    app[METRICS] = metrics
    app[MONITOR] = monitor
    app[THROTTLE] = LoginThrottle()
    app[ACTIVE_ALERTS] = monitor.active
    add_page_routes(app)
    add_report_routes(app)
    add_health_routes(app)
    app.cleanup_ctx.append(monitor.context)
