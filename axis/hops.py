"""Hops: the axes a packet went through, recorded BESIDE the sender's bytes.

The edXML ``TraceHeaderList`` is inside the signed envelope: an axis that appended its
own ``TraceHeader`` to the packet would break the sender's signature (ADR 0010). So each
axis forwards the sender's bytes untouched and keeps its hop here: the OrganId of the
axis, when it took the packet, and the verdict it gave the sender's signature. The list
travels with the packet between axes (the signed ``trace`` parameter of sendEdoc, the
``trace`` field of a getEdoc answer), is stored with the document (its intake answer)
and is shown by the trace API and in the ``X-Axis-Trace`` header of a delivery.

Pure values and their JSON form; no I/O. A hop list read from a peer is checked
strictly (:func:`parse_hops`): a peer's bad list is an ``InputError``, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from axis.directory import is_valid_code
from axis.store.models import VN_TZ
from axis_errors import InputError

__all__ = [
    "MAX_HOPS",
    "Hop",
    "append_hop",
    "hops_from_json",
    "hops_of_answer",
    "hops_to_json",
    "parse_hops",
]

#: More hops than this means a routing loop or garbage: refused.
MAX_HOPS: Final = 16
_MAX_TEXT: Final = 64


@dataclass(frozen=True, slots=True)
class Hop:
    """One axis's record of a packet: who (``organ_id``), when (``at``, aware UTC) and
    the verdict it gave the sender's signature (``None`` when not recorded)."""

    organ_id: str
    at: datetime
    verdict: str | None = None

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("a hop's time must be timezone-aware")

    def to_json(self) -> dict[str, Any]:
        """``{"organ_id", "at" (ISO 8601 UTC, milliseconds), "verdict"}``."""
        at = self.at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"organ_id": self.organ_id, "at": at, "verdict": self.verdict}

    @property
    def trace_timestamp(self) -> str:
        """The time as an edXML TraceHeader writes it (``yyyy/MM/dd HH:mm:ss``, UTC+7)."""
        return self.at.astimezone(VN_TZ).strftime("%Y/%m/%d %H:%M:%S")


def _bad(message: str) -> InputError:
    return InputError(f"The trace of hops {message}", code="trace.bad-hops")


def _hop(item: object, index: int) -> Hop:
    if not isinstance(item, dict):
        raise _bad(f"has an item {index} that is not an object.")
    organ = item.get("organ_id")
    at = item.get("at")
    verdict = item.get("verdict")
    if not isinstance(organ, str) or not is_valid_code(organ):
        raise _bad(f"item {index} has no valid organ_id.")
    if not isinstance(at, str) or len(at) > _MAX_TEXT:
        raise _bad(f"item {index} has no 'at' time.")
    try:
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(f"item {index} has an 'at' that is not an ISO 8601 time.") from None
    if when.tzinfo is None:
        raise _bad(f"item {index} has an 'at' without a UTC offset.")
    if verdict is not None and (not isinstance(verdict, str) or len(verdict) > _MAX_TEXT):
        raise _bad(f"item {index} has a verdict that is not a short string.")
    return Hop(organ, when.astimezone(UTC), verdict)


def hops_from_json(data: object) -> tuple[Hop, ...]:
    """Hops from decoded JSON (a list of hop objects). ``InputError`` ``trace.bad-hops``."""
    if not isinstance(data, list):
        raise _bad("is not a list.")
    if len(data) > MAX_HOPS:
        raise _bad(f"has more than {MAX_HOPS} hops (a routing loop?).")
    return tuple(_hop(item, i) for i, item in enumerate(data))


def parse_hops(text: str | None) -> tuple[Hop, ...]:
    """Hops from their JSON text (``None`` or empty: no hops)."""
    if not text:
        return ()
    if len(text) > MAX_HOPS * 256:
        raise _bad("is too long.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise _bad("is not JSON.") from None
    return hops_from_json(data)


def hops_to_json(hops: Iterable[Hop]) -> str:
    """The compact JSON text of hops (ASCII only: safe in an HTTP header)."""
    return json.dumps([h.to_json() for h in hops], separators=(",", ":"), ensure_ascii=True)


def hops_of_answer(answer: object) -> tuple[Hop, ...]:
    """The hops stored in an intake answer (``answer["hops"]``); none when absent or bad."""
    if not isinstance(answer, dict) or "hops" not in answer:
        return ()
    try:
        return hops_from_json(answer["hops"])
    except InputError:
        return ()


def append_hop(upstream: Sequence[Hop], hop: Hop) -> tuple[Hop, ...]:
    """``upstream`` followed by ``hop``; ``InputError`` when that exceeds :data:`MAX_HOPS`."""
    if len(upstream) >= MAX_HOPS:
        raise _bad(f"already has {MAX_HOPS} hops (a routing loop?).")
    return (*upstream, hop)
