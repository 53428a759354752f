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
    top = _Kids(root)
    envelope = _Kids(top.required("edXMLEnvelope", "edXML"))
    header_element = envelope.required("edXMLHeader", "edXMLEnvelope")
    blocks = [child for child in header_element.iterchildren(tag=etree.Element)]
    if not blocks:
        raise _missing("edXMLHeader/MessageHeader")
    first = blocks[0]
    signature = _signature_kind(blocks[-1])
    block = _Kids(first)
    if first.tag == _q("Status") or block.child("StatusCode") is not None:
        return _read_status(block, etree.QName(first).localname, signature)
    if first.tag != _q("MessageHeader"):
        raise _missing("edXMLHeader/MessageHeader")
    return _read_document(top, envelope, _Kids(header_element), block, signature)


# ----------------------------------------------------------------------- helpers


def _missing(path: str) -> PacketError:
    return PacketError(
        f"The packet has no {path} element, which is required.",
        code="packet.missing-field",
        details={"element": path},
    )


#: the tag filter for every edXML element, and the length of the ``{NS}`` prefix
_ANY: Final = f"{{{NS}}}*"
_PREFIX: Final = len(f"{{{NS}}}")


class _Kids:
    """The edXML children of one element by local name, read in one pass.

    The reader asks a block for most of its children, one name after another; one walk
    over them (each child once) costs less than a filtered walk per name (each call
    builds a tag matcher and walks until it finds one), and a name that is absent costs
    a dictionary miss. Built for ``None`` too: then every child is absent.
    """

    __slots__ = ("_by_name",)

    def __init__(self, element: etree._Element | None) -> None:
        by_name: dict[str, list[etree._Element]] = {}
        if element is not None:
            for child in element.iterchildren(_ANY):
                name = child.tag[_PREFIX:]
                found = by_name.get(name)
                if found is None:
                    by_name[name] = [child]
                else:
                    found.append(child)
        self._by_name = by_name

    def child(self, *names: str) -> etree._Element | None:
        """The first child named one of ``names`` (alternative spellings)."""
        for name in names:
            found = self._by_name.get(name)
            if found is not None:
                return found[0]
        return None

    def all(self, name: str) -> list[etree._Element]:
        """Every child named ``name``, in document order."""
        return self._by_name.get(name, [])

    def text(self, *names: str) -> str | None:
        """The text of the first child named one of ``names`` (:func:`_value`)."""
        return _value(self.child(*names))

    def kids(self, name: str) -> _Kids:
        """The children of the first child named ``name`` (none when it is absent)."""
        return _Kids(self.child(name))

    def required(self, name: str, where: str) -> etree._Element:
        found = self.child(name)
        if found is None:
            raise _missing(f"{where}/{name}")
        return found

    def required_text(self, name: str, where: str) -> str:
        text = self.text(name)
        if text is None:
            raise _missing(f"{where}/{name}")
        return text


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


def _signature_kind(last: etree._Element) -> SignatureKind:
    if last.tag == _q("Signature"):
        return "edxml-legacy"
    if last.tag == f"{{{XMLDSIG_NS}}}Signature":
        return "xmldsig"
    return "none"


# ---------------------------------------------------------------------- blocks


def _organization(element: etree._Element, where: str) -> Organization:
    k = _Kids(element)
    return Organization(
        organ_id=k.required_text("OrganId", where),
        organization_in_charge=k.text("OrganizationInCharge"),
        organ_name=k.text("OrganName"),
        organ_add=k.text("OrganAdd"),
        email=k.text("Email"),
        telephone=k.text("Telephone"),
        fax=k.text("Fax"),
        website=k.text("Website"),
    )


def _response_for(element: etree._Element) -> ResponseFor:
    k = _Kids(element)
    return ResponseFor(
        organ_id=k.text("OrganId"),
        code=k.text("Code"),
        promulgation_date=k.text("PromulgationDate"),
        document_id=k.text("DocumentId"),
    )


def _staff_info(element: etree._Element | None) -> StaffInfo | None:
    if element is None:
        return None
    k = _Kids(element)
    return StaffInfo(
        department=k.text("Department"),
        staff=k.text("Staff"),
        email=k.text("Email"),
        mobile=k.text("Mobile"),
    )


