"""The dashboard's pages and actions (handlers). Every page needs a session; every
action is a POST checked for CSRF and audited by the store function it calls."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment

from axis.api.common import services
from axis.sources import Sources
from axis.store import counter_day
from axis.store import deliveries as dq
from axis.store.attachments import attachment_verdicts_of
from axis.store.dashboard import overview
from axis.web import auth
from axis.web.auth import SESSION, check_post, login_required, safe_next
from axis.web.render import day_chart, page
from axis_errors import AuthError, AxisError, InputError, NotFoundError

__all__ = ["ENV", "SOURCES", "THROTTLE", "add_page_routes"]

log = logging.getLogger("axis.web")

ENV: web.AppKey[Environment] = web.AppKey("web_env", Environment)
SOURCES: web.AppKey[Sources] = web.AppKey("web_sources", Sources)
THROTTLE: web.AppKey[auth.LoginThrottle] = web.AppKey("web_throttle", auth.LoginThrottle)
ACTIVE_ALERTS: web.AppKey[list[Any]] = web.AppKey("web_active_alerts", list)

PAGE_SIZE: Final = 100
DEAD_PAGE: Final = 200
STATES: Final = ("pending", "fetched", "acked", "dead")
DONE_MESSAGES: Final = {
    "requeued": "Đã xếp lại để gửi ngay / requeued for immediate delivery",
    "not-dead": "Bản gửi này không còn là thư chết / this delivery is no longer dead",
    "requeued-all": "Đã xếp lại mọi thư chết của điểm nhận / all dead letters requeued",
    "password": "Đã đổi mật khẩu / password changed",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _render(request: web.Request, template: str, status: int = 200, **ctx: Any) -> web.Response:
    session = request.get(SESSION)
    svc = services(request)
    done = request.query.get("done")
    return page(
        request.app[ENV],
        template,
        status,
        session=session,
        csrf=session.csrf_token if session else "",
        axis_name=svc.config.axis.name,
        organ_id=svc.config.axis.organ_id,
        path=request.path,
        notice=DONE_MESSAGES.get(done or ""),
        count=request.query.get("n"),
        **ctx,
    )


def html_errors(handler: Handler) -> Handler:
    """Refusals as a page (or JSON for XHR) with the error's code and sentence."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except AxisError as exc:
            status = exc.http_status
            if isinstance(exc, AuthError) and exc.code != "auth.unauthenticated":
                status = 403
            log.info("dashboard refused %s %s: [%s]", request.method, request.path, exc.code)
            if auth.wants_json(request):
                return web.json_response({"error": exc.to_dict()}, status=status)
            return _render(request, "error.html", status, error=exc)

    wrapped.__name__ = handler.__name__
    return wrapped


