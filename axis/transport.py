"""The port between the delivery engine and the systems a delivery goes to.

The engine (``axis.delivery``) claims due deliveries from the store and hands each to
the ``Transport`` of its route: the push adapter for agencies that receive by push
(``adapters.webhook``), the national VXP adapter for recipients outside the province
(``adapters.vxp``). Transports never touch the store and never decide retries: they
report a ``DeliveryOutcome`` and the pure retry policy decides what happens next.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeliveryJob:
    """One claimed delivery: what a transport needs besides the packet's bytes."""

    delivery_id: int
    document_id: str
    kind: str  # "document" | "status"
    sender_code: str
    recipient_code: str  # as addressed
    target_code: str  # after successor resolution
    route: str  # "local" (push) | "national"
    attempts: int  # attempts made before this one
    destination: str  # the queue it belongs to: a push URL's origin, or "national"


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one attempt achieved. ``ok`` means the receiver took responsibility (2xx)."""

    ok: bool
    remote_id: str | None = None  # e.g. the national axis's DocId
    error_code: str | None = None  # a stable code (``push.http-500``, ``vxp.timeout``)
    error: str | None = None  # one sentence for admins
    retryable: bool = True  # False: retrying cannot help (e.g. the peer refused the packet)


class Transport(Protocol):
    """Delivers one packet to one destination. Must not raise for the peer's failures:
    they are outcomes. Raising is for bugs of our own."""

    async def deliver(self, job: DeliveryJob, data: bytes) -> DeliveryOutcome: ...
