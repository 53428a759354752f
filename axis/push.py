"""The ``Transport`` of push delivery: looks up the agency's endpoint and secret, and
posts with :class:`adapters.webhook.PushClient` (which owns the wire format, the
signature and the reading of the answer; ``adapters/`` may not import ``axis``, so the
port's glue lives here)."""

from __future__ import annotations

from typing import Protocol

from adapters.webhook import PushClient
from axis.store.deliveries import PushTarget
from axis.transport import DeliveryJob, DeliveryOutcome

__all__ = ["PushTargets", "PushTransport"]


class PushTargets(Protocol):
    """Where an agency receives pushes (the store implements it)."""

    async def push_target(self, code: str) -> PushTarget | None: ...


class PushTransport:
    """Delivers the route ``local`` to agencies that receive by push."""

    def __init__(self, targets: PushTargets, client: PushClient) -> None:
        self._targets = targets
        self._client = client

    async def deliver(self, job: DeliveryJob, data: bytes) -> DeliveryOutcome:
        target = await self._targets.push_target(job.target_code)
        if target is None:
            # switched to pull after the claim: the delivery stays in its inbox
            return DeliveryOutcome(
                ok=False,
                error_code="push.not-configured",
                error=f"Agency {job.target_code} no longer receives by push.",
            )
        result = await self._client.push(
            target.url,
            data,
            delivery_id=job.delivery_id,
            document_id=job.document_id,
            kind=job.kind,
            sender=job.sender_code,
            recipient=job.target_code,
            attempt=job.attempts + 1,
            secret=target.secret,
        )
        return DeliveryOutcome(
            ok=result.ok,
            error_code=result.code,
            error=result.message,
            retryable=result.retryable,
        )

    async def close(self) -> None:
        await self._client.close()
