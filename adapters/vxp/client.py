"""An asyncio (aiohttp) client of a VXP server: the national axis, or another Axis.

Requests are shaped like the vendor SDK's (``../samples/vxp-wire/``): the same header set
in the same order (:func:`~adapters.vxp.protocol.java_hashmap_order` of the parameter map,
then the signature headers, ``User-Agent``, ``XroadVnpt-version``), the same bodies
(sendEdoc: the file + CRLF as ``application/octet-stream``; getEdoc/updateStatus: ``{}``;
list calls: empty; counts and downloadEdoc: GET). Only aiohttp's own headers differ
(``Host`` first, ``Accept``, ``Accept-Encoding``, ``Content-Length``).

The parameter map: by default a FRESH map per call (``timestamp``, ``systemid``,
``Content-Type`` and that call's parameters; a fresh timestamp from ``clock``), which is
the correct behaviour. ``sdk_sticky_params=True`` reproduces a long-lived SDK object
instead: one timestamp taken when the client is made, and a map that is never cleared,
so keys of earlier calls ride along (what ``session/`` shows). Servers must cope with it;
tests of our server use it.

Errors are mapped at this boundary to ``PeerError`` codes: ``vxp.unreachable`` (cannot
connect, connection lost), ``vxp.timeout`` (``http_status`` 504), ``vxp.http-<status>``
(a non-2xx answer; details carry the envelope's ErrorCode/ErrorDesc when there is one),
``vxp.bad-answer`` (not JSON, not an envelope, a field missing), ``vxp.answer-too-large``,
``vxp.peer-fail`` (ErrorCode other than "0"). Local argument errors are ``InputError``
(``vxp.bad-param``). The secret is never logged and never appears in errors or ``repr``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import ssl as ssl_module
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, Self, TypeVar

import aiohttp

from adapters.vxp.protocol import (
    AgencyItem,
    ReceivedItem,
    SentItem,
    WireRecord,
    format_timestamp,
    frame_edoc,
    hash_file,
    java_hashmap_order,
    parse_envelope,
    sign_headers,
)
from axis_errors import InputError, PeerError

__all__ = ["VxpClient", "VxpTimeoutError"]

log = logging.getLogger(__name__)

JSON = "application/json"
OCTETS = "application/octet-stream"
UpdateStatus = Literal["done", "fail", "processing"]
MessageType = Literal["edoc", "status"]
R = TypeVar("R", bound=WireRecord)


def _same_spelling(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Give header names that differ only in case the first one's spelling.

    aiohttp's ``ClientSession`` keeps two lines of one header only when they are spelled
    alike; ``XroadVnpt-docId`` then ``XroadVnpt-docid`` (a sticky SDK map carries both)
    would collapse into one line. Header names are case-insensitive in HTTP, and the
    signed JSON keeps the exact case, so sending both lines under the first spelling
    loses nothing a server may read.
    """
    first: dict[str, str] = {}
    return [(first.setdefault(name.lower(), name), value) for name, value in headers]


class VxpTimeoutError(PeerError):
    """The VXP peer did not answer in time (code ``vxp.timeout``)."""

    default_code: ClassVar[str] = "vxp.timeout"
    http_status: ClassVar[int] = 504


