"""Build edXML packets (bytes) from the model.

Output: UTF-8 with an XML declaration, the edXML namespace as the root's default
namespace (no ``edXML:`` prefixes: one clean spelling; readers treat both alike),
elements in the order producers write and the schemas expect, two-space
indentation. ``None`` fields and all-empty blocks are left out; the ``Bussiness``
block uses the wire spelling. No signature is written (``signing`` adds one as the
last child of ``edXMLHeader``), so the model's ``signature`` field is ignored.

``read_packet(parse_xml(build_packet(p))) == p`` for every packet whose texts are
non-empty and XML-compatible and whose ``signature`` is ``"none"`` (property-tested).
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from axis_errors import PacketError
from edxml.model import (
    NS,
    Business,
    DocumentPacket,
    MessageHeader,
    Organization,
    Packet,
    ResponseFor,
    StaffInfo,
    StatusPacket,
)

__all__ = ["XML_DECLARATION", "build_document", "build_packet", "build_status", "to_element"]

XML_DECLARATION: Final = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


def build_packet(packet: Packet) -> bytes:
    """Serialize a document or status packet."""
    return _serialize(to_element(packet))


def build_document(packet: DocumentPacket) -> bytes:
    return _serialize(to_element(packet))


def build_status(packet: StatusPacket) -> bytes:
    return _serialize(to_element(packet))


def to_element(packet: Packet) -> etree._Element:
    """The packet as an lxml tree (root ``edXML``), indented."""
    try:
        root = _document(packet) if isinstance(packet, DocumentPacket) else _status(packet)
    except ValueError as exc:  # lxml refuses control characters, surrogates, ...
        raise PacketError(
            f"The packet holds text that XML cannot carry: {exc}.",
            code="packet.unencodable",
        ) from None
    etree.indent(root, space="  ")
    return root


def _serialize(root: etree._Element) -> bytes:
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


# ---------------------------------------------------------------------- helpers


def _el(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _q(name))
    if text is not None:
        element.text = text
    return element


def _opt(parent: etree._Element, name: str, text: str | None) -> None:
    if text is not None:
        _el(parent, name, text)


def _block(parent: etree._Element, name: str, fields: tuple[tuple[str, str | None], ...]) -> None:
    """A block of optional text fields, left out when all are ``None``."""
    if all(value is None for _, value in fields):
        return
    block = _el(parent, name)
    for field_name, value in fields:
        _opt(block, field_name, value)


def _organization(parent: etree._Element, name: str, org: Organization) -> None:
    block = _el(parent, name)
    _el(block, "OrganId", org.organ_id)
    _opt(block, "OrganizationInCharge", org.organization_in_charge)
    _opt(block, "OrganName", org.organ_name)
    _opt(block, "OrganAdd", org.organ_add)
    _opt(block, "Email", org.email)
    _opt(block, "Telephone", org.telephone)
    _opt(block, "Fax", org.fax)
    _opt(block, "Website", org.website)


def _response_for(parent: etree._Element, response: ResponseFor) -> None:
    block = _el(parent, "ResponseFor")
    _opt(block, "OrganId", response.organ_id)
    _opt(block, "Code", response.code)
    _opt(block, "PromulgationDate", response.promulgation_date)
    _opt(block, "DocumentId", response.document_id)


def _staff_info(parent: etree._Element, staff: StaffInfo | None) -> None:
    if staff is None:
        return
    block = _el(parent, "StaffInfo")
    _opt(block, "Department", staff.department)
    _opt(block, "Staff", staff.staff)
    _opt(block, "Email", staff.email)
    _opt(block, "Mobile", staff.mobile)


def _envelope() -> tuple[etree._Element, etree._Element, etree._Element]:
    root = etree.Element(_q("edXML"), nsmap={None: NS})  # type: ignore[dict-item]
    envelope = _el(root, "edXMLEnvelope")
    header = _el(envelope, "edXMLHeader")
    return root, envelope, header


# ---------------------------------------------------------------------- document


def _message_header(parent: etree._Element, header: MessageHeader) -> None:
    block = _el(parent, "MessageHeader")
    _organization(block, "From", header.from_)
    for to in header.to:
        _organization(block, "To", to)
    _el(block, "DocumentId", header.document_id)
    _block(
        block,
        "Code",
        (("CodeNumber", header.code.code_number), ("CodeNotation", header.code.code_notation)),
    )
    info = header.promulgation_info
    _block(
        block,
        "PromulgationInfo",
        (("Place", info.place), ("PromulgationDate", info.promulgation_date)),
    )
    doc_type = header.document_type
    _block(
        block,
        "DocumentType",
        (
            ("Type", doc_type.type),
            ("TypeDetail", doc_type.type_detail),
            ("TypeName", doc_type.type_name),
        ),
    )
    _opt(block, "Subject", header.subject)
    _opt(block, "Content", header.content)
    signer = header.signer_info
    _block(
        block,
        "SignerInfo",
        (
            ("Competence", signer.competence),
            ("Position", signer.position),
            ("FullName", signer.full_name),
        ),
    )
    _opt(block, "DueDate", header.due_date)
    other = header.other_info
    if not other.is_empty:
        other_block = _el(block, "OtherInfo")
        _opt(other_block, "Priority", other.priority)
        _opt(other_block, "SphereOfPromulgation", other.sphere_of_promulgation)
        _opt(other_block, "TyperNotation", other.typer_notation)
        _opt(other_block, "PromulgationAmount", other.promulgation_amount)
        _opt(other_block, "PageAmount", other.page_amount)
        _opt(other_block, "Direction", other.direction)
        if other.appendixes:
            appendixes = _el(other_block, "Appendixes")
            for appendix in other.appendixes:
                _el(appendixes, "Appendix", appendix)
    for response in header.response_for:
        _response_for(block, response)
    _opt(block, "SteeringType", header.steering_type)
    if header.to_places:
        places = _el(block, "ToPlaces")
        for place in header.to_places:
            _el(places, "Place", place)


def _business(parent: etree._Element, business: Business) -> None:
    block = _el(parent, "Bussiness")
    _opt(block, "DocumentId", business.document_id)
    _el(block, "BussinessDocType", str(int(business.business_doc_type)))
    _opt(block, "BussinessDocReason", business.business_doc_reason)
    _opt(block, "Paper", business.paper)
    info = business.document_info
    if info is not None:
        info_block = _el(block, "BussinessDocumentInfo")
        _opt(info_block, "DocumentInfo", info.document_info)
        _opt(info_block, "DocumentReceiver", info.document_receiver)
        if info.receivers:
            receivers = _el(info_block, "ReceiverList")
            for receiver in info.receivers:
                receiver_block = _el(receivers, "Receiver")
                _el(receiver_block, "OrganId", receiver.organ_id)
                _opt(receiver_block, "ReceiverType", receiver.receiver_type)
    if business.replacement_info:
        replacements = _el(block, "ReplacementInfoList")
        for replacement in business.replacement_info:
            replacement_block = _el(replacements, "ReplacementInfo")
            _opt(replacement_block, "DocumentId", replacement.document_id)
            if replacement.organ_ids:
                organ_ids = _el(replacement_block, "OrganIdList")
                for organ_id in replacement.organ_ids:
                    _el(organ_ids, "OrganId", organ_id)
    _staff_info(block, business.staff_info)


def _document(packet: DocumentPacket) -> etree._Element:
    root, envelope, header = _envelope()
    _message_header(header, packet.header)
    trace = _el(header, "TraceHeaderList")
    for hop in packet.trace_headers:
        hop_block = _el(trace, "TraceHeader")
        _el(hop_block, "OrganId", hop.organ_id)
        _opt(hop_block, "Timestamp", hop.timestamp)
    _business(trace, packet.business)
    body = _el(envelope, "edXMLBody")
    manifest = _el(body, "edXMLManifest")
    manifest.set("version", "1.0")
    for reference in packet.references:
        ref = _el(manifest, "Reference")
        _el(ref, "ContentId", reference.content_id)
        _opt(ref, "ContentType", reference.content_type)
        _opt(ref, "Description", reference.description)
        _opt(ref, "AttachmentName", reference.attachment_name)
    if packet.attachments:
        encoded = _el(root, "AttachmentEncoded")
        for attachment in packet.attachments:
            block = _el(encoded, "Attachment")
            _el(block, "ContentId", attachment.content_id)
            _opt(block, "AttachmentName", attachment.attachment_name)
            _opt(block, "Description", attachment.description)
            _opt(block, "ContentType", attachment.content_type)
            _el(block, "ContentTransferEncoded", attachment.content_base64)
    return root


# ------------------------------------------------------------------------ status


def _status(packet: StatusPacket) -> etree._Element:
    root, _envelope_el, header = _envelope()
    block = _el(header, packet.block_name)
    _organization(block, "From", packet.from_)
    _response_for(block, packet.response_for)
    _staff_info(block, packet.staff_info)
    _el(block, "StatusCode", packet.status_code.value)
    _opt(block, "Description", packet.description)
    _opt(block, "Timestamp", packet.timestamp)
    return root
