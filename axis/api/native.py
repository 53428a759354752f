"""The native REST API under ``/api/v1``: JSON, bearer tokens, errors as
``{"error": {"code", "message"}}``. Its OpenAPI document is ``axis.api.openapi``."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from aiohttp import web

from axis.api.common import int_param, json_response, log_refusal, read_body, services
from axis.api.openapi import openapi_document
from axis.directory import Agency, normalize_code
from axis.hops import hops_of_answer, hops_to_json
from axis.intake import Caller
from axis.receipts import issue_receipt
from axis.reporting import ExchangeQuery
from axis.reporting import exchange as exchange_report_of
from axis_errors import AuthError, AxisError, InputError, NotFoundError

PREFIX = "/api/v1"
CALLER: web.RequestKey[Caller] = web.RequestKey("caller", Caller)


class Unauthenticated(AuthError):
    """No credentials, or none this axis knows: HTTP 401 with a Bearer challenge (an
    ``AuthError`` is otherwise 403, for a known caller that may not do something)."""

    default_code = "auth.unauthenticated"
    http_status = 401


def error_response(exc: AxisError) -> web.Response:
    response = json_response({"error": exc.to_dict()}, status=exc.http_status)
    if exc.http_status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="axis"'
    return response


@web.middleware
async def native_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    if not request.path.startswith(PREFIX):
        response: web.StreamResponse = await handler(request)
        return response
    try:
        response = await handler(request)
    except AxisError as exc:
        log_refusal(request, exc)
        return error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status, "http.error")
        return json_response({"error": {"code": code, "message": exc.reason}}, status=exc.status)
    return response


async def authenticate(request: web.Request) -> Caller:
    """Bearer token, or (over mTLS) the client certificate registered for a system."""
    cached: Caller | None = request.get(CALLER)
    if cached is not None:
        return cached
    svc = services(request)
    header = request.headers.get("Authorization", "")
    caller: Caller | None = None
    if header.startswith("Bearer "):
        caller = await svc.caller_by_token(header[7:].strip())
    elif not header:
        caller = await svc.caller_by_client_cert(request)
    if caller is None:
        raise Unauthenticated(
            "A valid bearer token (Authorization: Bearer …) or a registered client "
            "certificate is required.",
            code="auth.unauthenticated",
        )
    request[CALLER] = caller
    return caller


def require_role(caller: Caller, *roles: str) -> None:
    if caller.role not in roles:
        raise AuthError(
            f"This needs the {' or '.join(roles)} role; system {caller.system_id!r} is "
            f"{caller.role}.",
            code="auth.forbidden",
        )


def _agencies_param(request: web.Request, caller: Caller) -> list[str]:
    """The agencies whose inbox is asked for: all the caller's, or one it speaks for."""
    wanted = request.query.get("agency")
    if wanted:
        if not caller.may_act_for(wanted):
            raise AuthError(
                f"System {caller.system_id!r} does not speak for {wanted}.",
                code="auth.not-your-agency",
            )
        return [wanted]
    return list(caller.patterns)


def _date_param(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"Query parameter {name!r} must be a date (YYYY-MM-DD).", code="input.bad-param"
        ) from None


async def send_packet(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "agency", "admin")
    svc = services(request)
    body = await read_body(request, svc.config.server.max_body_bytes)
    accepted = await svc.intake.submit(body, caller, channel="native")
    # signed by the axis (XML) now that it is committed, in one batch with the other
    # packets of its group commit; a duplicate's describes the stored original
    receipt = await issue_receipt(svc, accepted.document_id, accepted.stored)
    return json_response(
        accepted.answer
        | {
            "duplicate": not accepted.created,
            "receipt": receipt.decode("utf-8") if receipt is not None else None,
        },
        status=201 if accepted.created else 200,
    )


async def list_inbox(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "agency", "admin")
    svc = services(request)
    kind = request.query.get("kind")
    if kind not in (None, "document", "status"):
        raise InputError("kind must be 'document' or 'status'.", code="input.bad-param")
    items = await svc.store.list_inbox(
        _agencies_param(request, caller),
        kind=kind,
        limit=min(int_param(request, "limit", 100) or 100, 1000),
        after_id=int_param(request, "after", None),
    )
    return json_response({"items": [svc.inbox_item_json(i) for i in items]})


async def fetch_item(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "agency", "admin")
    svc = services(request)
    delivery_id = _path_int(request, "delivery_id")
    item, data = await svc.store.fetch_delivery(delivery_id, list(caller.patterns))
    hops = hops_of_answer((await svc.store.get_document(item.document_id)).answer)
    headers = {
        "X-Axis-Trace": hops_to_json(hops),  # the axes it went through (ADR 0010)
        "X-Axis-Document-Id": item.document_id,
        "X-Axis-Delivery-Id": str(item.delivery_id),
        "X-Axis-Verdict": item.verdict,
        "X-Axis-Kind": item.kind,
    }
    return web.Response(body=data, content_type="application/xml", charset="utf-8", headers=headers)


