"""What both APIs share: typed app keys, the body reader with a cap, error rendering."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from axis.jsontext import dumps
from axis.observe import log_context
from axis.randomness import random_bytes
from axis.store import request_scope
from axis_errors import AxisError, InputError

if TYPE_CHECKING:
    from axis.app import Services

log = logging.getLogger("axis.api")

SERVICES: web.AppKey[Services] = web.AppKey("services")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)

_REQUEST_ID_RE = re.compile(r"[^A-Za-z0-9._:-]")  # a caller's id goes into logs: keep it tame

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def read_body(request: web.Request, cap: int) -> bytes:
    """Read the body, refusing more than ``cap`` bytes without buffering them."""
    if request.content_length is not None and request.content_length > cap:
        raise InputError(
            f"The body is {request.content_length} bytes; this axis accepts at most {cap}.",
            code="input.too-large",
            details={"limit": cap},
        )
    chunks: list[bytes] = []
    size = 0
    # the pieces as they came off the socket: no re-slicing into fixed sizes, and a body
    # that came in one piece is that piece (join returns it): ~119-132 -> 79-115 us of
    # the event loop's CPU a 100 KB POST (ADR 0014, addendum 2026-12-07b)
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > cap:
            raise InputError(
                f"The body exceeds this axis's limit of {cap} bytes.",
                code="input.too-large",
                details={"limit": cap},
            )
        chunks.append(chunk)
    return b"".join(chunks)


def json_response(data: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        body=dumps(data, default=str),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give every request an id that follows it into logs (and back in a header), and
    one reading of the directory's generation (:func:`axis.store.request_scope`)."""
    rid = _REQUEST_ID_RE.sub("", request.headers.get("X-Request-Id", ""))[:64]
    rid = rid or random_bytes(8).hex()
    request[REQUEST_ID] = rid
    with log_context(request_id=rid), request_scope():  # the directory read once
        response = await handler(request)
    response.headers["X-Request-Id"] = rid
    return response


def log_refusal(request: web.Request, exc: AxisError) -> None:
    log.info(
        "refused %s %s: [%s] %s (request %s)",
        request.method,
        request.path,
        exc.code,
        exc.message,
        request.get(REQUEST_ID),
    )


def int_param(request: web.Request, name: str, default: int | None) -> int | None:
    """An optional integer query parameter (``input.bad-param`` when it is not one)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InputError(
            f"Query parameter {name!r} must be an integer.", code="input.bad-param"
        ) from None