def _int(request: web.Request, name: str, value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{name} must be a whole number.", code="input.bad-param") from None


# --- pages ---------------------------------------------------------------------------------


@login_required()
async def overview_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    now = svc.clock()
    ov = await overview(svc.store, counter_day(now))
    queues = await request.app[SOURCES].queue_stats(now)
    return _render(
        request,
        "overview.html",
        ov=ov,
        chart=day_chart(ov.days),
        queues=queues,
        paused=[q for q in queues if q.paused],
        alerts=request.app[ACTIVE_ALERTS],
        now=now,
    )


@login_required()
async def queues_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    now = svc.clock()
    queues = await request.app[SOURCES].queue_stats(now)
    return _render(request, "queues.html", queues=queues, now=now)


@login_required()
async def queue_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    destination = request.query.get("d", "")
    if not destination:
        raise InputError("Name a destination (?d=...).", code="input.bad-param")
    state: str | None = request.query.get("state") or "pending"  # the queue proper
    if state == "all":  # the destination's whole history (slower on big stores)
        state = None
    if state is not None and state not in STATES:
        raise InputError(f"state must be one of {', '.join(STATES)}.", code="input.bad-param")
    after = _int(request, "after", request.query.get("after"))
    rows = await dq.list_deliveries(
        svc.store, destination=destination, state=state, limit=PAGE_SIZE + 1, after_id=after
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    now = svc.clock()
    stats = next(
        (q for q in await request.app[SOURCES].queue_stats(now) if q.destination == destination),
        None,
    )
    next_url = None
    if more:
        query = {"d": destination, "after": str(rows[-1].delivery_id)}
        query["state"] = state or "all"
        next_url = "/queue?" + urlencode(query)
    return _render(
        request,
        "queue.html",
        destination=destination,
        state=state,
        states=STATES,
        rows=rows,
        stats=stats,
        next_url=next_url,
        qs=lambda **kw: urlencode({k: v for k, v in kw.items() if v}),
        now=now,
    )


@login_required()
async def delivery_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    delivery_id = _int(request, "delivery id", request.match_info["id"])
    assert delivery_id is not None
    delivery = await dq.get_delivery(svc.store, delivery_id)
    history = await dq.delivery_history(svc.store, delivery_id)
    return _render(request, "delivery.html", d=delivery, history=history)


@login_required()
async def dead_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    rows = await dq.list_deliveries(svc.store, state="dead", limit=DEAD_PAGE)
    groups: dict[str, list[dq.QueuedDelivery]] = {}
    for r in rows:
        groups.setdefault(r.destination, []).append(r)
    totals = {q.destination: q.dead for q in await request.app[SOURCES].queue_stats(svc.clock())}
    return _render(
        request, "dead.html", groups=groups, totals=totals, shown=len(rows), limit=DEAD_PAGE
    )


@login_required("admin")
async def retry_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    check_post(request, form)
    delivery_id = _int(request, "delivery_id", str(form.get("delivery_id", "")))
    if delivery_id is None:
        raise InputError("Name the delivery to retry.", code="input.bad-param")
    svc = services(request)
    actor = request[SESSION].principal
    requeued = await dq.requeue(svc.store, delivery_id, actor=actor)
    log.info("%s requeued delivery %s: %s", actor, delivery_id, requeued)
    back = safe_next(str(form.get("back") or ""), "/dead")
    sep = "&" if "?" in back else "?"
    raise web.HTTPSeeOther(f"{back}{sep}done={'requeued' if requeued else 'not-dead'}")


@login_required("admin")
async def retry_all_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    check_post(request, form)
    destination = str(form.get("destination") or "")
    if not destination:
        raise InputError("Name the destination.", code="input.bad-param")
    svc = services(request)
    actor = request[SESSION].principal
    n = await dq.requeue_destination(svc.store, destination, actor=actor)
    log.info("%s requeued %d dead letters of %s", actor, n, destination)
    raise web.HTTPSeeOther(f"/dead?done=requeued-all&n={n}")


@login_required()
async def documents_page(request: web.Request) -> web.StreamResponse:
    """Find a document by its axis id, or by sender + edXML DocumentId."""
    svc = services(request)
    q = request.query.get("q", "").strip()
    sender = request.query.get("from", "").strip()
    if q and not sender:
        try:
            await svc.store.get_document(q)
        except NotFoundError:
            pass
        else:
            raise web.HTTPSeeOther(f"/documents/{q}")
    found = None
    if q and sender:
        found = await svc.store.find_document(sender, q)
        if found is not None:
            raise web.HTTPSeeOther(f"/documents/{found.id}")
    return _render(request, "documents.html", q=q, sender=sender, searched=bool(q))


@login_required()
async def document_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    document_id = request.match_info["id"]
    doc = await svc.store.get_document(document_id)
    trace = await svc.store.document_trace(document_id)
    attachments = await attachment_verdicts_of(svc.store, document_id)
    return _render(request, "document.html", doc=doc, trace=trace, attachments=attachments)


@login_required()
async def national_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    now = svc.clock()
    sources = request.app[SOURCES]
    health = await sources.national_health()
    queue = next((q for q in await sources.queue_stats(now) if q.destination == dq.NATIONAL), None)
    return _render(
        request,
        "national.html",
        health=health,
        queue=queue,
        now=now,
        config=svc.config.national,
    )


@login_required()
async def certificates_page(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    now = svc.clock()
    sources = request.app[SOURCES]
    days = svc.config.alerts.cert_expiry_days
    return _render(
        request,
        "certificates.html",
        trust=sources.trust_certs(),
        agency=await sources.agency_certs(),
        crls=sources.crls(),
        now=now,
        warn_days=days,
    )


# --- login / logout / password ---------------------------------------------------------


async def login_page(request: web.Request) -> web.StreamResponse:
    return _render(request, "login.html", next=safe_next(request.query.get("next")), failed=False)


async def login_action(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    form = await request.post()
    if not auth.same_origin(request):
        raise AuthError("Log in from the dashboard's own login page.", code="auth.csrf")
    client = request.remote or "?"
    throttle = request.app[THROTTLE]
    target = safe_next(str(form.get("next") or ""))
    if throttle.blocked(client):
        resp = _render(request, "login.html", 429, next=target, failed=True, throttled=True)
        return resp
    name = str(form.get("name") or "").strip()[:64]
    password = str(form.get("password") or "")[:1024]
    token = str(form.get("token") or "").strip()[:256]
    principal = None
    if token:
        principal = await auth.check_token(request, token)
    elif name and password:
        principal = await auth.check_password(request, name, password)
    if principal is None:
        throttle.failed(client)
        await svc.store.record_event(
            "web.login-failed",
            actor=f"user:{name}" if name else "token",
            detail={"client": client},
        )
        return _render(request, "login.html", 401, next=target, failed=True)
    throttle.succeeded(client)
    await svc.store.record_event("web.login", actor=principal.id, detail={"client": client})
    resp = web.HTTPSeeOther("/password" if principal.must_change else target)
    await auth.start_session(
        request, resp, principal.id, principal.role, must_change=principal.must_change
    )
    raise resp


@login_required(allow_must_change=True)
async def logout_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    check_post(request, form)
    await services(request).store.record_event("web.logout", actor=request[SESSION].principal)
    resp = web.HTTPSeeOther("/login")
    await auth.end_session(request, resp)
    raise resp


@login_required(allow_must_change=True)
async def password_page(request: web.Request) -> web.StreamResponse:
    return _render(request, "password.html", problem=None)


@login_required(allow_must_change=True)
async def password_action(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    check_post(request, form)
    session = request[SESSION]
    if not session.principal.startswith("user:"):
        raise InputError(
            "Systems log in with their token; only users have passwords.", code="input.bad-param"
        )
    name = session.principal.removeprefix("user:")
    current = str(form.get("current") or "")
    new = str(form.get("new") or "")
    problem = None
    if await auth.check_password(request, name, current) is None:
        problem = "Mật khẩu hiện tại không đúng / the current password is wrong"
    elif len(new) < auth.MIN_PASSWORD or len(new) > 1024:
        n = auth.MIN_PASSWORD
        problem = f"Mật khẩu mới cần ít nhất {n} ký tự / at least {n} characters"
    elif new != str(form.get("confirm") or ""):
        problem = "Hai mật khẩu mới không khớp / the new passwords differ"
    elif new == current:
        problem = "Mật khẩu mới phải khác / the new password must differ"
    if problem:
        return _render(request, "password.html", 400, problem=problem)
    await auth.change_password(request, name, new)  # ends every session of this user
    resp = web.HTTPSeeOther("/?done=password")
    await auth.start_session(request, resp, session.principal, session.role, must_change=False)
    raise resp


@functools.cache
def _css() -> str:
    return resources.files("axis.web").joinpath("static/axis.css").read_text(encoding="utf-8")


async def stylesheet(request: web.Request) -> web.StreamResponse:
    resp = web.Response(text=_css(), content_type="text/css", charset="utf-8")
    resp.headers["Cache-Control"] = "max-age=3600"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def add_page_routes(app: web.Application) -> None:
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/", overview_page),
        ("GET", "/queues", queues_page),
        ("GET", "/queue", queue_page),
        ("GET", "/deliveries/{id}", delivery_page),
        ("GET", "/dead", dead_page),
        ("POST", "/dead/retry", retry_action),
        ("POST", "/dead/retry-all", retry_all_action),
        ("GET", "/documents", documents_page),
        ("GET", "/documents/{id}", document_page),
        ("GET", "/national", national_page),
        ("GET", "/certificates", certificates_page),
        ("GET", "/login", login_page),
        ("POST", "/login", login_action),
        ("POST", "/logout", logout_action),
        ("GET", "/password", password_page),
        ("POST", "/password", password_action),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, html_errors(handler))
    app.router.add_get("/static/axis.css", stylesheet)
