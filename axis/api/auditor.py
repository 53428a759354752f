"""Native API routes of the auditing side: signed receipts and the signature report.

Registered by the composition root next to :mod:`axis.api.native` (same prefix, same
error middleware, same bearer authentication).
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from aiohttp import web

from axis.api.common import json_response, services
from axis.api.native import PREFIX, authenticate, require_role
from axis.receipts import issue_receipt
from axis.reporting import SignatureQuery, signatures, signatures_dict
from axis_errors import InputError, NotFoundError

__all__ = ["add_routes"]


async def document_receipt(request: web.Request) -> web.Response:
    """``GET /api/v1/documents/{id}/receipt``: the axis's signed receipt (XML) for a
    stored packet; for its sender's systems, its recipients', auditors and admins."""
    caller = await authenticate(request)
    svc = services(request)
    document_id = request.match_info["document_id"]
    try:
        doc = await svc.store.get_document(document_id)
    except NotFoundError:
        doc = None
    if doc is None or not await svc.may_see_document(caller, doc):
        raise NotFoundError(
            f"No document {document_id} visible to this caller.", code="document.not-found"
        )
    receipt = await issue_receipt(svc, document_id)
    if receipt is None:
        raise NotFoundError(
            "This axis has no signing certificate (audit.cert): it issues no receipts.",
            code="receipts.not-configured",
        )
    return web.Response(body=receipt, content_type="application/xml", charset="utf-8")


def _day(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"Query parameter {name!r} must be a date (YYYY-MM-DD).", code="input.bad-param"
        ) from None


def _many(request: web.Request, name: str) -> tuple[str, ...] | None:
    values = [v for raw in request.query.getall(name, []) for v in raw.split(",") if v]
    return tuple(values) or None


async def signature_report(request: web.Request) -> web.Response:
    """``GET /api/v1/reports/signatures`` (auditor, admin): packets per signature verdict
    for a slice, the share validly signed, certificates and CAs used, trend by month."""
    caller = await authenticate(request)
    require_role(caller, "auditor", "admin")
    q = SignatureQuery(  # checked by the engine (input.bad-param)
        day_from=_day(request, "from"),
        day_to=_day(request, "to"),
        by=cast(Any, request.query.get("by", "agency")),
        recipient_tier=request.query.get("recipient_tier", "*"),
        sender_tiers=_many(request, "sender_tier"),
        agencies=_many(request, "agency"),
        kind=cast(Any, request.query.get("kind", "document")),
    )
    report = await signatures(services(request).store, q)
    return json_response(signatures_dict(q, report))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/documents/{{document_id}}/receipt", document_receipt)
    r.add_get(f"{PREFIX}/reports/signatures", signature_report)