async def ack_item(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "agency", "admin")
    svc = services(request)
    delivery_id = _path_int(request, "delivery_id")
    first = await svc.store.ack_delivery(delivery_id, list(caller.patterns))
    return json_response({"delivery_id": delivery_id, "acknowledged": True, "first": first})


async def document_trace(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    svc = services(request)
    document_id = request.match_info["document_id"]
    try:
        doc = await svc.store.get_document(document_id)
        visible = await svc.may_see_document(caller, doc)
    except NotFoundError:
        visible = False  # unknown: answered exactly like a document the caller may not see
    if not visible:
        raise NotFoundError(
            f"No document {document_id} visible to this caller.", code="document.not-found"
        )
    trace = await svc.store.document_trace(document_id)
    return json_response(
        {"document": svc.document_json(doc), "events": [svc.trace_json(t) for t in trace]}
    )


async def list_agencies(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin", "auditor")
    svc = services(request)
    agencies = await svc.store.list_agencies()
    return json_response({"agencies": [agency_json(a) for a in agencies]})


async def get_agency(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin", "auditor")
    svc = services(request)
    code = request.match_info["code"]
    agency = await svc.store.get_agency(code)
    if agency is None:
        raise NotFoundError(f"No agency {code} in the directory.", code="agency.not-found")
    return json_response(agency_json(agency))


async def put_agency(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin")
    svc = services(request)
    try:
        data = await request.json()
    except ValueError:
        raise InputError("The body must be a JSON object.", code="input.bad-json") from None
    if not isinstance(data, dict):
        raise InputError("The body must be a JSON object.", code="input.bad-json")
    code = request.match_info["code"]
    data.setdefault("code", code)
    agency = svc.agency_from_json(data)
    if agency.code != normalize_code(code):
        raise InputError(
            f"The body names agency {data['code']!r} but the path names {code!r}.",
            code="input.code-mismatch",
        )
    await svc.store.upsert_agency(agency)
    await svc.audit_admin(caller, "agency.upsert", {"code": agency.code})
    return json_response(agency_json(agency))


async def list_systems(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin")
    svc = services(request)
    systems = await svc.store.list_systems()
    return json_response({"systems": [svc.system_json(s) for s in systems]})


async def create_system(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "admin")
    svc = services(request)
    try:
        data = await request.json()
    except ValueError:
        raise InputError("The body must be a JSON object.", code="input.bad-json") from None
    created = await svc.create_system_from_json(data)
    await svc.audit_admin(caller, "system.create", {"systemid": created["systemid"]})
    return json_response(created, status=201)


async def exchange_counts(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    require_role(caller, "auditor", "admin")
    svc = services(request)
    query = ExchangeQuery(  # the report engine checks the values (input.bad-param)
        day_from=_date_param(request, "from"),
        day_to=_date_param(request, "to"),
        by=cast(Any, request.query.get("by", "agency")),
        scope=cast(Any, request.query.get("scope", "all")),
        # by the codes of the time, or agencies as they are today (after reorganizations)
        structure=cast(Any, request.query.get("structure", "time")),
    )
    return json_response((await exchange_report_of(svc.store, query)).as_dict())


async def openapi(request: web.Request) -> web.Response:
    svc = services(request)
    return json_response(
        openapi_document(svc.config.vxp.prefix, national=getattr(svc, "national", None) is not None)
    )


def agency_json(a: Agency) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "tier": a.tier,
        "parent": a.parent,
        "status": a.status,
        "successor": a.successor,
        "delivery": a.delivery_mode,
        "push_url": a.push_url,
    }


def _path_int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise NotFoundError("No such item.", code="inbox.not-found") from None


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/openapi.json", openapi)
    r.add_post(f"{PREFIX}/packets", send_packet)
    r.add_get(f"{PREFIX}/inbox", list_inbox)
    r.add_get(f"{PREFIX}/inbox/{{delivery_id}}", fetch_item)
    r.add_post(f"{PREFIX}/inbox/{{delivery_id}}/ack", ack_item)
    r.add_get(f"{PREFIX}/documents/{{document_id}}/trace", document_trace)
    r.add_get(f"{PREFIX}/agencies", list_agencies)
    r.add_get(f"{PREFIX}/agencies/{{code}}", get_agency)
    r.add_put(f"{PREFIX}/agencies/{{code}}", put_agency)
    r.add_get(f"{PREFIX}/systems", list_systems)
    r.add_post(f"{PREFIX}/systems", create_system)
    r.add_get(f"{PREFIX}/reports/exchange", exchange_counts)