class VxpClient:
    """One VXP identity (``systemid`` + ``secret``) talking to one ``endpoint``.

    Use as ``async with VxpClient(...) as vxp:``, or call :meth:`close`. A ``session``
    passed in is used and never closed; one the client opens itself (lazily, with a
    connector of ``limit`` connections) is closed by :meth:`close`. ``timeout`` bounds a
    whole call, ``connect_timeout`` the connection; ``ssl`` is given to every request
    (None = aiohttp's default verification). ``max_answer_bytes`` caps an answer body.
    """

    def __init__(
        self,
        endpoint: str,
        systemid: str,
        secret: str,
        *,
        timeout: float = 30,
        connect_timeout: float = 10,
        limit: int = 10,
        ssl: ssl_module.SSLContext | bool | None = None,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], datetime] = datetime.now,
        sdk_sticky_params: bool = False,
        max_answer_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        if not systemid or not secret:
            raise InputError("A VXP client needs a systemid and a secret.", code="vxp.bad-param")
        self.endpoint = endpoint.rstrip("/")
        self.systemid = systemid
        self.__secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._limit = limit
        self._ssl = ssl
        self._session = session
        self._owns_session = session is None
        self._clock = clock
        self._max_answer = max_answer_bytes
        self.sdk_sticky_params = sdk_sticky_params
        # the SDK's constructor: timestamp first, then systemid
        self._sticky: dict[str, str] = {
            "timestamp": format_timestamp(clock()),
            "systemid": systemid,
        }

    def __repr__(self) -> str:
        return f"VxpClient(endpoint={self.endpoint!r}, systemid={self.systemid!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client opened it; a session passed in stays open."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit), timeout=self._timeout
            )
        return self._session

    # ------------------------------------------------------------------ request shaping

    def parameter_map(
        self, content_type: str, params: Sequence[tuple[str, str]]
    ) -> list[tuple[str, str]]:
        """The ordered parameter map a call signs (public for tests and diagnostics).

        Fresh mode: ``timestamp`` (now), ``systemid``, ``Content-Type``, then ``params``.
        Sticky mode: the client's one map, updated in place (keys never removed).
        Either way the order is the SDK's HashMap iteration order.
        """
        if self.sdk_sticky_params:
            entries = self._sticky
        else:
            entries = {"timestamp": format_timestamp(self._clock()), "systemid": self.systemid}
        entries["Content-Type"] = content_type
        for name, value in params:
            entries[name] = value
        return [(name, entries[name]) for name in java_hashmap_order(list(entries))]

    def build_headers(
        self, content_type: str, params: Sequence[tuple[str, str]], *, send_edoc: bool = False
    ) -> list[tuple[str, str]]:
        """The SDK's header list for one call (signs with this client's secret)."""
        return sign_headers(
            self.parameter_map(content_type, params),
            self.__secret,
            content_type_first=send_edoc,
        )

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        call: str,
        method: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
    ) -> tuple[int, str, bytes]:
        url = f"{self.endpoint}/{call}"
        kwargs: dict[str, Any] = {"headers": _same_spelling(headers), "timeout": self._timeout}
        if body is not None:
            kwargs["data"] = body
        if self._ssl is not None:
            kwargs["ssl"] = self._ssl
        log.debug("VXP %s %s as %s", method, url, self.systemid)
        try:
            async with self._get_session().request(method, url, **kwargs) as resp:
                chunks: list[bytes] = []
                total = 0
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    total += len(chunk)
                    if total > self._max_answer:
                        raise PeerError(
                            f"The VXP answer to {call} exceeds {self._max_answer} bytes.",
                            code="vxp.answer-too-large",
                            details={"call": call, "limit": self._max_answer},
                        )
                    chunks.append(chunk)
                return resp.status, resp.content_type, b"".join(chunks)
        except TimeoutError as exc:
            raise VxpTimeoutError(
                f"The VXP peer at {self.endpoint} did not answer {call} in time.",
                code="vxp.timeout",
                details={"call": call},
            ) from exc
        except aiohttp.ClientConnectionError as exc:
            raise PeerError(
                f"The VXP peer at {self.endpoint} is unreachable for {call} "
                f"({type(exc).__name__}).",
                code="vxp.unreachable",
                details={"call": call},
            ) from exc
        except aiohttp.ClientError as exc:
            raise PeerError(
                f"The VXP peer's answer to {call} is not valid HTTP ({type(exc).__name__}).",
                code="vxp.bad-answer",
                details={"call": call},
            ) from exc

    @staticmethod
    def _json(call: str, status: int, payload: bytes) -> object:
        try:
            return json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            if 200 <= status < 300:
                raise PeerError(
                    f"The VXP answer to {call} is not JSON.",
                    code="vxp.bad-answer",
                    details={"call": call, "status": status},
                ) from None
            return None

    def _check_status(self, call: str, status: int, payload: bytes) -> None:
        if 200 <= status < 300:
            return
        details: dict[str, Any] = {"call": call, "status": status}
        obj = self._json(call, status, payload)
        if isinstance(obj, dict):
            for key in ("ErrorCode", "ErrorDesc"):
                if key in obj:
                    details[key] = str(obj[key])[:500]
        raise PeerError(
            f"The VXP peer answered {call} with HTTP {status}.",
            code=f"vxp.http-{status}",
            details=details,
        )

    async def _call_json(
        self,
        call: str,
        method: str,
        content_type: str,
        params: Sequence[tuple[str, str]],
        body: bytes | None,
        *,
        send_edoc: bool = False,
    ) -> dict[str, Any]:
        headers = self.build_headers(content_type, params, send_edoc=send_edoc)
        status, _ctype, payload = await self._request(call, method, headers, body)
        self._check_status(call, status, payload)
        return parse_envelope(self._json(call, status, payload))

    @staticmethod
    def _items(call: str, answer: dict[str, Any], cls: type[R]) -> list[R]:
        data = answer.get("data")
        if data is None:
            return []
        if not isinstance(data, list):
            raise PeerError(
                f"The VXP answer to {call} has a 'data' that is not a list.",
                code="vxp.bad-answer",
            )
        return [cls.from_json(item) for item in data]

    @staticmethod
    def _decode_base64(call: str, value: object) -> bytes:
        if not isinstance(value, str):
            raise PeerError(
                f"The VXP answer to {call} has no base64 'data'.", code="vxp.bad-answer"
            )
        try:
            return base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            raise PeerError(
                f"The VXP answer to {call} has 'data' that is not base64.", code="vxp.bad-answer"
            ) from None

    @staticmethod
    def _optional(*pairs: tuple[str, str | None]) -> list[tuple[str, str]]:
        return [(k, v) for k, v in pairs if v is not None]

    # ------------------------------------------------------------------ calls

    async def send_edoc(
        self,
        data: bytes,
        *,
        from_code: str,
        messagetype: MessageType = "edoc",
        to: str | None = None,
        servicetype: str = "eDoc",
        trace: str | None = None,
    ) -> str:
        """sendEdoc: post the edXML bytes; return the peer's ``DocId``.

        ``to`` is raw JSON text (the SDK forwards its JSON value as it is). The body is
        the file + CRLF; ``hash-file`` is signed. ``trace`` is an Axis extension: the
        JSON list of hops the packet went through (``axis.hops``), sent as a signed
        parameter; peers that do not know it ignore it.
        """
        if messagetype not in ("edoc", "status"):
            raise InputError(
                f"messagetype {messagetype!r} is not edoc/status.", code="vxp.bad-param"
            )
        params = self._optional(
            ("from", from_code),
            ("servicetype", servicetype),
            ("messagetype", messagetype),
            ("to", to),
            ("trace", trace),
        )
        params.append(("hash-file", hash_file(data)))
        answer = await self._call_json(
            "sendEdoc", "POST", OCTETS, params, frame_edoc(data), send_edoc=True
        )
        doc_id = answer.get("DocId")
        if not isinstance(doc_id, str | int) or doc_id == "":
            raise PeerError("The VXP answer to sendEdoc has no DocId.", code="vxp.bad-answer")
        return str(doc_id)

    async def get_received_edoc_list(
        self,
        messagetype: MessageType = "edoc",
        from_date: str | None = None,
        to_date: str | None = None,
        *,
        servicetype: str = "eDoc",
    ) -> list[ReceivedItem]:
        """getReceivedEdocList: the items waiting for this system (empty body)."""
        params = self._optional(
            ("servicetype", servicetype),
            ("messagetype", messagetype),
            ("fromDate", from_date),
            ("toDate", to_date),
        )
        answer = await self._call_json("getReceivedEdocList", "POST", JSON, params, b"")
        return self._items("getReceivedEdocList", answer, ReceivedItem)

    async def get_edoc(self, doc_id: str) -> bytes:
        """getEdoc: the document's bytes (the answer's base64 ``data``, decoded)."""
        answer = await self._call_json("getEdoc", "POST", JSON, [("docId", doc_id)], b"{}")
        return self._decode_base64("getEdoc", answer.get("data"))

    async def get_edoc_traced(self, doc_id: str) -> tuple[bytes, object]:
        """getEdoc, also returning the answer's ``trace`` field (an Axis extension: the
        hops the document went through; ``None`` from peers that do not send it)."""
        answer = await self._call_json("getEdoc", "POST", JSON, [("docId", doc_id)], b"{}")
        return self._decode_base64("getEdoc", answer.get("data")), answer.get("trace")

    async def download_edoc(self, doc_id: str) -> bytes:
        """downloadEdoc (GET): the raw edXML bytes.

        A JSON answer is read as an envelope: a failure raises ``vxp.peer-fail``; a
        success carrying base64 ``data`` is decoded. An empty answer is ``vxp.bad-answer``.
        """
        headers = self.build_headers(JSON, [("docId", doc_id)])
        status, ctype, payload = await self._request("downloadEdoc", "GET", headers, None)
        self._check_status("downloadEdoc", status, payload)
        if ctype == JSON or payload[:1] == b"{":
            obj = self._json("downloadEdoc", status, payload)
            if isinstance(obj, dict) and "ErrorCode" in obj:
                answer = parse_envelope(obj)
                return self._decode_base64("downloadEdoc", answer.get("data"))
        if not payload:
            raise PeerError("The VXP answer to downloadEdoc is empty.", code="vxp.bad-answer")
        return payload

    async def update_status(
        self, doc_id: str, status: UpdateStatus, reason: str | None = None
    ) -> None:
        """updateStatus: mark a received item done / fail / processing.

        ``reason`` is an Axis extension sent as a signed ``reason`` parameter (the SDK
        has none); peers that do not know it ignore it.
        """
        if status not in ("done", "fail", "processing"):
            raise InputError(
                f"status {status!r} is not done/fail/processing.", code="vxp.bad-param"
            )
        params = self._optional(("docid", doc_id), ("status", status), ("reason", reason))
        await self._call_json("updateStatus", "POST", JSON, params, b"{}")

    async def get_sent_edoc_list(
        self,
        messagetype: MessageType = "edoc",
        doc_id: str | None = None,
        from_date: str | None = None,
        to_date: str | None = None,
        *,
        servicetype: str = "eDoc",
    ) -> list[SentItem]:
        """getSentEdocList: what this system sent and how far each got (empty body)."""
        params = self._optional(
            ("servicetype", servicetype),
            ("messagetype", messagetype),
            ("docId", doc_id),
            ("fromDate", from_date),
            ("toDate", to_date),
        )
        answer = await self._call_json("getSentEdocList", "POST", JSON, params, b"")
        return self._items("getSentEdocList", answer, SentItem)

    async def _count(self, call: str) -> int:
        answer = await self._call_json(call, "GET", JSON, [], None)
        count = answer.get("count")
        if isinstance(count, bool) or not isinstance(count, int | str):
            raise PeerError(f"The VXP answer to {call} has no count.", code="vxp.bad-answer")
        try:
            value = int(count)
        except ValueError:
            raise PeerError(
                f"The VXP answer to {call} has a count that is not a number.",
                code="vxp.bad-answer",
            ) from None
        if value < 0:
            raise PeerError(
                f"The VXP answer to {call} has a negative count.", code="vxp.bad-answer"
            )
        return value

    async def count_receive_edoc(self) -> int:
        """countReceiveEdoc (GET): how many documents wait for this system."""
        return await self._count("countReceiveEdoc")

    async def count_receive_status(self) -> int:
        """countReceiveStatus (GET): how many status packets wait for this system."""
        return await self._count("countReceiveStatus")

    async def get_agencies_list(self) -> list[AgencyItem]:
        """getAgenciesList: the peer's directory of agencies (empty body)."""
        answer = await self._call_json("getAgenciesList", "POST", JSON, [], b"")
        return self._items("getAgenciesList", answer, AgencyItem)
