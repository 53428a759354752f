"""The request id follows a packet into delivery: a :class:`Transport` decorator.

Intake stores the id of the HTTP request that brought a packet (``documents.request_id``).
When the delivery engine hands a job to a transport (push, national), this wrapper
binds that id, the document id and the delivery id to the log context for the attempt,
so that the adapter's log lines carry the same ``request_id`` as intake's, and logs
the attempt's outcome.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from axis.observe import log_context
from axis.store.dashboard import request_id_of
from axis.transport import DeliveryJob, DeliveryOutcome, Transport
from axis_errors import AxisError

if TYPE_CHECKING:
    from axis.app import Services
    from axis.store import Store

__all__ = ["TracingTransport", "install_tracing"]

log = logging.getLogger("axis.delivery.trace")


class TracingTransport:
    """Delivers through ``inner`` with the packet's request id in the log context."""

    def __init__(self, inner: Transport, store: Store) -> None:
        self.inner = inner
        self._store = store

    async def deliver(self, job: DeliveryJob, data: bytes) -> DeliveryOutcome:
        try:
            rid = await request_id_of(self._store, job.document_id)
        except AxisError:
            rid = None
        with log_context(request_id=rid, document_id=job.document_id, delivery_id=job.delivery_id):
            log.info(
                "delivering %s to %s via %s (attempt %d)",
                job.document_id,
                job.target_code,
                job.destination,
                job.attempts + 1,
            )
            outcome = await self.inner.deliver(job, data)
            if outcome.ok:
                log.info("delivered to %s", job.destination)
            else:
                log.info("attempt failed: [%s] %s", outcome.error_code, outcome.error)
            return outcome

    async def close(self) -> None:
        closer = getattr(self.inner, "close", None)
        if closer is not None:
            await closer()


def install_tracing(services: Services) -> None:
    """Wrap every transport of the delivery engine (idempotent)."""
    engine = getattr(services, "delivery", None)
    transports = getattr(engine, "transports", None)
    if not isinstance(transports, dict):
        return
    for route, transport in list(transports.items()):
        if not isinstance(transport, TracingTransport):
            transports[route] = TracingTransport(transport, services.store)
