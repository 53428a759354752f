"""Observation that the core may depend on without pulling in a metrics or log library.

- The **log context**: fields (``request_id``, ``document_id``, ``delivery_id``...) bound
  to the current task with :func:`log_context` and added to every log record by
  :class:`axis.logs.ContextFilter`. The HTTP middleware binds the request id; intake stores
  it with the packet (``documents.request_id``) so that the delivery engine and the
  adapters can bind it again when they handle that packet later, in another task.
- The **intake observer**: what intake reports (verification time, accepted, refused);
  :class:`axis.metrics.AxisMetrics` implements it for ``/metrics``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from types import MappingProxyType
from typing import Protocol

__all__ = [
    "NULL_OBSERVER",
    "IntakeObserver",
    "current_log_context",
    "current_request_id",
    "log_context",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar("axis_log_context", default=_EMPTY)


@contextlib.contextmanager
def log_context(**fields: str | int | None) -> Iterator[None]:
    """Bind ``fields`` (None values are skipped) to log records made inside the block."""
    merged = dict(_CONTEXT.get())
    merged.update({k: str(v) for k, v in fields.items() if v is not None})
    token = _CONTEXT.set(MappingProxyType(merged))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_log_context() -> Mapping[str, str]:
    return _CONTEXT.get()


def current_request_id() -> str | None:
    """The request id bound by the HTTP middleware (or by a worker), if any."""
    return _CONTEXT.get().get("request_id")


class IntakeObserver(Protocol):
    """Told by intake what happened to each packet. Must be fast and never raise."""

    def verified(self, seconds: float, verdict: str) -> None: ...

    def accepted(self, kind: str, verdict: str, channel: str, created: bool) -> None: ...

    def refused(self, code: str, verdict: str | None, channel: str) -> None: ...


class _NullObserver:
    def verified(self, seconds: float, verdict: str) -> None:
        pass

    def accepted(self, kind: str, verdict: str, channel: str, created: bool) -> None:
        pass

    def refused(self, code: str, verdict: str | None, channel: str) -> None:
        pass


NULL_OBSERVER: IntakeObserver = _NullObserver()
