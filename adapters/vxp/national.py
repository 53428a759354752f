"""The wire side of the national axis link: forward a packet, fetch one, and say what a
peer's failure means for a retry.

``axis.national.NationalTransport`` (the delivery engine's ``Transport`` for the route
``national``) and ``axis.national.NationalPoller`` stand on this module; it stays in
``adapters/`` because it speaks a foreign protocol, and it decides no routing and no
retry schedule: it only reads the peer's answer.

What a failure means (:func:`failure_of`), by the peer's ``ErrorCode`` first, then the
HTTP status, then the kind of transport error:

=============================================  ==========  ===============================
peer says / happens                             retryable   why
=============================================  ==========  ===============================
timeout, cannot connect, connection lost        yes         the peer or the network is down
an answer that is not an envelope, too large    yes         a proxy's error page, a restart
``signature.*`` ``schema.*`` ``xml.*``          no          the packet itself is refused:
``packet.*`` ``input.*`` ``route.*``                        sending the same bytes again
``directory.*`` ``trace.*``                                 gets the same answer
``auth.forged-from`` ``auth.from-mismatch``     no          the sender is not ours to claim
``vxp.missing-param`` ``vxp.bad-param``         no          a request no retry can fix
other ``auth.*`` / ``vxp.*`` (bad HMAC,         yes         our credentials or the peer's
unknown system), ``store.*``, ``config.*``                  setup: an admin fixes it, the
                                                            queued packets then drain
any other code (numeric codes of the vendor's   yes         unknown: retrying is safe
axis), HTTP 5xx / 408 / 429 / 401 / 403                     (sendEdoc is idempotent by
                                                            document id); the retry policy
                                                            bounds it with a dead letter
other HTTP 4xx without an ErrorCode             no          the request is wrong
=============================================  ==========  ===============================

The outcome's ``code`` is ``national.<ErrorCode>`` when the peer gave one (e.g.
``national.signature.invalid``), else the client's error code (``vxp.timeout``...), so
that admins see the national side's reason in the delivery's last error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from adapters.vxp.client import MessageType, VxpClient
from adapters.vxp.protocol import ReceivedItem
from axis_errors import PeerError

__all__ = ["Failure", "NationalLink", "failure_of", "peer_code_retryable"]

PacketKind = Literal["document", "status"]

_REFUSED_PREFIXES: Final = (
    "signature.",
    "schema.",
    "xml.",
    "packet.",
    "input.",
    "route.",
    "directory.",
    "trace.",
)
_REFUSED_CODES: Final = frozenset(
    {"auth.forged-from", "auth.from-mismatch", "vxp.missing-param", "vxp.bad-param"}
)
_RETRY_HTTP: Final = frozenset({401, 403, 408, 425, 429})
_CODE_SAFE: Final = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class Failure:
    """What a failed call means: a stable ``code``, one sentence, and whether a later
    attempt with the same bytes can succeed."""

    code: str
    message: str
    retryable: bool


def _peer_code(details: dict[str, Any]) -> str | None:
    raw = details.get("ErrorCode")
    if raw is None:
        return None
    text = _CODE_SAFE.sub("", str(raw))[:60]
    return text or None


def peer_code_retryable(code: str) -> bool:
    """Whether a peer's ErrorCode leaves room for a retry (see the module table)."""
    return not (code in _REFUSED_CODES or code.startswith(_REFUSED_PREFIXES))


def _http_status(code: str) -> int | None:
    if code.startswith("vxp.http-"):
        try:
            return int(code.removeprefix("vxp.http-"))
        except ValueError:
            return None
    return None


def failure_of(exc: PeerError) -> Failure:
    """Classify a peer failure raised by :class:`~adapters.vxp.client.VxpClient`."""
    details = exc.details if isinstance(exc.details, dict) else {}
    peer = _peer_code(details)
    desc = details.get("ErrorDesc")
    if peer is not None and peer != "0":
        said = f" ({str(desc)[:300]})" if desc else ""
        return Failure(
            code=f"national.{peer}",
            message=f"The national axis answered ErrorCode {peer}{said}.",
            retryable=peer_code_retryable(peer),
        )
    status = _http_status(exc.code)
    if status is not None:
        retry = status >= 500 or status in _RETRY_HTTP
        return Failure(exc.code, exc.message, retry)
    return Failure(exc.code, exc.message, True)


class NationalLink:
    """One province's link to the national axis (or any VXP peer) through a client.

    :meth:`forward` sends a document or a status with sendEdoc and returns the peer's
    DocId; :meth:`fetch` gets a received item and the hops it carries. Both raise
    ``PeerError`` for the peer's failures (classify them with :func:`failure_of`).
    """

    def __init__(self, client: VxpClient) -> None:
        self.client = client

    async def forward(
        self, data: bytes, *, sender: str, kind: PacketKind, trace: str | None = None
    ) -> str:
        """sendEdoc with ``messagetype`` edoc or status, ``from`` the packet's sender.

        A packet without attachments is sent like any other; so is a packet sent twice
        (the peer answers the original DocId for a packet it already holds).
        """
        return await self.client.send_edoc(
            data,
            from_code=sender,
            messagetype="status" if kind == "status" else "edoc",
            trace=trace,
        )

    async def fetch(self, doc_id: str) -> tuple[bytes, object]:
        """getEdoc: the packet's bytes and the peer's ``trace`` (decoded JSON or None)."""
        return await self.client.get_edoc_traced(doc_id)

    async def done(self, doc_id: str) -> None:
        """updateStatus done: the item leaves the peer's received list."""
        await self.client.update_status(doc_id, "done")

    async def fail(self, doc_id: str, reason: str) -> None:
        """updateStatus fail, with a reason the peer's admins can read."""
        await self.client.update_status(doc_id, "fail", reason[:1000])

    async def received(
        self, kinds: Sequence[MessageType] = ("edoc", "status")
    ) -> list[tuple[MessageType, ReceivedItem]]:
        """getReceivedEdocList for each message type: ``(messagetype, item)`` pairs."""
        out: list[tuple[MessageType, ReceivedItem]] = []
        for kind in kinds:
            out.extend((kind, item) for item in await self.client.get_received_edoc_list(kind))
        return out
