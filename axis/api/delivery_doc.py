"""The OpenAPI pieces of the delivery admin endpoints (``axis.api.admin``), merged into
the native API's document by ``axis.api.openapi``."""

from __future__ import annotations

from typing import Any

__all__ = ["DELIVERY_SCHEMAS", "delivery_paths"]

_TIME = {"type": ["string", "null"], "format": "date-time"}
_STR = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "400": "Bad input",
    "401": "Not authenticated",
    "403": "Not allowed for this caller",
    "404": "Not found",
}

DELIVERY_SCHEMAS: dict[str, Any] = {
    "Queue": {
        "type": "object",
        "required": ["destination", "mode", "pending", "dead", "paused", "breaker"],
        "properties": {
            "destination": {
                "type": "string",
                "description": "a push endpoint's origin, 'national', or 'inbox:<code>'",
            },
            "mode": {"enum": ["push", "pull", "national"]},
            "agencies": {"type": "array", "items": {"type": "string"}},
            "pending": {"type": "integer", "description": "depth: waiting or in flight"},
            "in_flight": {"type": "integer"},
            "oldest_pending_at": _TIME,
            "oldest_pending_age": {"type": ["number", "null"], "description": "seconds"},
            "delivered_last_hour": {"type": "integer"},
            "rate_per_minute": {"type": "number"},
            "dead": {"type": "integer"},
            "breaker": {"enum": ["closed", "open", "half-open"]},
            "paused": {"type": "boolean", "description": "the circuit breaker is not closed"},
            "last_error": _STR,
            "failing_since": _TIME,
        },
    },
    "Queues": {
        "type": "object",
        "required": ["at", "queues"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "queues": {"type": "array", "items": _ref("Queue")},
        },
    },
    "QueuedDelivery": {
        "type": "object",
        "required": ["delivery_id", "document_id", "destination", "state", "attempts"],
        "properties": {
            "delivery_id": {"type": "integer"},
            "document_id": {"type": "string"},
            "kind": {"enum": ["document", "status"]},
            "sender_code": {"type": "string"},
            "recipient_code": {"type": "string"},
            "target_code": {"type": "string"},
            "route": {"enum": ["local", "national"]},
            "destination": {"type": "string"},
            "mode": {"enum": ["push", "pull", "national"]},
            "state": {"enum": ["pending", "fetched", "acked", "failed", "dead"]},
            "attempts": {"type": "integer", "description": "in the current retry round"},
            "next_attempt_at": _TIME,
            "lease_until": _TIME,
            "last_error": _STR,
            "created_at": {"type": "string", "format": "date-time"},
            "acked_at": _TIME,
            "remote_id": _STR,
            "requeued_at": _TIME,
        },
    },
    "QueuedDeliveries": {
        "type": "object",
        "required": ["deliveries"],
        "properties": {"deliveries": {"type": "array", "items": _ref("QueuedDelivery")}},
    },
    "DeliveryAttempt": {
        "type": "object",
        "required": ["attempt", "at", "ok"],
        "properties": {
            "delivery_id": {"type": "integer"},
            "attempt": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "destination": {"type": "string"},
            "ok": {"type": "boolean"},
            "error_code": _STR,
            "error": _STR,
            "duration_ms": {"type": ["integer", "null"]},
            "remote_id": _STR,
        },
    },
    "DeliveryDetail": {
        "type": "object",
        "required": ["delivery", "attempts"],
        "properties": {
            "delivery": _ref("QueuedDelivery"),
            "attempts": {"type": "array", "items": _ref("DeliveryAttempt")},
        },
    },
    "Requeued": {
        "type": "object",
        "required": ["delivery_id", "requeued", "state"],
        "properties": {
            "delivery_id": {"type": "integer"},
            "requeued": {"type": "boolean", "description": "false when it was not dead"},
            "state": {"type": "string"},
        },
    },
    "RequeuedAll": {
        "type": "object",
        "required": ["destination", "requeued"],
        "properties": {
            "destination": {"type": "string"},
            "requeued": {"type": "integer"},
        },
    },
}


def _op(
    summary: str, errors: str, ok: dict[str, Any], params: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    responses = dict(ok)
    for status in errors.split():
        responses[status] = _json(_ref("Error"), _ERRORS[status])
    op: dict[str, Any] = {"summary": summary, "tags": ["admin"], "responses": responses}
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


def _p(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        out["description"] = description
    return out


def delivery_paths() -> dict[str, Any]:
    """The delivery admin operations (always served)."""
    did = _p("delivery_id", {"type": "integer"})
    return {
        "/api/v1/admin/queues": {
            "get": _op(
                "Queues per destination: depth, oldest pending age, rate, dead letters, paused",
                "401 403",
                {"200": _json(_ref("Queues"), "The queues")},
                [_q("include_pull", {"type": "boolean"}, "also the pull inboxes with a backlog")],
            )
        },
        "/api/v1/admin/queues/{destination}/retry-all": {
            "post": _op(
                "Requeue every dead letter of a destination now; its breaker is reset",
                "401 403",
                {"200": _json(_ref("RequeuedAll"), "How many were requeued")},
                [_p("destination", {"type": "string"}, "percent-encoded, e.g. https%3A%2F%2Fhost")],
            )
        },
        "/api/v1/admin/deliveries": {
            "get": _op(
                "Deliveries of a destination and/or in a state, by id",
                "400 401 403",
                {"200": _json(_ref("QueuedDeliveries"), "The deliveries")},
                [
                    _q("destination", {"type": "string"}, "'national', an origin, 'inbox:<code>'"),
                    _q(
                        "state",
                        {"enum": ["pending", "fetched", "acked", "failed", "dead"]},
                        "only this state",
                    ),
                    _q("after", {"type": "integer"}, "only larger delivery ids"),
                    _q("limit", {"type": "integer"}, "at most this many (≤ 1000)"),
                ],
            )
        },
        "/api/v1/admin/deliveries/{delivery_id}": {
            "get": _op(
                "A delivery with every attempt and its error",
                "401 403 404",
                {"200": _json(_ref("DeliveryDetail"), "The delivery")},
                [did],
            )
        },
        "/api/v1/admin/deliveries/{delivery_id}/retry": {
            "post": _op(
                "Retry a dead letter now (a fresh retry round)",
                "401 403 404",
                {"200": _json(_ref("Requeued"), "Requeued, or not dead")},
                [did],
            )
        },
    }
