"""Native API routes of the auditing side: signed receipts and the signature report.

Registered by the composition root next to :mod:`axis.api.native` (same prefix, same
error middleware, same bearer authentication).
"""

from __future__ import annotations

from aiohttp import web

from axis.api.common import services
from axis.api.native import PREFIX, authenticate
from axis.receipts import issue_receipt
from axis_errors import NotFoundError

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


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(f"{PREFIX}/documents/{{document_id}}/receipt", document_receipt)
