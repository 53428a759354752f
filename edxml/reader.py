"""Read a parsed edXML tree into the model (:mod:`edxml.model`).

:func:`read_packet` expects a tree that passed :func:`schemas.validate`; it still
refuses, with :class:`~axis_errors.PacketError` rather than a crash, a tree missing
something the model needs (so ``axis validate`` can read as much as possible of a
packet the schema refused). :func:`load_packet` is the whole intake of bytes:
hardened parse, schema, read.

Namespaces: every edXML element is in ``http://www.mic.gov.vn/TBT/QCVN_102_2016``;
producers write it as the root's default namespace and as the ``edXML:`` prefix —
both are the same names here (the reader matches expanded names). Spellings
accepted: ``Bussiness`` / ``Business`` (and their ``...DocType``, ``...DocReason``,
``...DocumentInfo`` children); the status block named ``MessageHeader`` or ``Status``.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from axis_errors import PacketError
from edxml.model import (
    NS,
    Attachment,
    Business,
    BusinessDocumentInfo,
    BusinessType,
    Code,
    DocumentPacket,
    DocumentType,
    MessageHeader,
    Organization,
    OtherInfo,
    Packet,
    PromulgationInfo,
    Receiver,
    Reference,
    ReplacementInfo,
    ResponseFor,
    SignatureKind,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPacket,
    TraceHeader,
)
from edxml.safe import DEFAULT_LIMITS, ParseLimits, parse_xml
from schemas import validate

__all__ = ["load_packet", "read_packet"]

XMLDSIG_NS: Final = "http://www.w3.org/2000/09/xmldsig#"


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def load_packet(data: bytes, limits: ParseLimits = DEFAULT_LIMITS) -> tuple[etree._Element, Packet]:
    """Parse (hardened), validate against the schema of its kind, and read.

    Raises :class:`~axis_errors.XmlError`, :class:`~axis_errors.SchemaError` or
    :class:`~axis_errors.PacketError`. Content checks (:mod:`edxml.checks`) are not
    applied: they need today's date and are the caller's decision.
    """
    root = parse_xml(data, limits)
    validate(root)
    return root, read_packet(root)


def read_packet(root: etree._Element) -> Packet:
    """Read a schema-valid edXML tree into a :class:`DocumentPacket` or
    :class:`StatusPacket`."""
    if root.tag != _q("edXML"):
        raise PacketError(
            f"The root element is {root.tag!r}, not edXML in the edXML namespace.",
            code="packet.not-edxml",
        )
    envelope = _required(root, "edXMLEnvelope", "edXML")
    header = _required(envelope, "edXMLHeader", "edXMLEnvelope")
    blocks = [child for child in header.iterchildren(tag=etree.Element)]
    if not blocks:
        raise _missing("edXMLHeader/MessageHeader")
    first = blocks[0]
    signature = _signature_kind(blocks[-1])
    if first.tag == _q("Status") or first.find(_q("StatusCode")) is not None:
        return _read_status(first, signature)
    if first.tag != _q("MessageHeader"):
        raise _missing("edXMLHeader/MessageHeader")
    return _read_document(root, envelope, header, first, signature)


# ----------------------------------------------------------------------- helpers


def _missing(path: str) -> PacketError:
    return PacketError(
        f"The packet has no {path} element, which is required.",
        code="packet.missing-field",
        details={"element": path},
    )


def _child(parent: etree._Element, *names: str) -> etree._Element | None:
    """The first child named one of ``names`` (alternative spellings)."""
    for name in names:
        # iterchildren filters in C; find() goes through ElementPath (~4x slower)
        for found in parent.iterchildren(_q(name)):
            return found
    return None


def _children(parent: etree._Element | None, name: str) -> list[etree._Element]:
    if parent is None:
        return []
    return list(parent.iterchildren(tag=_q(name)))


def _required(parent: etree._Element, name: str, where: str) -> etree._Element:
    found = _child(parent, name)
    if found is None:
        raise _missing(f"{where}/{name}")
    return found


def _value(element: etree._Element | None) -> str | None:
    """An element's text as sent (comments inside it do not split it); ``None``
    for an absent or empty element."""
    if element is None:
        return None
    if len(element) == 0:
        text = element.text
    else:
        parts = [element.text or ""]
        parts.extend(child.tail or "" for child in element)
        text = "".join(parts)
    return text or None


def _text(parent: etree._Element | None, *names: str) -> str | None:
    if parent is None:
        return None
    return _value(_child(parent, *names))


def _required_text(parent: etree._Element, name: str, where: str) -> str:
    text = _text(parent, name)
    if text is None:
        raise _missing(f"{where}/{name}")
    return text


def _signature_kind(last: etree._Element) -> SignatureKind:
    if last.tag == _q("Signature"):
        return "edxml-legacy"
    if last.tag == f"{{{XMLDSIG_NS}}}Signature":
        return "xmldsig"
    return "none"


# ---------------------------------------------------------------------- blocks


def _organization(element: etree._Element, where: str) -> Organization:
    return Organization(
        organ_id=_required_text(element, "OrganId", where),
        organization_in_charge=_text(element, "OrganizationInCharge"),
        organ_name=_text(element, "OrganName"),
        organ_add=_text(element, "OrganAdd"),
        email=_text(element, "Email"),
        telephone=_text(element, "Telephone"),
        fax=_text(element, "Fax"),
        website=_text(element, "Website"),
    )


def _response_for(element: etree._Element) -> ResponseFor:
    return ResponseFor(
        organ_id=_text(element, "OrganId"),
        code=_text(element, "Code"),
        promulgation_date=_text(element, "PromulgationDate"),
        document_id=_text(element, "DocumentId"),
    )


def _staff_info(element: etree._Element | None) -> StaffInfo | None:
    if element is None:
        return None
    return StaffInfo(
        department=_text(element, "Department"),
        staff=_text(element, "Staff"),
        email=_text(element, "Email"),
        mobile=_text(element, "Mobile"),
    )


def _message_header(element: etree._Element) -> MessageHeader:
    where = "MessageHeader"
    from_ = _child(element, "From")
    if from_ is None:
        raise _missing(f"{where}/From")
    code = _child(element, "Code")
    promulgation = _child(element, "PromulgationInfo")
    doc_type = _child(element, "DocumentType")
    signer = _child(element, "SignerInfo")
    other = _child(element, "OtherInfo")
    return MessageHeader(
        from_=_organization(from_, f"{where}/From"),
        to=tuple(
            _organization(to, f"{where}/To[{i}]")
            for i, to in enumerate(_children(element, "To"), start=1)
        ),
        document_id=_required_text(element, "DocumentId", where),
        code=Code(
            code_number=_text(code, "CodeNumber"),
            code_notation=_text(code, "CodeNotation"),
        ),
        promulgation_info=PromulgationInfo(
            place=_text(promulgation, "Place"),
            promulgation_date=_text(promulgation, "PromulgationDate"),
        ),
        document_type=DocumentType(
            type=_text(doc_type, "Type"),
            type_detail=_text(doc_type, "TypeDetail"),
            type_name=_text(doc_type, "TypeName"),
        ),
        subject=_text(element, "Subject"),
        content=_text(element, "Content"),
        signer_info=SignerInfo(
            competence=_text(signer, "Competence"),
            position=_text(signer, "Position"),
            full_name=_text(signer, "FullName"),
        ),
        due_date=_text(element, "DueDate"),
        other_info=OtherInfo(
            priority=_text(other, "Priority"),
            sphere_of_promulgation=_text(other, "SphereOfPromulgation"),
            typer_notation=_text(other, "TyperNotation"),
            promulgation_amount=_text(other, "PromulgationAmount"),
            page_amount=_text(other, "PageAmount"),
            direction=_text(other, "Direction"),
            appendixes=tuple(
                _value(a) or ""
                for a in _children(
                    _child(other, "Appendixes") if other is not None else None, "Appendix"
                )
            ),
        ),
        response_for=tuple(_response_for(r) for r in _children(element, "ResponseFor")),
        steering_type=_text(element, "SteeringType"),
        to_places=tuple(_value(p) or "" for p in _children(_child(element, "ToPlaces"), "Place")),
    )


def _business(element: etree._Element) -> Business:
    where = f"TraceHeaderList/{etree.QName(element).localname}"
    raw_type = _text(element, "BussinessDocType", "BusinessDocType")
    if raw_type is None:
        raise _missing(f"{where}/BussinessDocType")
    try:
        business_type = BusinessType(int(raw_type.strip()))
    except ValueError:
        raise PacketError(
            f"{where}/BussinessDocType is {raw_type!r}; it must be 0, 1, 2 or 3.",
            code="packet.bad-business-type",
            details={"element": f"{where}/BussinessDocType"},
        ) from None
    info = _child(element, "BussinessDocumentInfo", "BusinessDocumentInfo")
    document_info = None
    if info is not None:
        document_info = BusinessDocumentInfo(
            document_info=_text(info, "DocumentInfo"),
            document_receiver=_text(info, "DocumentReceiver"),
            receivers=tuple(
                Receiver(
                    organ_id=_value(_child(r, "OrganId")) or "",
                    receiver_type=_text(r, "ReceiverType"),
                )
                for r in _children(_child(info, "ReceiverList"), "Receiver")
            ),
        )
    return Business(
        business_doc_type=business_type,
        document_id=_text(element, "DocumentId"),
        business_doc_reason=_text(element, "BussinessDocReason", "BusinessDocReason"),
        paper=_text(element, "Paper"),
        document_info=document_info,
        replacement_info=tuple(
            ReplacementInfo(
                document_id=_text(r, "DocumentId"),
                organ_ids=tuple(
                    _value(o) or "" for o in _children(_child(r, "OrganIdList"), "OrganId")
                ),
            )
            for r in _children(_child(element, "ReplacementInfoList"), "ReplacementInfo")
        ),
        staff_info=_staff_info(_child(element, "StaffInfo")),
    )


def _read_document(
    root: etree._Element,
    envelope: etree._Element,
    header: etree._Element,
    message_header: etree._Element,
    signature: SignatureKind,
) -> DocumentPacket:
    message = _message_header(message_header)
    trace = _required(header, "TraceHeaderList", "edXMLHeader")
    business = _child(trace, "Bussiness", "Business")
    if business is None:
        raise _missing("TraceHeaderList/Bussiness")
    body = _child(envelope, "edXMLBody")
    manifest = _child(body, "edXMLManifest") if body is not None else None
    return DocumentPacket(
        header=message,
        trace_headers=tuple(
            TraceHeader(
                organ_id=_value(_child(t, "OrganId")) or "",
                timestamp=_text(t, "Timestamp"),
            )
            for t in _children(trace, "TraceHeader")
        ),
        business=_business(business),
        references=tuple(
            Reference(
                content_id=_value(_child(r, "ContentId")) or "",
                content_type=_text(r, "ContentType"),
                description=_text(r, "Description"),
                attachment_name=_text(r, "AttachmentName"),
            )
            for r in _children(manifest, "Reference")
        ),
        attachments=tuple(
            Attachment(
                content_id=_value(_child(a, "ContentId")) or "",
                content_base64=_value(_child(a, "ContentTransferEncoded")) or "",
                attachment_name=_text(a, "AttachmentName"),
                description=_text(a, "Description"),
                content_type=_text(a, "ContentType"),
            )
            for a in _children(_child(root, "AttachmentEncoded"), "Attachment")
        ),
        signature=signature,
    )


def _read_status(block: etree._Element, signature: SignatureKind) -> StatusPacket:
    where = etree.QName(block).localname
    from_ = _child(block, "From")
    if from_ is None:
        raise _missing(f"{where}/From")
    response_for = _child(block, "ResponseFor")
    if response_for is None:
        raise _missing(f"{where}/ResponseFor")
    raw_code = _text(block, "StatusCode")
    if raw_code is None:
        raise _missing(f"{where}/StatusCode")
    try:
        status_code = StatusCode(raw_code.strip())
    except ValueError:
        raise PacketError(
            f"{where}/StatusCode is {raw_code!r}; it must be one of "
            f"{', '.join(code.value for code in StatusCode)}.",
            code="packet.bad-status-code",
            details={"element": f"{where}/StatusCode"},
        ) from None
    return StatusPacket(
        from_=_organization(from_, f"{where}/From"),
        response_for=_response_for(response_for),
        status_code=status_code,
        staff_info=_staff_info(_child(block, "StaffInfo")),
        description=_text(block, "Description"),
        timestamp=_text(block, "Timestamp"),
        block_name="Status" if where == "Status" else "MessageHeader",
        signature=signature,
    )