def _message_header(k: _Kids) -> MessageHeader:
    where = "MessageHeader"
    from_ = k.required("From", where)
    code = k.kids("Code")
    promulgation = k.kids("PromulgationInfo")
    doc_type = k.kids("DocumentType")
    signer = k.kids("SignerInfo")
    other = k.kids("OtherInfo")
    return MessageHeader(
        from_=_organization(from_, f"{where}/From"),
        to=tuple(
            _organization(to, f"{where}/To[{i}]") for i, to in enumerate(k.all("To"), start=1)
        ),
        document_id=k.required_text("DocumentId", where),
        code=Code(
            code_number=code.text("CodeNumber"),
            code_notation=code.text("CodeNotation"),
        ),
        promulgation_info=PromulgationInfo(
            place=promulgation.text("Place"),
            promulgation_date=promulgation.text("PromulgationDate"),
        ),
        document_type=DocumentType(
            type=doc_type.text("Type"),
            type_detail=doc_type.text("TypeDetail"),
            type_name=doc_type.text("TypeName"),
        ),
        subject=k.text("Subject"),
        content=k.text("Content"),
        signer_info=SignerInfo(
            competence=signer.text("Competence"),
            position=signer.text("Position"),
            full_name=signer.text("FullName"),
        ),
        due_date=k.text("DueDate"),
        other_info=OtherInfo(
            priority=other.text("Priority"),
            sphere_of_promulgation=other.text("SphereOfPromulgation"),
            typer_notation=other.text("TyperNotation"),
            promulgation_amount=other.text("PromulgationAmount"),
            page_amount=other.text("PageAmount"),
            direction=other.text("Direction"),
            appendixes=tuple(_value(a) or "" for a in other.kids("Appendixes").all("Appendix")),
        ),
        response_for=tuple(_response_for(r) for r in k.all("ResponseFor")),
        steering_type=k.text("SteeringType"),
        to_places=tuple(_value(p) or "" for p in k.kids("ToPlaces").all("Place")),
    )


def _business(element: etree._Element) -> Business:
    where = f"TraceHeaderList/{etree.QName(element).localname}"
    k = _Kids(element)
    raw_type = k.text("BussinessDocType", "BusinessDocType")
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
    info_element = k.child("BussinessDocumentInfo", "BusinessDocumentInfo")
    document_info = None
    if info_element is not None:
        info = _Kids(info_element)
        document_info = BusinessDocumentInfo(
            document_info=info.text("DocumentInfo"),
            document_receiver=info.text("DocumentReceiver"),
            receivers=tuple(_receiver(_Kids(r)) for r in info.kids("ReceiverList").all("Receiver")),
        )
    return Business(
        business_doc_type=business_type,
        document_id=k.text("DocumentId"),
        business_doc_reason=k.text("BussinessDocReason", "BusinessDocReason"),
        paper=k.text("Paper"),
        document_info=document_info,
        replacement_info=tuple(
            _replacement(_Kids(r)) for r in k.kids("ReplacementInfoList").all("ReplacementInfo")
        ),
        staff_info=_staff_info(k.child("StaffInfo")),
    )


def _receiver(k: _Kids) -> Receiver:
    return Receiver(organ_id=k.text("OrganId") or "", receiver_type=k.text("ReceiverType"))


def _replacement(k: _Kids) -> ReplacementInfo:
    return ReplacementInfo(
        document_id=k.text("DocumentId"),
        organ_ids=tuple(_value(o) or "" for o in k.kids("OrganIdList").all("OrganId")),
    )


def _read_document(
    top: _Kids,
    envelope: _Kids,
    header: _Kids,
    message_header: _Kids,
    signature: SignatureKind,
) -> DocumentPacket:
    message = _message_header(message_header)
    trace = _Kids(header.required("TraceHeaderList", "edXMLHeader"))
    business = trace.child("Bussiness", "Business")
    if business is None:
        raise _missing("TraceHeaderList/Bussiness")
    manifest = envelope.kids("edXMLBody").kids("edXMLManifest")
    return DocumentPacket(
        header=message,
        trace_headers=tuple(_trace_header(_Kids(t)) for t in trace.all("TraceHeader")),
        business=_business(business),
        references=tuple(_reference(_Kids(r)) for r in manifest.all("Reference")),
        attachments=tuple(
            _attachment(_Kids(a)) for a in top.kids("AttachmentEncoded").all("Attachment")
        ),
        signature=signature,
    )


def _trace_header(k: _Kids) -> TraceHeader:
    return TraceHeader(organ_id=k.text("OrganId") or "", timestamp=k.text("Timestamp"))


def _reference(k: _Kids) -> Reference:
    return Reference(
        content_id=k.text("ContentId") or "",
        content_type=k.text("ContentType"),
        description=k.text("Description"),
        attachment_name=k.text("AttachmentName"),
    )


def _attachment(k: _Kids) -> Attachment:
    return Attachment(
        content_id=k.text("ContentId") or "",
        content_base64=k.text("ContentTransferEncoded") or "",
        attachment_name=k.text("AttachmentName"),
        description=k.text("Description"),
        content_type=k.text("ContentType"),
    )


def _read_status(block: _Kids, where: str, signature: SignatureKind) -> StatusPacket:
    from_ = block.required("From", where)
    response_for = block.required("ResponseFor", where)
    raw_code = block.required_text("StatusCode", where)
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
        staff_info=_staff_info(block.child("StaffInfo")),
        description=block.text("Description"),
        timestamp=block.text("Timestamp"),
        block_name="Status" if where == "Status" else "MessageHeader",
        signature=signature,
    )
