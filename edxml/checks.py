"""Content checks a production hub applies to a schema-valid packet.

:func:`check_packet` is a pure function: the packet and today's date in, every
problem found out (not only the first), each a :class:`Problem` with a stable code,
the element at fault and one sentence. An empty list means the content is
acceptable. Codes:

==========================  ====================================================
``packet.missing-field``    a field the hub needs is absent or blank
``packet.duplicate-recipient``  the same ``To`` twice (compared on the four-group form)
``packet.bad-date``         a date not ``yyyy/MM/dd`` (timestamps: ``yyyy/MM/dd HH:mm:ss``)
                            or not a real calendar date
``packet.future-date``      a ``PromulgationDate`` after ``today``
``packet.too-long``         over the intended length limits (characters, counted
                            after NFC normalization so decomposed Vietnamese is not
                            penalised)
``packet.bad-doctype``      ``DocumentType/Type`` other than 1 or 2
``organ.invalid``           an organization code outside Decision 20/2020's grammar
                            (see :mod:`edxml.organ`)
==========================  ====================================================

What is checked comes from the facts page, §1 "What a provincial hub in production
rejects", plus the intended length limits and the content each business type needs
(a revoke names what it revokes, an update says what changes, a replace lists what
it replaces). Nothing else is judged here: producers vary, and a check that no hub
applies would refuse packets the national axis accepts.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from axis_errors import PacketError
from edxml.model import BusinessType, DocumentPacket, Packet, StatusPacket
from edxml.organ import OrganId

__all__ = ["LENGTH_LIMITS", "Problem", "check_packet"]

#: Intended maximum lengths in characters (the facts page, §1).
LENGTH_LIMITS: Final[dict[str, int]] = {
    "Subject": 500,
    "Content": 500,
    "CodeNumber": 11,
    "CodeNotation": 30,
    "Place": 50,
    "TypeName": 100,
    "SphereOfPromulgation": 100,
    "TyperNotation": 10,
}

_DATE: Final = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2}")
_TIMESTAMP: Final = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a packet's content."""

    code: str
    element: str
    message: str


def check_packet(packet: Packet, *, today: dt.date) -> list[Problem]:
    """Every content problem of ``packet``; ``today`` is the hub's local date."""
    if isinstance(packet, DocumentPacket):
        return list(_check_document(packet, today))
    return list(_check_status(packet))


# ---------------------------------------------------------------------- helpers


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _missing(element: str, what: str | None = None) -> Problem:
    return Problem(
        "packet.missing-field",
        element,
        f"{what or element} is missing or blank; the hub requires it.",
    )


def _organ(element: str, text: str | None, *, required: bool = True) -> Iterable[Problem]:
    if _blank(text):
        if required:
            yield _missing(element)
        return
    assert text is not None
    try:
        OrganId.parse(text)
    except PacketError as exc:
        yield Problem("organ.invalid", element, exc.message)


def _too_long(element: str, name: str, text: str | None) -> Iterable[Problem]:
    if text is None:
        return
    limit = LENGTH_LIMITS[name]
    length = len(unicodedata.normalize("NFC", text))
    if length > limit:
        yield Problem(
            "packet.too-long",
            element,
            f"{name} is {length} characters long; the limit is {limit}.",
        )


