"""The OpenAPI 3.1 document of the native API, served at ``/api/v1/openapi.json``.

A test compares it with the routes the app really serves and validates real answers
against the schemas below, so it cannot drift silently.
"""

from __future__ import annotations

from typing import Any

from axis import __version__
from axis.api.delivery_doc import DELIVERY_SCHEMAS, delivery_paths


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Bad input"),
    "401": _json(
        _ref("Error"),
        "Not authenticated: no bearer token (nor, over mTLS, a registered client "
        "certificate), or one this axis does not know",
    ),
    "403": _json(_ref("Error"), "Not allowed for this caller (role, or agency it speaks for)"),
    "404": _json(_ref("Error"), "Not found (or not visible to this caller: the same answer)"),
    "422": _json(_ref("Error"), "A well-formed packet that cannot be accepted"),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "stable machine-readable code"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["document_id", "kind", "verdict", "recipients", "received_at", "duplicate"],
        "properties": {
            "document_id": {"type": "string"},
            "kind": {"enum": ["document", "status"]},
            "verdict": {"type": "string"},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "signer": {"anyOf": [_ref("Signer"), {"type": "null"}]},
            "recipients": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["addressed", "target", "route"],
                    "properties": {
                        "addressed": {"type": "string"},
                        "target": {"type": "string"},
                        "route": {"enum": ["local", "national"]},
                    },
                },
            },
            "notes": {"type": "array", "items": {"type": "string"}},
            "received_at": {"type": "string"},
            "duplicate": {"type": "boolean"},
            "hops": {"type": "array", "items": _ref("Hop")},
            "attachments": {
                "type": "array",
                "description": "documents: the PAdES verdict of each PDF attachment file",
                "items": _ref("AttachmentVerdict"),
            },
            "receipt": {
                "type": ["string", "null"],
                "description": "the axis's signed receipt (XML, XMLDSig with its own "
                "certificate over a batch's Merkle root, and this receipt's audit path): "
                "document id, packet SHA-256, verdict, time; null when the axis has no "
                "audit.cert",
            },
        },
    },
    "NationalHealth": {
        "type": "object",
        "required": ["configured", "endpoint", "poll", "directory_sync"],
        "properties": {
            "configured": {"type": "boolean"},
            "endpoint": {"type": ["string", "null"]},
            "poll": {
                "type": "object",
                "description": "last_poll, last_success, backlog, last_error, last_report",
            },
            "directory_sync": {
                "type": "object",
                "description": "last_sync, last_success, listed, added, updated, closed",
            },
        },
    },
    "PollReport": {
        "type": "object",
        "required": ["started_at", "listed", "accepted", "refused", "deferred", "ok"],
        "properties": {
            "started_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"]},
            "listed": {"type": "integer"},
            "accepted": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "echoes": {"type": "integer", "description": "our own packets handed back"},
            "refused": {"type": "integer", "description": "answered updateStatus fail"},
            "deferred": {"type": "integer", "description": "left for the next poll"},
            "ok": {"type": "boolean"},
            "error": {"type": ["string", "null"]},
            "refusals": {"type": "array", "items": {"type": "object"}},
        },
    },
    "DirectoryChanges": {
        "type": "object",
        "required": ["added", "updated", "closed"],
        "properties": {
            "added": {"type": "array", "items": {"type": "string"}},
            "updated": {"type": "array", "items": {"type": "string"}},
            "closed": {"type": "array", "items": {"type": "object"}},
            "ignored": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Hop": {
        "type": "object",
        "description": (
            "An axis the packet went through, recorded beside the sender's signed bytes "
            "(ADR 0010): its OrganId, when it took the packet, its verdict on the signature"
        ),
        "required": ["organ_id", "at"],
        "properties": {
            "organ_id": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
            "verdict": {"type": ["string", "null"]},
        },
    },
    "Signer": {
        "type": "object",
        "description": "The signing certificate of a signed packet",
        "required": ["subject", "issuer", "serial", "sha256", "not_before", "not_after"],
        "properties": {
            "subject": {"type": "string", "description": "RFC 4514"},
            "common_name": {"type": ["string", "null"]},
            "organ_id": {"type": ["string", "null"], "description": "OrganId in the subject"},
            "issuer": {"type": "string"},
            "serial": {"type": "string", "description": "lower-case hex"},
            "sha256": {"type": "string", "description": "lower-case hex, no separators"},
            "not_before": {"type": "string", "format": "date-time"},
            "not_after": {"type": "string", "format": "date-time"},
            "public_key_type": {"type": "string"},
            "public_key_size": {"type": ["integer", "null"]},
            "public_key_curve": {"type": ["string", "null"]},
            "key_usages": {"type": "array", "items": {"type": "string"}},
            "ekus": {"type": "array", "items": {"type": "string"}},
            "policy_oids": {"type": "array", "items": {"type": "string"}},
            "is_ca": {"type": "boolean"},
        },
    },
    "InboxItem": {
        "type": "object",
        "required": ["delivery_id", "document_id", "kind", "from", "to", "state", "verdict"],
        "properties": {
            "delivery_id": {"type": "integer"},
            "document_id": {"type": "string"},
            "kind": {"enum": ["document", "status"]},
            "from": {"type": "string"},
            "to": {"type": "string"},
            "addressed_to": {"type": "string"},
            "state": {"type": "string"},
            "verdict": {"type": "string"},
            "edxml_document_id": {"type": ["string", "null"]},
            "business_type": {
                "type": ["string", "null"],
                "description": "edXML BussinessDocType as text: 0 new, 1 revoke, 2 update, "
                "3 replace",
            },
            "status_code": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"]},
            "created_at": {"type": "string"},
        },
    },
    "Inbox": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("InboxItem")}},
    },
    "Ack": {
        "type": "object",
        "required": ["delivery_id", "acknowledged", "first"],
        "properties": {
            "delivery_id": {"type": "integer"},
            "acknowledged": {"type": "boolean"},
            "first": {"type": "boolean", "description": "false when already acknowledged"},
        },
    },
    "Document": {
        "type": "object",
        "required": ["document_id", "kind", "from", "verdict", "received_at", "packet_sha256"],
        "properties": {
            "document_id": {"type": "string", "description": "this axis's id (a ULID)"},
            "kind": {"enum": ["document", "status"]},
            "from": {"type": "string"},
            "edxml_document_id": {"type": ["string", "null"]},
            "business_type": {"type": ["string", "null"]},
            "status_code": {"type": ["string", "null"]},
            "response_for": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"]},
            "verdict": {"type": "string"},
            "received_at": {"type": "string", "format": "date-time"},
            "packet_sha256": {"type": "string"},
            "hops": {"type": "array", "items": _ref("Hop")},
        },
    },
    "Trace": {
        "type": "object",
        "required": ["document", "events"],
        "properties": {
            "document": _ref("Document"),
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["at", "kind", "node"],
                    "properties": {
                        "at": {"type": "string"},
                        "kind": {"type": "string"},
                        "node": {"type": "string"},
                        "agency": {"type": ["string", "null"]},
                        "status_code": {"type": ["string", "null"]},
                        "detail": {"type": "object"},
                    },
                },
            },
        },
    },
    "Agency": {
        "type": "object",
        "required": ["code", "name", "tier", "status"],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "tier": {"enum": ["central", "province", "district", "commune"]},
            "parent": {"type": ["string", "null"]},
            "status": {"enum": ["active", "closed"]},
            "successor": {"type": ["string", "null"]},
            "delivery": {"enum": ["pull", "push"]},
            "push_url": {"type": ["string", "null"]},
        },
    },
    "AgencyInput": {
        "type": "object",
        "description": "An agency to store; its code is the path's (a code here must equal it)",
        "required": ["name", "tier"],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string", "maxLength": 500},
            "tier": {"enum": ["central", "province", "district", "commune"]},
            "parent": {"type": ["string", "null"]},
            "status": {"enum": ["active", "closed"], "default": "active"},
            "successor": {"type": ["string", "null"]},
            "delivery": {"enum": ["pull", "push"], "default": "pull"},
            "push_url": {"type": ["string", "null"], "description": "needed for push"},
        },
    },
    "Agencies": {
        "type": "object",
        "required": ["agencies"],
        "properties": {"agencies": {"type": "array", "items": _ref("Agency")}},
    },
    "System": {
        "type": "object",
        "required": ["systemid", "role", "agencies"],
        "properties": {
            "systemid": {"type": "string"},
            "name": {"type": ["string", "null"]},
            "role": {"enum": ["agency", "auditor", "admin"]},
            "agencies": {"type": "array", "items": {"type": "string"}},
        },
    },
    "Systems": {
        "type": "object",
        "required": ["systems"],
        "properties": {"systems": {"type": "array", "items": _ref("System")}},
    },
    "NewSystem": {
        "type": "object",
        "required": ["agencies"],
        "properties": {
            "agencies": {"type": "array", "items": {"type": "string"}},
            "role": {"enum": ["agency", "auditor", "admin"]},
            "name": {"type": "string"},
            "systemid": {"type": "string"},
        },
    },
    "Credentials": {
        "type": "object",
        "required": ["systemid", "secret", "token"],
        "properties": {
            "systemid": {"type": "string"},
            "secret": {"type": "string", "description": "HMAC secret for the VXP API; shown once"},
            "token": {"type": "string", "description": "bearer token for this API; shown once"},
        },
    },
    "ReportLine": {
        "type": "object",
        "required": ["key", "sent", "received", "acknowledged", "refused", "total"],
        "properties": {
            "key": {"type": "string"},
            "sent": {"type": "integer"},
            "received": {"type": "integer"},
            "acknowledged": {"type": "integer"},
            "refused": {"type": "integer"},
            "total": {"type": "integer"},
            "validly_signed": {"type": "integer"},
            "signed_share": {"type": ["number", "null"]},
            "sent_by_verdict": {"type": "object"},
            "name": {"type": ["string", "null"], "description": "the agency's (by=agency)"},
            "tier": {"type": ["string", "null"], "description": "the agency's (by=agency)"},
            "sent_internal": {"type": "integer", "description": "sent within the axis"},
            "sent_national": {"type": "integer", "description": "sent to the national axis"},
        },
    },
    "TreeNode": {
        "type": "object",
        "required": ["code", "name", "tier", "own", "rollup", "children"],
        "properties": {
            "code": {"type": "string"},
            "name": {"type": "string"},
            "tier": {"type": ["string", "null"]},
            "own": _ref("ReportLine"),
            "rollup": _ref("ReportLine"),
            "children": {"type": "array", "items": _ref("TreeNode")},
        },
    },
    "SignatureLine": {
        "type": "object",
        "required": ["key", "total", "valid", "share", "by_verdict"],
        "properties": {
            "key": {"type": "string"},
            "total": {"type": "integer"},
            "valid": {"type": "integer"},
            "share": {"type": ["number", "null"]},
            "by_verdict": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    },
    "SignerLine": {
        "type": "object",
        "required": ["key", "subject", "issuer", "total", "valid"],
        "properties": {
            "key": {"type": "string", "description": "certificate SHA-256, or the issuer"},
            "subject": {"type": ["string", "null"]},
            "issuer": {"type": ["string", "null"]},
            "total": {"type": "integer"},
            "valid": {"type": "integer"},
        },
    },
    "SignatureReport": {
        "type": "object",
        "required": ["by", "lines", "total", "trend", "signers", "issuers"],
        "properties": {
            "from": {"type": ["string", "null"]},
            "to": {"type": ["string", "null"]},
            "recipient_tier": {"type": "string"},
            "sender_tiers": {"type": ["array", "null"], "items": {"type": "string"}},
            "agencies": {"type": ["array", "null"], "items": {"type": "string"}},
            "kind": {"enum": ["document", "status", "all"]},
            "by": {"enum": ["agency", "tier", "month", "all"]},
            "lines": {"type": "array", "items": _ref("SignatureLine")},
            "total": _ref("SignatureLine"),
            "trend": {"type": "array", "items": _ref("SignatureLine")},
            "signers": {"type": "array", "items": _ref("SignerLine")},
            "issuers": {"type": "array", "items": _ref("SignerLine")},
            "carriers": {
                "type": "object",
                "description": "kind=document: documents validly signed in the envelope "
                "(XMLDSig), in a PDF attachment (PAdES), both, neither",
                "required": ["lines", "total", "trend"],
                "properties": {
                    "lines": {"type": "array", "items": _ref("CarrierLine")},
                    "total": _ref("CarrierLine"),
                    "trend": {"type": "array", "items": _ref("CarrierLine")},
                },
            },
        },
    },
    "AttachmentVerdict": {
        "type": "object",
        "required": ["content_id", "name", "verdict", "signatures", "reasons"],
        "properties": {
            "content_id": {"type": "string"},
            "name": {"type": "string", "description": "file name (a ZIP member's name)"},
            "verdict": {
                "enum": [
                    "valid",
                    "invalid",
                    "untrusted",
                    "revoked",
                    "expired",
                    "not-yet-valid",
                    "weak-algorithm",
                    "unsigned",
                ]
            },
            "signatures": {"type": "integer"},
            "signer_subject": {"type": ["string", "null"]},
            "signer_sha256": {"type": ["string", "null"]},
            "issuer": {"type": ["string", "null"]},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "sha256": {"type": "string"},
            "size": {"type": "integer"},
        },
    },
    "CarrierLine": {
        "type": "object",
        "required": ["key", "total", "both", "envelope_only", "attachment_only", "neither"],
        "properties": {
            "key": {"type": "string"},
            "total": {"type": "integer"},
            "both": {"type": "integer"},
            "envelope_only": {"type": "integer"},
            "attachment_only": {"type": "integer"},
            "neither": {"type": "integer"},
            "signed_anywhere": {"type": "integer"},
            "by_attachments": {
                "type": "object",
                "description": "documents per attachment summary (none: no PDF)",
                "additionalProperties": {"type": "integer"},
            },
        },
    },
    "ExchangeReport": {
        "type": "object",
        "required": ["by", "scope", "lines", "total"],
        "properties": {
            "by": {"type": "string"},
            "scope": {"type": "string"},
            "structure": {"enum": ["time", "current"]},
            "from": {"type": ["string", "null"]},
            "to": {"type": ["string", "null"]},
            "lines": {"type": "array", "items": _ref("ReportLine")},
            "total": _ref("ReportLine"),
            "tree": {"type": "array", "items": _ref("TreeNode"), "description": "by=tree"},
        },
    },
    **DELIVERY_SCHEMAS,  # the delivery queues (axis.api.delivery_doc)
}


