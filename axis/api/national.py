"""Admin API of the national axis link: its health, and a poll on demand.

``GET  /api/v1/admin/national``       the link's health (last poll, last success, backlog,
                                      last error, last directory sync)
``POST /api/v1/admin/national/poll``  poll the national axis now; answers the poll's report
``POST /api/v1/admin/national/directory-sync``  sync the directory now

Admin role only; the actions are audited. Without a national axis (``national.endpoint``
unset) the actions answer 404 ``national.not-configured``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aiohttp import web

from axis.api.common import SERVICES, json_response, services
from axis.api.native import PREFIX, authenticate, require_role
from axis.national import NationalRuntime, national_health
from axis_errors import NotFoundError

if TYPE_CHECKING:
    from axis.app import Services

__all__ = ["add_routes", "national_ctx"]


def _runtime(svc: Services) -> NationalRuntime:
    runtime: NationalRuntime | None = getattr(svc, "national", None)
    if runtime is None:
        raise NotFoundError(
            "This axis has no national axis configured (national.endpoint).",
            code="national.not-configured",
        )
    return runtime


async def health(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin", "auditor")
    svc = services(request)
    body: dict[str, Any] = {
        "configured": getattr(svc, "national", None) is not None,
        "endpoint": svc.config.national.endpoint,
        **await national_health(svc.store),
    }
    return json_response(body)


async def poll(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin")
    svc = services(request)
    report = await _runtime(svc).poll()
    await svc.audit_admin(caller, "national.poll", {"listed": report.listed})
    return json_response(report.as_dict())


async def directory_sync(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin")
    svc = services(request)
    changes = await _runtime(svc).sync_directory(actor=caller.system_id)
    return json_response(changes.summary())


async def national_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the national link polls and syncs while the app runs
    (registered before the delivery engine's, so that it closes after it)."""
    runtime: NationalRuntime | None = getattr(app[SERVICES], "national", None)
    if runtime is None:
        yield
        return
    runtime.start()
    try:
        yield
    finally:
        await runtime.close()


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/admin/national", health)
    r.add_post(f"{PREFIX}/admin/national/poll", poll)
    r.add_post(f"{PREFIX}/admin/national/directory-sync", directory_sync)
