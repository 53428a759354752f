"""Push delivery to an agency's endpoint: one signed HTTP POST per packet.

The axis POSTs the packet's original bytes (exactly as the sender signed them) to the
agency's ``push_url``. The agency's **2xx answer is its acknowledgement**: from then on
the packet is the agency's. Anything else is a failed attempt that the axis retries
with backoff (the retry policy lives in ``axis.retry``; this module only says whether a
retry can help).

The request (what a receiver implements)::

    POST <push_url>
    Content-Type: application/xml
    X-Axis-Delivery-Id: 1234           stable across retries: deduplicate on it
    X-Axis-Document-Id: 01JQ...        the axis's id of the packet
    X-Axis-Kind: document | status
    X-Axis-From: 000.00.00.H36         From/OrganId of the packet
    X-Axis-To: 000.01.30.H36           the agency it is delivered to
    X-Axis-Attempt: 1                  1 for the first attempt, 2 for the first retry...
    X-Axis-Timestamp: 1767225600       Unix seconds when this attempt was signed
    X-Axis-Signature: sha256=<hex>     see below

    <the edXML packet>

How to verify ``X-Axis-Signature`` (the secret is the one ``axis agencies set-delivery
CODE --push URL`` printed once)::

    body_hash = sha256(body).hexdigest()
    message   = f"{timestamp}.{delivery_id}.{body_hash}"        # UTF-8
    expected  = "sha256=" + hmac_sha256(key=secret.encode(), msg=message).hexdigest()
    accept if hmac.compare_digest(expected, header)
       and abs(now - int(timestamp)) <= 300                      # refuse replays

(:func:`verify_signature` does exactly this.) Delivery is *at least once*: after a
timeout the axis cannot know whether the receiver kept the packet, so it sends it
again with the same ``X-Axis-Delivery-Id``; a receiver that already has it answers
2xx again and keeps one copy. Instead of (or besides) the HMAC, the axis can present
its client certificate (mTLS): pass an ``ssl.SSLContext`` holding it.

How answers and failures are read (:func:`failure_of_status`):

==========================================  ================  ==========================
answer / event                               code              retried?
==========================================  ================  ==========================
2xx                                          (ok)              it is the acknowledgement
timeout (connect or whole request)           push.timeout      yes
cannot connect, connection reset, TLS error  push.unreachable  yes
3xx (redirects are not followed)             push.http-3xx     yes: the URL needs fixing
5xx, 408, 425, 429                           push.http-<n>     yes: the receiver is unwell
401, 403, 404                                push.http-<n>     yes: credentials or URL are
                                                               wrong; an admin fixes them
                                                               and the queue drains
any other 4xx (400, 413, 415, 422...)        push.http-<n>     no: the receiver refuses
                                                               this packet; a dead letter
==========================================  ================  ==========================
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import aiohttp

__all__ = [
    "SIGNATURE_TOLERANCE",
    "PushClient",
    "PushResult",
    "failure_of_status",
    "sign",
    "verify_signature",
]

SIGNATURE_TOLERANCE: Final = 300  # seconds a receiver should accept a timestamp off by
_RETRY_4XX: Final = frozenset({401, 403, 404, 408, 425, 429})
_MAX_REASON: Final = 200


def sign(secret: str, timestamp: int, delivery_id: int | str, body: bytes) -> str:
    """The ``X-Axis-Signature`` value for one attempt."""
    message = f"{timestamp}.{delivery_id}.{hashlib.sha256(body).hexdigest()}"
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: int = SIGNATURE_TOLERANCE,
) -> bool:
    """What a receiver does with a pushed request: True when ``X-Axis-Signature`` is the
    HMAC of this body, delivery id and timestamp, and the timestamp is fresh."""
    try:
        timestamp = int(headers["X-Axis-Timestamp"])
        delivery_id = headers["X-Axis-Delivery-Id"]
        given = headers["X-Axis-Signature"]
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, delivery_id, body), given)


@dataclass(frozen=True, slots=True)
class PushResult:
    """What one POST achieved. ``ok``: the receiver answered 2xx."""

    ok: bool
    status: int | None = None
    code: str | None = None  # push.timeout, push.unreachable, push.http-<status>
    message: str | None = None
    retryable: bool = True


def failure_of_status(status: int, reason: str = "") -> PushResult:
    """How an HTTP status is read (see the module's table)."""
    if 200 <= status < 300:
        return PushResult(ok=True, status=status)
    retryable = not (400 <= status < 500) or status in _RETRY_4XX
    text = f"The endpoint answered HTTP {status}"
    if reason:
        text += f" ({reason[:_MAX_REASON]})"
    if 300 <= status < 400:
        text += "; redirects are not followed: set the final URL"
    elif not retryable:
        text += "; it refuses this packet"
    return PushResult(
        ok=False, status=status, code=f"push.http-{status}", message=text + ".", retryable=retryable
    )


class PushClient:
    """Posts packets to push endpoints. One connection pool for all of them; closes only
    the session it opened itself."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        connections: int = 100,
        per_host: int = 8,
        clock: Callable[[], float] = time.time,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self._ssl = ssl_context
        self._limits = (connections, per_host)
        self._clock = clock
        self._session = session
        self._own = session is None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits[0],
                limit_per_host=self._limits[1],
                ssl=self._ssl if self._ssl is not None else True,
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._own = True
        return self._session

    async def close(self) -> None:
        if self._own and self._session is not None and not self._session.closed:
            await self._session.close()

    async def push(
        self,
        url: str,
        body: bytes,
        *,
        delivery_id: int,
        document_id: str,
        kind: str,
        sender: str,
        recipient: str,
        attempt: int,
        secret: str | None,
    ) -> PushResult:
        """POST one packet. Never raises for the peer's failures: they are results."""
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/xml",
            "X-Axis-Delivery-Id": str(delivery_id),
            "X-Axis-Document-Id": document_id,
            "X-Axis-Kind": kind,
            "X-Axis-From": sender,
            "X-Axis-To": recipient,
            "X-Axis-Attempt": str(attempt),
            "X-Axis-Timestamp": str(timestamp),
        }
        if secret is not None:
            headers["X-Axis-Signature"] = sign(secret, timestamp, delivery_id, body)
        try:
            async with self._client().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()  # drain (bounded by the timeout) to reuse the connection
                return failure_of_status(response.status, response.reason or "")
        except TimeoutError:
            return PushResult(
                ok=False,
                code="push.timeout",
                message=f"The endpoint did not answer within {self._timeout.total} s.",
            )
        except aiohttp.ClientConnectorError as exc:
            return PushResult(
                ok=False,
                code="push.unreachable",
                message=f"Cannot connect to the endpoint ({type(exc).__name__}: {exc.strerror}).",
            )
        except (aiohttp.ClientError, ssl.SSLError, OSError, asyncio.IncompleteReadError) as exc:
            return PushResult(
                ok=False,
                code="push.unreachable",
                message=f"The connection to the endpoint failed ({type(exc).__name__}).",
            )
