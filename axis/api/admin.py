"""Admin endpoints of the native API for the delivery queues (``/api/v1/admin``):
queue figures per destination, deliveries with their attempts, "retry now" of a dead
letter and "retry all" of a destination. Reading needs the admin or auditor role;
acting needs admin and is audited (the store records ``delivery.requeued`` /
``delivery.requeued-all`` with the caller as actor). Bearer tokens are not sent by
browsers on their own, so these JSON endpoints are not exposed to cross-site forgery.
"""

from __future__ import annotations

from aiohttp import web

from axis.api.common import int_param, json_response, services
from axis.api.native import PREFIX, authenticate, require_role
from axis_errors import NotFoundError

__all__ = ["add_routes"]

ADMIN = f"{PREFIX}/admin"


def _delivery_id(request: web.Request) -> int:
    try:
        return int(request.match_info["delivery_id"])
    except ValueError:
        raise NotFoundError("No such delivery.", code="deliveries.not-found") from None


async def list_queues(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin", "auditor")
    svc = services(request)
    include_pull = request.query.get("include_pull", "false").lower() in ("1", "true", "yes")
    now = svc.clock()
    stats = await svc.store.queue_stats(now, include_pull=include_pull)
    return json_response({"at": now.isoformat(), "queues": [s.as_dict() for s in stats]})


async def list_deliveries(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin", "auditor")
    svc = services(request)
    items = await svc.store.list_deliveries(
        destination=request.query.get("destination") or None,
        state=request.query.get("state") or None,
        limit=min(int_param(request, "limit", 100) or 100, 1000),
        after_id=int_param(request, "after", None),
    )
    return json_response({"deliveries": [d.as_dict() for d in items]})


async def show_delivery(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin", "auditor")
    svc = services(request)
    delivery_id = _delivery_id(request)
    item = await svc.store.get_delivery(delivery_id)
    attempts = await svc.store.delivery_history(delivery_id)
    return json_response({"delivery": item.as_dict(), "attempts": [a.as_dict() for a in attempts]})


async def retry_delivery(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin")
    svc = services(request)
    delivery_id = _delivery_id(request)
    requeued = await svc.store.requeue(delivery_id, actor=caller.system_id)
    if requeued and svc.delivery is not None:
        svc.delivery.wake()
    state = (await svc.store.get_delivery(delivery_id)).state
    return json_response({"delivery_id": delivery_id, "requeued": requeued, "state": state})


async def retry_all(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin")
    svc = services(request)
    destination = request.match_info["destination"]
    count = await svc.store.requeue_destination(destination, actor=caller.system_id)
    if svc.delivery is not None:
        svc.delivery.wake()
    return json_response({"destination": destination, "requeued": count})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{ADMIN}/queues", list_queues)
    r.add_post(f"{ADMIN}/queues/{{destination:.+}}/retry-all", retry_all)
    r.add_get(f"{ADMIN}/deliveries", list_deliveries)
    r.add_get(f"{ADMIN}/deliveries/{{delivery_id}}", show_delivery)
    r.add_post(f"{ADMIN}/deliveries/{{delivery_id}}/retry", retry_delivery)