def _parse_date(text: str) -> dt.date | None:
    if not _DATE.fullmatch(text):
        return None
    try:  # the pattern matched: ASCII digits where int() reads them (strptime: ~10 us, this ~2 us)
        return dt.date(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return None


def _date(
    element: str, text: str | None, *, today: dt.date | None = None, required: bool = False
) -> Iterable[Problem]:
    if _blank(text):
        if required:
            yield _missing(element)
        return
    assert text is not None
    parsed = _parse_date(text)
    if parsed is None:
        yield Problem(
            "packet.bad-date",
            element,
            f"{element} is {text[:40]!r}; it must be a real date written yyyy/MM/dd.",
        )
    elif today is not None and parsed > today:
        yield Problem(
            "packet.future-date",
            element,
            f"{element} is {text}, after today ({today:%Y/%m/%d}).",
        )


def _timestamp(element: str, text: str | None) -> Iterable[Problem]:
    if _blank(text):
        return
    assert text is not None
    ok = bool(_TIMESTAMP.fullmatch(text))
    if ok:
        try:  # as _parse_date: a real date and a time of day (seconds 0..59)
            dt.datetime(
                int(text[0:4]),
                int(text[5:7]),
                int(text[8:10]),
                int(text[11:13]),
                int(text[14:16]),
                int(text[17:19]),
            )
        except ValueError:
            ok = False
    if not ok:
        yield Problem(
            "packet.bad-date",
            element,
            f"{element} is {text[:40]!r}; it must be a real time written yyyy/MM/dd HH:mm:ss.",
        )


def _recipient_key(text: str) -> str:
    try:
        return OrganId.parse(text).padded
    except PacketError:
        return text.strip()


# --------------------------------------------------------------------- documents


def _check_document(packet: DocumentPacket, today: dt.date) -> Iterable[Problem]:
    header = packet.header
    mh = "MessageHeader"

    yield from _organ(f"{mh}/From/OrganId", header.from_.organ_id)
    if _blank(header.from_.organ_name):
        yield _missing(f"{mh}/From/OrganName")

    if not header.to:
        yield Problem("packet.missing-field", f"{mh}/To", "The packet names no recipient (To).")
    seen: dict[str, int] = {}
    for index, to in enumerate(header.to, start=1):
        element = f"{mh}/To[{index}]/OrganId"
        yield from _organ(element, to.organ_id)
        if _blank(to.organ_id):
            continue
        key = _recipient_key(to.organ_id)
        if key in seen:
            yield Problem(
                "packet.duplicate-recipient",
                element,
                f"The recipient {to.organ_id} is named twice (To[{seen[key]}] and To[{index}]).",
            )
        else:
            seen[key] = index

    if _blank(header.document_id):
        yield _missing(f"{mh}/DocumentId")

    code = header.code
    if _blank(code.code_number):
        yield _missing(f"{mh}/Code/CodeNumber")
    if _blank(code.code_notation):
        yield _missing(f"{mh}/Code/CodeNotation")
    yield from _too_long(f"{mh}/Code/CodeNumber", "CodeNumber", code.code_number)
    yield from _too_long(f"{mh}/Code/CodeNotation", "CodeNotation", code.code_notation)

    info = header.promulgation_info
    yield from _date(
        f"{mh}/PromulgationInfo/PromulgationDate",
        info.promulgation_date,
        today=today,
        required=True,
    )
    yield from _too_long(f"{mh}/PromulgationInfo/Place", "Place", info.place)

    doc_type = header.document_type
    if _blank(doc_type.type):
        yield _missing(f"{mh}/DocumentType/Type")
    elif (doc_type.type or "").strip() not in ("1", "2"):
        yield Problem(
            "packet.bad-doctype",
            f"{mh}/DocumentType/Type",
            f"DocumentType/Type is {doc_type.type!r}; it must be 1 or 2.",
        )
    yield from _too_long(f"{mh}/DocumentType/TypeName", "TypeName", doc_type.type_name)

    if _blank(header.subject):
        yield _missing(f"{mh}/Subject")
    yield from _too_long(f"{mh}/Subject", "Subject", header.subject)
    yield from _too_long(f"{mh}/Content", "Content", header.content)
    yield from _date(f"{mh}/DueDate", header.due_date)

    other = header.other_info
    yield from _too_long(
        f"{mh}/OtherInfo/SphereOfPromulgation",
        "SphereOfPromulgation",
        other.sphere_of_promulgation,
    )
    yield from _too_long(f"{mh}/OtherInfo/TyperNotation", "TyperNotation", other.typer_notation)

    for index, response in enumerate(header.response_for, start=1):
        element = f"{mh}/ResponseFor[{index}]"
        yield from _organ(f"{element}/OrganId", response.organ_id, required=False)
        yield from _date(f"{element}/PromulgationDate", response.promulgation_date)

    for index, hop in enumerate(packet.trace_headers, start=1):
        element = f"TraceHeaderList/TraceHeader[{index}]"
        yield from _organ(f"{element}/OrganId", hop.organ_id)
        yield from _timestamp(f"{element}/Timestamp", hop.timestamp)

    yield from _check_business(packet)


def _check_business(packet: DocumentPacket) -> Iterable[Problem]:
    business = packet.business
    bb = "TraceHeaderList/Bussiness"
    kind = business.business_doc_type
    if kind is BusinessType.REVOKE and not any(
        not _blank(r.document_id) or not _blank(r.organ_id) for r in packet.header.response_for
    ):
        yield Problem(
            "packet.missing-field",
            "MessageHeader/ResponseFor",
            "A revoke (business type 1) must name the revoked document in ResponseFor.",
        )
    if kind is BusinessType.UPDATE and business.document_info is None:
        yield Problem(
            "packet.missing-field",
            f"{bb}/BussinessDocumentInfo",
            "An update (business type 2) must say what changes in BussinessDocumentInfo.",
        )
    if kind is BusinessType.REPLACE and not business.replacement_info:
        yield Problem(
            "packet.missing-field",
            f"{bb}/ReplacementInfoList",
            "A replace (business type 3) must list the replaced document in ReplacementInfoList.",
        )
    if business.document_info is not None:
        for index, receiver in enumerate(business.document_info.receivers, start=1):
            yield from _organ(
                f"{bb}/BussinessDocumentInfo/ReceiverList/Receiver[{index}]/OrganId",
                receiver.organ_id,
            )
    for index, replacement in enumerate(business.replacement_info, start=1):
        for position, organ_id in enumerate(replacement.organ_ids, start=1):
            yield from _organ(
                f"{bb}/ReplacementInfoList/ReplacementInfo[{index}]/OrganIdList/"
                f"OrganId[{position}]",
                organ_id,
            )


# ---------------------------------------------------------------------- statuses


def _check_status(packet: StatusPacket) -> Iterable[Problem]:
    block = packet.block_name
    yield from _organ(f"{block}/From/OrganId", packet.from_.organ_id)
    yield from _organ(f"{block}/ResponseFor/OrganId", packet.response_for.organ_id)
    yield from _date(f"{block}/ResponseFor/PromulgationDate", packet.response_for.promulgation_date)
    yield from _timestamp(f"{block}/Timestamp", packet.timestamp)
