"""The VXP-compatible API: what the vendor's SDK (SDKVXP 2.0.x) speaks, so that an
office system pointed at ``http://host:8080/vxp`` with its systemid/secret works as is.

Every call is authenticated by the HMAC over the received ``XroadVnpt-sign-header``
text; parameters come only from inside that signed JSON, and each call reads only the
parameter it defines (a long-lived SDK client carries left-over keys of earlier calls).
See ``adapters.vxp.protocol`` and ADR 0004.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.vxp.protocol import (
    call_params,
    check_hash_file,
    envelope_fail,
    envelope_ok,
    read_signature,
    unframe_edoc,
)
from axis.api.common import json_response, log_refusal, read_body, services
from axis.hops import hops_of_answer, parse_hops
from axis.intake import Caller
from axis.store import DocumentRecord
from axis_errors import AuthError, AxisError, InputError, NotFoundError
from edxml.b64 import encode_text

if TYPE_CHECKING:
    from axis.app import Services

SERVICE_TYPE = "eDoc"
RECEIVE_STATUS_DESC = {
    "pending": "Chưa nhận",
    "fetched": "Đã tải về",
    "acked": "Đã nhận",
    "failed": "Bên nhận báo lỗi",
}


def _receive_status_desc(state: str, reason: str | None) -> str:
    """The state in words; a failed delivery also says why (updateStatus fail's reason)."""
    desc = RECEIVE_STATUS_DESC.get(state, state)
    return f"{desc}: {reason}" if state == "failed" and reason else desc


def _wire_time(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


async def _authenticate(request: web.Request, call: str) -> tuple[Caller, dict[str, str]]:
    """Check the HMAC; return the caller and the parameters ``call`` defines."""
    svc = services(request)
    unverified = read_signature(request.headers)
    signed = unverified.verify(await svc.store.get_system_secret(unverified.systemid))
    system = await svc.store.get_system(signed.systemid)
    if system is None or system.disabled:
        raise AuthError(
            f"Unknown or disabled system {signed.systemid!r}.", code="vxp.unknown-system"
        )
    caller = svc.caller_of(system)
    if caller.role not in ("agency", "admin"):
        raise AuthError("Only agency systems use the VXP API.", code="auth.forbidden")
    return caller, call_params(signed, call)


def _kind_of(params: dict[str, str]) -> str:
    return "status" if params.get("messagetype") == "status" else "document"


def _doc_id(params: dict[str, str]) -> int:
    raw = params.get("docid") or params.get("docId") or ""
    try:
        return int(raw)
    except ValueError:
        raise NotFoundError(
            f"No document {raw!r} for this system.", code="vxp.unknown-doc"
        ) from None


def _wrap(handler: Any) -> Any:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            result: web.StreamResponse = await handler(request)
        except AxisError as exc:
            log_refusal(request, exc)
            # Old SDKs read DocId even on a failed sendEdoc: always present it.
            return json_response(
                envelope_fail(exc.code, exc.message, DocId=""), status=exc.http_status
            )
        return result

    run.__name__ = handler.__name__
    return run


async def send_edoc(request: web.Request) -> web.Response:
    caller, params = await _authenticate(request, "sendEdoc")
    svc = services(request)
    body = unframe_edoc(await read_body(request, svc.config.server.max_body_bytes + 2))
    claimed_hash = params.get("hash-file")
    if claimed_hash and not check_hash_file(body, claimed_hash):
        raise InputError("hash-file does not match the body.", code="vxp.hash-mismatch")
    # ``trace``: the hops an axis forwarding the packet recorded before us (ADR 0010)
    hops = parse_hops(params.get("trace"))
    accepted = await svc.intake.submit(
        body, caller, channel="vxp", claimed_from=params["from"], hops=hops
    )
    answer = accepted.answer
    return json_response(
        envelope_ok(
            DocId=accepted.document_id,
            verdict=answer.get("verdict"),
            duplicate=not accepted.created,
            trace=answer.get("hops", []),
        )
    )


async def get_received_edoc_list(request: web.Request) -> web.Response:
    caller, params = await _authenticate(request, "getReceivedEdocList")
    svc = services(request)
    kind = _kind_of(params)
    items = await svc.store.list_inbox(list(caller.patterns), kind=kind, limit=1000)
    data = [
        {
            "docId": str(i.delivery_id),
            "serviceType": SERVICE_TYPE,
            "messageType": "edoc" if i.kind == "document" else "status",
            "created_time": _wire_time(i.created_at),
            "updated_time": _wire_time(i.fetched_at or i.created_at),
            "from": i.sender_code,
            "to": i.target_code,
            "status": i.state,
            "status_desc": RECEIVE_STATUS_DESC.get(i.state, i.state),
        }
        for i in items
    ]
    return json_response(envelope_ok(data=data))


async def get_edoc(request: web.Request) -> web.Response:
    caller, params = await _authenticate(request, "getEdoc")
    svc = services(request)
    item, data = await svc.store.fetch_delivery(_doc_id(params), list(caller.patterns))
    hops = hops_of_answer((await svc.store.get_document(item.document_id)).answer)
    return json_response(
        envelope_ok(
            data=encode_text(data),
            trace=[h.to_json() for h in hops],  # an Axis extension (ADR 0010)
        )
    )


async def download_edoc(request: web.Request) -> web.Response:
    caller, params = await _authenticate(request, "downloadEdoc")
    svc = services(request)
    _, data = await svc.store.fetch_delivery(_doc_id(params), list(caller.patterns))
    return web.Response(body=data, content_type="application/xml", charset="utf-8")


async def update_status(request: web.Request) -> web.Response:
    caller, params = await _authenticate(request, "updateStatus")
    svc = services(request)
    delivery_id = _doc_id(params)
    status = params["status"]
    patterns = list(caller.patterns)
    if status == "done":
        await svc.store.ack_delivery(delivery_id, patterns)
    elif status == "fail":
        reason = params.get("reason") or "refused by the recipient system"
        await svc.store.fail_delivery(delivery_id, patterns, reason)
    else:  # "processing": the recipient has it in hand
        await svc.store.fetch_delivery(delivery_id, patterns)
    return json_response(envelope_ok())


async def _sent_documents(
    svc: Services, caller: Caller, kind: str, doc_id: str | None
) -> list[DocumentRecord]:
    """What getSentEdocList lists: the caller's sent packets of ``kind``, or only the one
    ``doc_id`` names (this axis's DocId, as sendEdoc answered it, or the edXML DocumentId).

    An all-digit ``doc_id`` is one of our *delivery* ids: a received item's id left in a
    long-lived SDK client's map by getEdoc (both calls use the key ``docId``). It names
    no sent document, so it is ignored rather than filtering the list to nothing.
    """
    patterns = list(caller.patterns)
    if doc_id is None or (doc_id.isascii() and doc_id.isdigit()):
        return await svc.store.sent_by(patterns, kind=kind, limit=1000)
    docs = await svc.store.sent_by(patterns, kind=kind, edxml_document_id=doc_id, limit=1000)
    if docs:
        return docs
    try:
        doc = await svc.store.get_document(doc_id)
    except NotFoundError:
        return []
    return [doc] if doc.kind == kind and caller.may_act_for(doc.sender_code) else []


async def get_sent_edoc_list(request: web.Request) -> web.Response:
    caller, params = await _authenticate(request, "getSentEdocList")
    svc = services(request)
    kind = _kind_of(params)
    docs = await _sent_documents(svc, caller, kind, params.get("docId"))
    data = [
        {
            "senderDocId": doc.id,
            "receiverDocId": str(d.delivery_id),
            "fromCode": doc.sender_code,
            "toCode": d.target_code,
            "sendStatus": "done",
            "sendStatusDesc": "Đã gửi",
            "receiveStatus": d.state,
            "receiveStatusDesc": _receive_status_desc(d.state, d.last_error),
            "title": doc.subject,
            "notation": doc.code_notation,
            "sentTime": _wire_time(doc.received_at),
            "receivedTime": _wire_time(d.acked_at) if d.acked_at else None,
            "messageType": "edoc" if doc.kind == "document" else "status",
            "serviceType": SERVICE_TYPE,
        }
        for doc in docs
        for d in doc.deliveries
    ]
    return json_response(envelope_ok(data=data))


async def _count(request: web.Request, call: str, kind: str) -> web.Response:
    caller, _ = await _authenticate(request, call)
    svc = services(request)
    items = await svc.store.list_inbox(list(caller.patterns), kind=kind, limit=100_000)
    return json_response(envelope_ok(count=len(items)))


async def count_receive_edoc(request: web.Request) -> web.Response:
    return await _count(request, "countReceiveEdoc", "document")


async def count_receive_status(request: web.Request) -> web.Response:
    return await _count(request, "countReceiveStatus", "status")


async def get_agencies_list(request: web.Request) -> web.Response:
    await _authenticate(request, "getAgenciesList")
    svc = services(request)
    agencies = await svc.store.list_agencies()
    replaced: dict[str, list[str]] = {}
    for a in agencies:
        if a.status == "closed" and a.successor:
            replaced.setdefault(a.successor, []).append(a.code)
    data = [
        {
            "id": a.code,
            "code": a.code,
            "name": a.name,
            "mail": None,
            "pid": a.parent,
            "oldCode": ",".join(replaced.get(a.code, ())) or None,
            "status": a.status,
            "successor": a.successor,
        }
        for a in agencies
    ]
    return json_response(envelope_ok(data=data))


def add_routes(app: web.Application, prefix: str) -> None:
    p = prefix.rstrip("/")
    r = app.router
    r.add_post(f"{p}/sendEdoc", _wrap(send_edoc))
    r.add_post(f"{p}/getReceivedEdocList", _wrap(get_received_edoc_list))
    r.add_post(f"{p}/getEdoc", _wrap(get_edoc))
    r.add_get(f"{p}/downloadEdoc", _wrap(download_edoc))
    r.add_post(f"{p}/downloadEdoc", _wrap(download_edoc))
    r.add_post(f"{p}/updateStatus", _wrap(update_status))
    r.add_post(f"{p}/getSentEdocList", _wrap(get_sent_edoc_list))
    r.add_get(f"{p}/countReceiveEdoc", _wrap(count_receive_edoc))
    r.add_post(f"{p}/countReceiveEdoc", _wrap(count_receive_edoc))
    r.add_get(f"{p}/countReceiveStatus", _wrap(count_receive_status))
    r.add_post(f"{p}/countReceiveStatus", _wrap(count_receive_status))
    r.add_post(f"{p}/getAgenciesList", _wrap(get_agencies_list))
    r.add_get(f"{p}/getAgenciesList", _wrap(get_agencies_list))