def _op(
    summary: str,
    errors: str,
    ok: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    tag: str = "agency",
) -> dict[str, Any]:
    """One operation: its success answers ``ok`` and the error statuses it can really
    give (``errors``, e.g. ``"401 403 404"``; the test drives every one of them)."""
    responses = {**ok, **{status: ERRORS[status] for status in errors.split()}}
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": responses}
    if body is not None:
        op["requestBody"] = body
    if params:
        op["parameters"] = params
    return op


def _q(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _p(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def national_paths() -> dict[str, Any]:
    """The admin operations of the national axis link (served when it is configured)."""
    return {
        "/api/v1/admin/national": {
            "get": _op(
                "The national link's health: last poll, last success, backlog, last error",
                "401 403",
                {"200": _json(_ref("NationalHealth"), "The health")},
                tag="admin",
            )
        },
        "/api/v1/admin/national/poll": {
            "post": _op(
                "Poll the national axis now (documents and statuses)",
                "401 403",
                {"200": _json(_ref("PollReport"), "What the poll did")},
                tag="admin",
            )
        },
        "/api/v1/admin/national/directory-sync": {
            "post": _op(
                "Sync the directory from the national axis now (getAgenciesList)",
                "401 403",
                {"200": _json(_ref("DirectoryChanges"), "What changed")},
                tag="admin",
            )
        },
    }


def openapi_document(vxp_prefix: str = "/vxp", *, national: bool = False) -> dict[str, Any]:
    """The document; ``national`` adds the national link's admin operations (served only
    by an axis with ``national.endpoint``)."""
    packet_body = {
        "required": True,
        "content": {
            "application/xml": {"schema": {"type": "string", "format": "binary"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "An edXML document or status packet, signed (XMLDSig) or not.",
    }
    day = {"type": "string", "format": "date"}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Axis native API",
            "version": __version__,
            "description": (
                "Trục liên thông văn bản điện tử — native REST API. The VXP-compatible API "
                f"for the vendor SDK is served under {vxp_prefix}."
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["openapi", "info", "paths", "components"],
                                "properties": {
                                    "openapi": {"const": "3.1.0"},
                                    "info": {"type": "object"},
                                    "servers": {"type": "array"},
                                    "components": {"type": "object"},
                                    "security": {"type": "array"},
                                    "paths": {"type": "object"},
                                },
                            },
                            "OpenAPI document",
                        )
                    },
                }
            },
            "/api/v1/packets": {
                "post": _op(
                    "Send a packet (document or status)",
                    "400 401 403 422",
                    {
                        "201": _json(_ref("Accepted"), "Committed"),
                        "200": _json(_ref("Accepted"), "A duplicate: the original answer"),
                    },
                    body=packet_body,
                )
            },
            "/api/v1/inbox": {
                "get": _op(
                    "List pending deliveries for the caller's agencies",
                    "400 401 403",
                    {"200": _json(_ref("Inbox"), "Inbox items, oldest first")},
                    params=[
                        _q("agency", {"type": "string"}, "one agency the caller speaks for"),
                        _q("kind", {"enum": ["document", "status"]}, "only this kind"),
                        _q("after", {"type": "integer"}, "only items with a larger delivery id"),
                        _q("limit", {"type": "integer"}, "at most this many (≤ 1000)"),
                    ],
                )
            },
            "/api/v1/inbox/{delivery_id}": {
                "get": _op(
                    "Fetch a delivery: the original bytes, exactly as sent",
                    "401 403 404",
                    {
                        "200": {
                            "description": "the edXML packet",
                            "content": {"application/xml": {"schema": {"type": "string"}}},
                        }
                    },
                    params=[_p("delivery_id", {"type": "integer"})],
                )
            },
            "/api/v1/inbox/{delivery_id}/ack": {
                "post": _op(
                    "Acknowledge a delivery (idempotent)",
                    "401 403 404",
                    {"200": _json(_ref("Ack"), "Acknowledged")},
                    params=[_p("delivery_id", {"type": "integer"})],
                )
            },
            "/api/v1/documents/{document_id}/receipt": {
                "get": _op(
                    "The axis's signed receipt for a stored packet (XML, XMLDSig)",
                    "401 404",
                    {
                        "200": {
                            "description": "The receipt",
                            "content": {"application/xml": {"schema": {"type": "string"}}},
                        }
                    },
                    params=[_p("document_id", {"type": "string"})],
                )
            },
            "/api/v1/documents/{document_id}/trace": {
                "get": _op(
                    "A document's trace: every event with time, node and status code",
                    "401 404",
                    {"200": _json(_ref("Trace"), "The trace")},
                    params=[_p("document_id", {"type": "string"})],
                )
            },
            "/api/v1/agencies": {
                "get": _op(
                    "The directory of agencies",
                    "401 403",
                    {"200": _json(_ref("Agencies"), "All")},
                    tag="admin",
                )
            },
            "/api/v1/agencies/{code}": {
                "get": _op(
                    "One agency",
                    "401 403 404",
                    {"200": _json(_ref("Agency"), "The agency")},
                    params=[_p("code", {"type": "string"})],
                    tag="admin",
                ),
                "put": _op(
                    "Create or update an agency",
                    "400 401 403",
                    {"200": _json(_ref("Agency"), "Stored")},
                    body={
                        "required": True,
                        "content": {"application/json": {"schema": _ref("AgencyInput")}},
                    },
                    params=[_p("code", {"type": "string"})],
                    tag="admin",
                ),
            },
            "/api/v1/systems": {
                "get": _op(
                    "Systems (no secrets)",
                    "401 403",
                    {"200": _json(_ref("Systems"), "All")},
                    tag="admin",
                ),
                "post": _op(
                    "Create a system; its credentials are shown once",
                    "400 401 403",
                    {"201": _json(_ref("Credentials"), "Created")},
                    body={
                        "required": True,
                        "content": {"application/json": {"schema": _ref("NewSystem")}},
                    },
                    tag="admin",
                ),
            },
            "/api/v1/reports/signatures": {
                "get": _op(
                    "Signature report: packets per verdict, share validly signed, "
                    "certificates and issuing CAs used, trend by month",
                    "400 401 403",
                    {"200": _json(_ref("SignatureReport"), "The report")},
                    params=[
                        _q("from", day, "first day (Asia/Ho_Chi_Minh)"),
                        _q("to", day, "last day"),
                        _q("by", {"enum": ["agency", "tier", "month", "all"]}, "grouping"),
                        _q(
                            "recipient_tier",
                            {"enum": ["*", "central", "province", "district", "commune"]},
                            "only packets with a recipient of this tier (* = any)",
                        ),
                        _q("sender_tier", {"type": "string"}, "sender tiers, comma-separated"),
                        _q("agency", {"type": "string"}, "sender codes or globs, comma-separated"),
                        _q("kind", {"enum": ["document", "status", "all"]}, "packet kind"),
                    ],
                    tag="auditor",
                )
            },
            "/api/v1/reports/exchange": {
                "get": _op(
                    "Exchange counts: sent, received, acknowledged, refused, signed share",
                    "400 401 403",
                    {"200": _json(_ref("ExchangeReport"), "The report")},
                    params=[
                        _q("from", day, "first day (Asia/Ho_Chi_Minh)"),
                        _q("to", day, "last day"),
                        _q(
                            "by",
                            {"enum": ["agency", "tier", "day", "month", "all", "tree"]},
                            "grouping (tree: province → departments/districts → communes)",
                        ),
                        _q("scope", {"enum": ["internal", "national", "all"]}, "which traffic"),
                        _q(
                            "structure",
                            {"enum": ["time", "current"]},
                            "agencies by the codes of the time (default) or as they are "
                            "today, closed codes counted under their successors",
                        ),
                    ],
                    tag="auditor",
                )
            },
        },
    }
    if national:
        doc["paths"].update(national_paths())
    doc["paths"].update(delivery_paths())  # the delivery queues (axis.api.admin)
    return doc
