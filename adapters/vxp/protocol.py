"""The VXP protocol (the national axis's SDK protocol) as a pure codec: no I/O, no clock.

Shared by our VXP-compatible server (``axis/``) and our client (:mod:`adapters.vxp.client`).
What the vendor's Java SDK (SDKVXP 2.0.x) does, and what this module reproduces:

* The client keeps a parameter map (a ``java.util.HashMap``): ``timestamp`` (set once per
  client object), ``systemid``, ``Content-Type`` and the keys of every call's JSON
  parameters. The map is never cleared, so keys of earlier calls ride along.
* Each entry goes out as ``XroadVnpt-<name>: <value>`` (``Content-Type`` also unprefixed),
  in the map's iteration order (:func:`java_hashmap_order`), then
  ``XroadVnpt-sign-header-key`` (names joined with ``;``), ``XroadVnpt-sign-header`` (a
  compact Gson ``JsonObject`` of the prefixed names, same order, non-ASCII written raw:
  :func:`gson_object`), ``XroadVnpt-hash-header`` (lowercase hex HMAC-SHA256 of the UTF-8
  sign-header text, keyed with the UTF-8 secret), ``User-Agent`` and ``XroadVnpt-version``.
* ``hash-file`` is SHA-256 of the file, each byte printed without its leading zero.

Server side, :func:`verify_request` trusts nothing but the signed JSON, and
:func:`call_params` picks from it only the parameters the current call defines
(:data:`CALL_RULES`), because a long-lived SDK object carries stale keys of its earlier
calls. See ``docs/adr/0004-vxp-protocol.md``.

Error codes (all stable): ``vxp.missing-signature``, ``vxp.bad-sign-header``,
``vxp.unknown-system``, ``vxp.bad-hmac`` (:class:`VxpAuthError` subclasses of
``AuthError``); ``vxp.missing-param``, ``vxp.bad-param``, ``vxp.unknown-call``,
``vxp.bad-timestamp`` (``InputError``); ``vxp.peer-fail``, ``vxp.bad-answer``
(``PeerError``, raised when reading a peer's answer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final, Literal, Self

from axis_errors import AuthError, InputError, PeerError

__all__ = [
    "CALL_RULES",
    "HASH_HEADER",
    "PREFIX",
    "PROTOCOL_VERSION",
    "RESERVED_PARAMS",
    "SIGN_HEADER",
    "SIGN_HEADER_KEY",
    "USER_AGENT",
    "VERSION_HEADER",
    "AgencyItem",
    "BadHmac",
    "BadSignHeader",
    "MissingSignature",
    "ParamRule",
    "ReceivedItem",
    "SentItem",
    "SignedParams",
    "UnknownSystem",
    "UnverifiedSignature",
    "VxpAuthError",
    "WireRecord",
    "call_params",
    "check_hash_file",
    "envelope_fail",
    "envelope_ok",
    "format_timestamp",
    "frame_edoc",
    "gson_object",
    "hash_file",
    "hash_header",
    "java_hashmap_order",
    "parse_envelope",
    "parse_timestamp",
    "read_signature",
    "sign_headers",
    "unframe_edoc",
    "verify_request",
]

PREFIX: Final = "XroadVnpt-"
SIGN_HEADER_KEY: Final = "XroadVnpt-sign-header-key"
SIGN_HEADER: Final = "XroadVnpt-sign-header"
HASH_HEADER: Final = "XroadVnpt-hash-header"
VERSION_HEADER: Final = "XroadVnpt-version"
USER_AGENT: Final = "JAVASDKAgent/1.0.0 XRoad/VPCP"
PROTOCOL_VERSION: Final = "3.0.201608"
CRLF: Final = b"\r\n"

#: Parameter names that would collide with the protocol's own headers.
RESERVED_PARAMS: Final = frozenset({"sign-header-key", "sign-header", "hash-header", "version"})

MessageType = Literal["edoc", "status"]


# --------------------------------------------------------------------------- timestamps


def format_timestamp(dt: datetime) -> str:
    """``ddMMyyyy'T'HHmmss+SSSS`` as Java's SimpleDateFormat writes it.

    ``SSSS`` is the *milliseconds* zero-padded to four digits (``+0313`` = 313 ms), not a
    time zone. The wall-clock fields of ``dt`` are used as they are (the SDK writes the
    JVM's local time); an aware datetime is not converted.
    """
    return f"{dt.day:02d}{dt.month:02d}{dt.year:04d}T{dt:%H%M%S}+{dt.microsecond // 1000:04d}"


_TS_RE = re.compile(
    r"\s*(\d{2})(\d{2})(\d{4})[Tt ](\d{2})(\d{2})(\d{2})(?:[+.,](\d{1,4}))?\s*", re.ASCII
)


def parse_timestamp(text: str) -> datetime:
    """Parse an SDK timestamp leniently; a naive datetime (the sender's wall clock).

    Accepts ``27112026T092437+0313`` (the SDK), 1 to 4 digits of milliseconds after
    ``+``, ``.`` or ``,``, none at all, a lowercase ``t`` or a space as separator, and
    surrounding whitespace. Raises ``InputError`` (``vxp.bad-timestamp``) otherwise.
    """
    m = _TS_RE.fullmatch(text)
    if m is None:
        raise InputError(
            f"The VXP timestamp {text[:40]!r} is not ddMMyyyyTHHmmss+SSSS.",
            code="vxp.bad-timestamp",
        )
    day, month, year, hour, minute, second, millis = m.groups()
    ms = int(millis) if millis else 0
    try:
        if ms > 999:
            raise ValueError("milliseconds out of range")
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), ms * 1000
        )
    except ValueError as exc:
        raise InputError(
            f"The VXP timestamp {text[:40]!r} names no real moment ({exc}).",
            code="vxp.bad-timestamp",
        ) from None


# --------------------------------------------------------------------------- hash-file


def hash_file(data: bytes) -> str:
    """The SDK's ``hash-file``: SHA-256 of ``data``, each byte as hex WITHOUT its leading
    zero (Java ``Integer.toHexString(b & 0xff)``), so it may be shorter than 64 chars.

    ``data`` is the file itself: the request body minus its final CRLF (:func:`unframe_edoc`).
    The mapping digest -> text is not injective (``0x01 0x23`` and ``0x12 0x03`` both give
    ``123``); that weakens the check only to SHA-256 with a few bits fewer.
    """
    return "".join(format(b, "x") for b in hashlib.sha256(data).digest())


def check_hash_file(body_without_crlf: bytes, claimed: str) -> bool:
    """Whether ``claimed`` (the signed ``hash-file``) matches the file, case-insensitively."""
    expected = hash_file(body_without_crlf).encode("ascii")
    got = claimed.strip().lower().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected, got)


# --------------------------------------------------------------------------- body framing


def frame_edoc(data: bytes) -> bytes:
    """The sendEdoc body: the file's bytes followed by CRLF (what the SDK writes)."""
    return data + CRLF


def unframe_edoc(body: bytes) -> bytes:
    """The file inside a sendEdoc body: strip exactly one trailing CRLF, if present."""
    return body[:-2] if body.endswith(CRLF) else body


# --------------------------------------------------------------------------- signing


_GSON_SHORT: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\t": "\\t",
    "\b": "\\b",
    "\n": "\\n",
    "\r": "\\r",
    "\f": "\\f",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _gson_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        rep = _GSON_SHORT.get(ch)
        if rep is not None:
            out.append(rep)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def gson_object(pairs: Iterable[tuple[str, str]]) -> str:
    """A compact JSON object exactly as Gson's ``JsonObject.toString()`` writes it.

    No spaces; keys in the given order; ``"`` ``\\`` and control characters escaped
    (``\\t \\b \\n \\r \\f`` short, others ``\\u00xx`` lowercase), U+2028/U+2029 escaped;
    every other character, non-ASCII included, written raw (the HMAC then runs over its
    UTF-8 bytes). Gson's default writer is not "HTML-safe": ``< > & = '`` stay raw.
    """
    return "{" + ",".join(f"{_gson_quote(k)}:{_gson_quote(v)}" for k, v in pairs) + "}"


def _java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as an unsigned 32-bit int."""
    h = 0
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


def java_hashmap_order(names: Sequence[str]) -> list[str]:
    """The iteration order of a ``java.util.HashMap`` holding ``names``, inserted in the
    given order (and never removed): by bucket ``(h ^ h >>> 16) & (capacity - 1)`` of
    Java's ``String.hashCode``, then insertion order within a bucket. Capacity starts at
    16 and doubles whenever the size exceeds 3/4 of it. This is the order of every
    captured request's ``sign-header-key``. (Tree bins, which need 8 keys in one bucket
    of a table of 64 or more, are not modelled.)
    """
    capacity = 16
    while len(names) > capacity * 3 // 4:
        capacity *= 2
    position = {name: i for i, name in reversed(list(enumerate(names)))}

    def bucket(name: str) -> tuple[int, int]:
        h = _java_string_hash(name)
        return ((h ^ (h >> 16)) & (capacity - 1), position[name])

    return sorted(dict.fromkeys(names), key=bucket)


def hash_header(sign_header_text: str | bytes, secret: str) -> str:
    """Lowercase hex HMAC-SHA256 of the sign-header text (UTF-8), keyed with the UTF-8
    secret: the value of ``XroadVnpt-hash-header``."""
    data = (
        sign_header_text
        if isinstance(sign_header_text, bytes)
        else sign_header_text.encode("utf-8")
    )
    return hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()


_FORBIDDEN_IN_HEADER = re.compile(r"[\r\n\x00]")
_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", re.ASCII)


def sign_headers(
    params: Sequence[tuple[str, str]],
    secret: str,
    *,
    content_type_first: bool = False,
) -> list[tuple[str, str]]:
    """The exact header list the SDK sends for the ordered parameter map ``params``.

    ``params`` are the unprefixed names and values in the order they go out (the SDK's
    order is :func:`java_hashmap_order` of its map). For each: ``XroadVnpt-<name>``; the
    ``Content-Type`` entry is also sent unprefixed, just before its prefixed copy (as the
    SDK's Apache-HttpClient calls do), or first of all with ``content_type_first`` (as its
    sendEdoc, which goes through ``HttpURLConnection``, does). Then sign-header-key,
    sign-header, hash-header, ``User-Agent`` and ``XroadVnpt-version``.

    Raises ``InputError`` (``vxp.bad-param``) for a duplicate or reserved name, a name that
    is not an HTTP token, or a value holding CR, LF or NUL (header injection) or text that
    is not encodable (lone surrogates).
    """
    seen: set[str] = set()
    for name, value in params:
        if not _NAME_RE.fullmatch(name) or name in RESERVED_PARAMS or name in seen:
            raise InputError(
                f"The VXP parameter name {name!r} is duplicate, reserved or not a token.",
                code="vxp.bad-param",
            )
        seen.add(name)
        if _FORBIDDEN_IN_HEADER.search(value):
            raise InputError(
                f"The VXP parameter {name!r} holds CR, LF or NUL.", code="vxp.bad-param"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(
                f"The VXP parameter {name!r} is not encodable text.", code="vxp.bad-param"
            ) from None

    out: list[tuple[str, str]] = []
    content_type = next((v for n, v in params if n == "Content-Type"), None)
    if content_type_first and content_type is not None:
        out.append(("Content-Type", content_type))
    for name, value in params:
        if name == "Content-Type" and not content_type_first:
            out.append(("Content-Type", value))
        out.append((PREFIX + name, value))
    text = gson_object((PREFIX + n, v) for n, v in params)
    out += [
        (SIGN_HEADER_KEY, ";".join(n for n, _ in params)),
        (SIGN_HEADER, text),
        (HASH_HEADER, hash_header(text, secret)),
        ("User-Agent", USER_AGENT),
        (VERSION_HEADER, PROTOCOL_VERSION),
    ]
    return out


# --------------------------------------------------------------------------- verifying


class VxpAuthError(AuthError):
    """A VXP request's signature could not be accepted."""

    default_code: ClassVar[str] = "vxp.auth"
    http_status: ClassVar[int] = 401


class MissingSignature(VxpAuthError):
    default_code = "vxp.missing-signature"


class BadSignHeader(VxpAuthError):
    default_code = "vxp.bad-sign-header"


class UnknownSystem(VxpAuthError):
    default_code = "vxp.unknown-system"


class BadHmac(VxpAuthError):
    default_code = "vxp.bad-hmac"


@dataclass(frozen=True)
class SignedParams:
    """What a verified request says, taken ONLY from its signed JSON.

    ``params`` maps unprefixed names (case-sensitive: ``docId`` and ``docid`` are
    different keys) to values, in signed order; it includes ``systemid``, ``timestamp``
    and ``Content-Type``. ``timestamp`` is the parsed signed timestamp, or None when it is
    absent or unparseable (it is informational: the SDK reuses it for the life of its
    client object, so freshness cannot be enforced).
    """

    systemid: str
    params: dict[str, str] = field(hash=False)
    timestamp: datetime | None


def _single(headers: Mapping[str, str], name: str) -> str | None:
    getall: Callable[..., list[str]] | None = getattr(headers, "getall", None)
    if getall is not None:
        values = getall(name, [])
        if len(values) > 1:
            raise BadSignHeader(
                f"The request carries {name} {len(values)} times.", code="vxp.bad-sign-header"
            )
        return values[0] if values else None
    value = headers.get(name)
    if value is None:  # a plain dict: look case-insensitively
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


@dataclass(frozen=True)
class UnverifiedSignature:
    """A request's signature parts, read but NOT yet checked (:func:`read_signature`).

    ``systemid`` is only a claim until :meth:`verify` succeeds; it is exposed so that a
    server can look the secret up asynchronously (in its store) between the two steps.
    """

    systemid: str
    _params: dict[str, str] = field(repr=False, hash=False)
    _raw: bytes = field(repr=False)
    _mac: bytes = field(repr=False)

    def verify(self, secret: str | None) -> SignedParams:
        """Check the HMAC with ``secret`` (None = the system is unknown).

        Raises ``UnknownSystem`` or ``BadHmac``; returns the signed parameters.
        """
        sid = self.systemid[:80]
        if secret is None:
            raise UnknownSystem(
                f"The system {sid!r} is not registered.",
                code="vxp.unknown-system",
                details={"systemid": sid},
            )
        expected = hash_header(self._raw, secret).encode("ascii")
        if not hmac.compare_digest(expected, self._mac):
            raise BadHmac(
                f"{HASH_HEADER} does not match the signed header for system {sid!r}.",
                code="vxp.bad-hmac",
                details={"systemid": sid},
            )
        params = dict(self._params)
        timestamp: datetime | None = None
        if "timestamp" in params:
            try:
                timestamp = parse_timestamp(params["timestamp"])
            except InputError:
                timestamp = None
        return SignedParams(systemid=self.systemid, params=params, timestamp=timestamp)


def read_signature(headers: Mapping[str, str]) -> UnverifiedSignature:
    """Step 1 of :func:`verify_request`: read and parse the signature headers.

    Raises ``MissingSignature`` or ``BadSignHeader``. Nothing in the result may be
    trusted before :meth:`UnverifiedSignature.verify` returns.
    """
    text = _single(headers, SIGN_HEADER)
    mac = _single(headers, HASH_HEADER)
    if not text or not mac:
        missing = SIGN_HEADER if not text else HASH_HEADER
        raise MissingSignature(
            f"The request has no {missing} header.", code="vxp.missing-signature"
        )
    raw = text.encode("utf-8", "surrogateescape")
    try:
        decoded = raw.decode("utf-8")
        obj = json.loads(decoded, object_pairs_hook=_pairs_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadSignHeader(
            f"{SIGN_HEADER} is not UTF-8 JSON ({type(exc).__name__}).",
            code="vxp.bad-sign-header",
        ) from None
    if not isinstance(obj, dict):
        raise BadSignHeader(f"{SIGN_HEADER} is not a JSON object.", code="vxp.bad-sign-header")
    params: dict[str, str] = {}
    for key, value in obj.items():
        if not key.startswith(PREFIX) or len(key) == len(PREFIX):
            raise BadSignHeader(
                f"{SIGN_HEADER} holds the key {key[:60]!r} without the {PREFIX} prefix.",
                code="vxp.bad-sign-header",
            )
        if not isinstance(value, str):
            raise BadSignHeader(
                f"{SIGN_HEADER} holds a non-string value for {key[:60]!r}.",
                code="vxp.bad-sign-header",
            )
        params[key[len(PREFIX) :]] = value
    systemid = params.get("systemid")
    if not systemid:
        raise BadSignHeader(
            f"{SIGN_HEADER} names no XroadVnpt-systemid.", code="vxp.bad-sign-header"
        )
    got = mac.strip().lower().encode("utf-8", "surrogateescape")
    return UnverifiedSignature(systemid, params, raw, got)


def verify_request(
    headers: Mapping[str, str], secret_for: Callable[[str], str | None]
) -> SignedParams:
    """Check a VXP request's HMAC and return its signed parameters.

    ``headers`` is case-insensitive (aiohttp's ``CIMultiDictProxy``; a plain dict is
    searched case-insensitively). The ``XroadVnpt-sign-header`` text is used exactly as
    received: aiohttp decodes header bytes as UTF-8 with ``surrogateescape``, so
    re-encoding the same way gives back the bytes that were on the wire. ``systemid`` is
    read from INSIDE the signed JSON, its secret looked up with ``secret_for`` (None =
    unknown), and the HMAC compared in constant time. Every ``XroadVnpt-*`` header outside
    the signed JSON, or disagreeing with it, is ignored; so is ``sign-header-key``.

    Raises ``MissingSignature``, ``BadSignHeader`` (not UTF-8, not a JSON object of
    strings, a duplicate or unprefixed key, no systemid, the header sent twice),
    ``UnknownSystem`` or ``BadHmac``. For an asynchronous secret lookup use the two steps
    ``read_signature(headers)`` then ``.verify(await lookup(sig.systemid))``.
    """
    unverified = read_signature(headers)
    return unverified.verify(secret_for(unverified.systemid))


# --------------------------------------------------------------------------- per-call params


@dataclass(frozen=True)
class ParamRule:
    """One parameter a call defines: its canonical ``name``, the signed ``keys`` tried in
    order (the first present wins), whether it is ``required`` and, if given, the
    ``allowed`` values (matched case-insensitively, returned in the canonical spelling)."""

    name: str
    keys: tuple[str, ...]
    required: bool = False
    allowed: tuple[str, ...] | None = None


def _p(
    name: str, *alias: str, required: bool = False, allowed: tuple[str, ...] | None = None
) -> ParamRule:
    return ParamRule(name, (name, *alias), required, allowed)


_MESSAGETYPE = ("edoc", "status")

#: THE table of which signed parameters each call may read. A key not listed for the call
#: is ignored even when signed: a long-lived SDK object carries the keys of its earlier
#: calls, and their values may name another document (``../samples/vxp-wire/session/``).
#: updateStatus prefers ``docid`` (its own key in the SDK's examples) and falls back to
#: ``docId`` only when ``docid`` is absent; ``reason`` is our extension (the SDK sends none),
#: and so is sendEdoc's ``trace`` (the hops an axis forwarding the packet records, ADR 0010).
CALL_RULES: Final[Mapping[str, tuple[ParamRule, ...]]] = {
    "sendEdoc": (
        _p("from", required=True),
        _p("servicetype"),
        _p("messagetype", allowed=_MESSAGETYPE),
        _p("to"),
        _p("hash-file"),
        _p("trace"),
    ),
    "getReceivedEdocList": (
        _p("servicetype"),
        _p("messagetype", allowed=_MESSAGETYPE),
        _p("fromDate"),
        _p("toDate"),
    ),
    "getEdoc": (_p("docId", required=True),),
    "downloadEdoc": (_p("docId", required=True),),
    "updateStatus": (
        _p("docid", "docId", required=True),
        _p("status", required=True, allowed=("done", "fail", "processing")),
        _p("reason"),
    ),
    "getSentEdocList": (
        _p("servicetype"),
        _p("messagetype", allowed=_MESSAGETYPE),
        _p("docId"),
        _p("fromDate"),
        _p("toDate"),
    ),
    "countReceiveEdoc": (),
    "countReceiveStatus": (),
    "getAgenciesList": (),
    "registerAgency": (),
    "deleteAgency": (_p("AgencyCode", required=True),),
}


def call_params(signed: SignedParams, call: str) -> dict[str, str]:
    """The parameters ``call`` defines, read from the signed JSON only (:data:`CALL_RULES`).

    Returns canonical name -> value for those present (``updateStatus`` always yields
    ``docid``, whichever key carried it). Raises ``InputError``: ``vxp.unknown-call``,
    ``vxp.missing-param`` (a required one absent or empty), ``vxp.bad-param`` (a value
    outside the allowed set).
    """
    rules = CALL_RULES.get(call)
    if rules is None:
        raise InputError(f"{call[:60]!r} is not a VXP call.", code="vxp.unknown-call")
    out: dict[str, str] = {}
    for rule in rules:
        value = next((signed.params[k] for k in rule.keys if k in signed.params), None)
        if value is None or (rule.required and value == ""):
            if rule.required:
                raise InputError(
                    f"The {call} call needs the signed parameter {rule.name!r}.",
                    code="vxp.missing-param",
                    details={"call": call, "param": rule.name},
                )
            continue
        if rule.allowed is not None:
            canon = next((a for a in rule.allowed if a.lower() == value.lower()), None)
            if canon is None:
                raise InputError(
                    f"The {call} parameter {rule.name!r} must be one of "
                    f"{', '.join(rule.allowed)}, not {value[:40]!r}.",
                    code="vxp.bad-param",
                    details={"call": call, "param": rule.name},
                )
            value = canon
        out[rule.name] = value
    return out


# --------------------------------------------------------------------------- envelopes

_ENVELOPE_KEYS: Final = frozenset({"status", "ErrorCode", "ErrorDesc"})


def envelope_ok(*, desc: str = "Success", **fields: Any) -> dict[str, Any]:
    """A success answer: ``{"status": "OK", "ErrorCode": "0", "ErrorDesc": desc, **fields}``.

    The SDK reads ``status``, ``ErrorCode`` and ``ErrorDesc`` on every answer (a missing
    one makes it fail), then the call's own fields (``DocId``, ``data``, ``count``).
    """
    if _ENVELOPE_KEYS & fields.keys():
        raise ValueError("envelope fields may not override status/ErrorCode/ErrorDesc")
    return {"status": "OK", "ErrorCode": "0", "ErrorDesc": desc, **fields}


def envelope_fail(code: str, desc: str, **fields: Any) -> dict[str, Any]:
    """A failure answer: ``{"status": "FAIL", "ErrorCode": code, "ErrorDesc": desc}``.

    ``code`` must not be ``"0"``. Extra ``fields`` help old SDKs, which read some fields
    even on failure (sendEdoc reads ``DocId`` unconditionally: pass ``DocId=""``).
    """
    if code == "0":
        raise ValueError("a failure envelope needs an ErrorCode other than '0'")
    if _ENVELOPE_KEYS & fields.keys():
        raise ValueError("envelope fields may not override status/ErrorCode/ErrorDesc")
    return {"status": "FAIL", "ErrorCode": code, "ErrorDesc": desc, **fields}


def parse_envelope(obj: object) -> dict[str, Any]:
    """Check a peer's answer and return it (a dict) when it reports success.

    Raises ``PeerError``: ``vxp.bad-answer`` when it is not a JSON object with an
    ``ErrorCode``; ``vxp.peer-fail`` (details ``ErrorCode``, ``ErrorDesc``, ``status``)
    when ``ErrorCode`` is not ``"0"`` (a number 0 counts as ``"0"``, as Gson's
    ``getAsString`` reads it) or ``status`` says ``FAIL``.
    """
    if not isinstance(obj, dict) or "ErrorCode" not in obj:
        raise PeerError("The VXP answer is not an envelope with ErrorCode.", code="vxp.bad-answer")
    code = obj["ErrorCode"]
    code_text = code if isinstance(code, str) else json.dumps(code)
    status = obj.get("status")
    if code_text != "0" or (isinstance(status, str) and status.upper() == "FAIL"):
        desc = obj.get("ErrorDesc")
        raise PeerError(
            f"The VXP peer refused the call: ErrorCode {code_text[:20]}"
            f" ({str(desc)[:200] if desc is not None else 'no description'}).",
            code="vxp.peer-fail",
            details={
                "ErrorCode": code_text[:40],
                "ErrorDesc": None if desc is None else str(desc)[:500],
                "status": None if status is None else str(status)[:20],
            },
        )
    return obj


# --------------------------------------------------------------------------- list records


def _text(value: object) -> str:
    """A field as Gson's ``getAsString`` would give it; nested JSON kept as compact text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class WireRecord:
    """Mixin: a frozen record with a wire-name map (``_WIRE``: attribute -> JSON key)."""

    _WIRE: ClassVar[tuple[tuple[str, str], ...]]
    _REQUIRED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Read one list item; missing fields become ``""``, numbers their text.

        Raises ``PeerError`` (``vxp.bad-answer``) when ``obj`` is not an object or a
        required field (the item's identity) is missing or empty.
        """
        if not isinstance(obj, dict):
            raise PeerError(
                f"A {cls.__name__} in the VXP answer is not a JSON object.",
                code="vxp.bad-answer",
            )
        values = {attr: _text(obj.get(key)) for attr, key in cls._WIRE}
        for attr in cls._REQUIRED:
            if not values[attr]:
                wire = dict(cls._WIRE)[attr]
                raise PeerError(
                    f"A {cls.__name__} in the VXP answer has no {wire!r}.",
                    code="vxp.bad-answer",
                )
        return cls(**values)

    def to_json(self) -> dict[str, str]:
        """The item as the wire writes it (JSON keys, string values)."""
        return {key: getattr(self, attr) for attr, key in self._WIRE}


@dataclass(frozen=True)
class ReceivedItem(WireRecord):
    """One item of getReceivedEdocList's ``data``."""

    doc_id: str
    service_type: str = ""
    message_type: str = ""
    created_time: str = ""
    updated_time: str = ""
    from_code: str = ""
    to: str = ""
    status: str = ""
    status_desc: str = ""

    _WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("doc_id", "docId"),
        ("service_type", "serviceType"),
        ("message_type", "messageType"),
        ("created_time", "created_time"),
        ("updated_time", "updated_time"),
        ("from_code", "from"),
        ("to", "to"),
        ("status", "status"),
        ("status_desc", "status_desc"),
    )
    _REQUIRED: ClassVar[tuple[str, ...]] = ("doc_id",)


@dataclass(frozen=True)
class SentItem(WireRecord):
    """One item of getSentEdocList's ``data``."""

    sender_doc_id: str
    receiver_doc_id: str = ""
    from_code: str = ""
    to_code: str = ""
    send_status: str = ""
    send_status_desc: str = ""
    receive_status: str = ""
    receive_status_desc: str = ""
    title: str = ""
    notation: str = ""
    sent_time: str = ""
    received_time: str = ""
    message_type: str = ""
    service_type: str = ""

    _WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("sender_doc_id", "senderDocId"),
        ("receiver_doc_id", "receiverDocId"),
        ("from_code", "fromCode"),
        ("to_code", "toCode"),
        ("send_status", "sendStatus"),
        ("send_status_desc", "sendStatusDesc"),
        ("receive_status", "receiveStatus"),
        ("receive_status_desc", "receiveStatusDesc"),
        ("title", "title"),
        ("notation", "notation"),
        ("sent_time", "sentTime"),
        ("received_time", "receivedTime"),
        ("message_type", "messageType"),
        ("service_type", "serviceType"),
    )
    _REQUIRED: ClassVar[tuple[str, ...]] = ("sender_doc_id",)


@dataclass(frozen=True)
class AgencyItem(WireRecord):
    """One item of getAgenciesList's ``data`` (``id``/``pid`` kept as text)."""

    id: str
    code: str
    name: str = ""
    mail: str = ""
    pid: str = ""
    old_code: str = ""

    _WIRE: ClassVar[tuple[tuple[str, str], ...]] = (
        ("id", "id"),
        ("code", "code"),
        ("name", "name"),
        ("mail", "mail"),
        ("pid", "pid"),
        ("old_code", "oldCode"),
    )
    _REQUIRED: ClassVar[tuple[str, ...]] = ("code",)
