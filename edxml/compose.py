"""Composing realistic packets from a few facts: what the demo, the benchmarks and the
tests use to make documents and statuses the way an office system would.

Pure: the caller supplies the date and time (no clock reads), codes and names.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from edxml.model import (
    Attachment,
    Business,
    BusinessType,
    Code,
    DocumentPacket,
    DocumentType,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Reference,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPacket,
    TraceHeader,
)

Party = tuple[str, str]  # (OrganId, name)


def _org(party: Party) -> Organization:
    code, name = party
    return Organization(organ_id=code, organization_in_charge=name, organ_name=name)


def document_id_of(sender: str, when: datetime, number: str, notation: str) -> str:
    """The usual DocumentId: ``<sender>,<yyyy/MM/dd>,<number>/<notation>``."""
    return f"{sender},{when:%Y/%m/%d},{number}/{notation}"


def compose_document(
    sender: Party,
    recipients: Sequence[Party],
    *,
    when: datetime,
    number: str,
    notation: str,
    subject: str,
    content: str | None = None,
    type_name: str = "Công văn",
    place: str = "Đà Lạt",
    signer: str = "Nguyễn Văn An",
    position: str = "Chánh Văn phòng",
    business_type: BusinessType = BusinessType.NEW,
    responds_to: ResponseFor | None = None,
    reason: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    priority: str = "0",
) -> DocumentPacket:
    """A document packet. ``attachments`` are (name, content type, bytes)."""
    code = sender[0]
    docid = document_id_of(code, when, number, notation)
    atts = tuple(
        Attachment.from_bytes(f"cid:{i + 1}", data, attachment_name=name, content_type=ctype)
        for i, (name, ctype, data) in enumerate(attachments)
    )
    refs = tuple(
        Reference(
            content_id=a.content_id,
            content_type=a.content_type,
            attachment_name=a.attachment_name,
        )
        for a in atts
    )
    return DocumentPacket(
        header=MessageHeader(
            from_=_org(sender),
            to=tuple(_org(r) for r in recipients),
            document_id=docid,
            code=Code(code_number=number, code_notation=notation),
            promulgation_info=PromulgationInfo(place=place, promulgation_date=f"{when:%Y/%m/%d}"),
            document_type=DocumentType(type="1", type_detail="1", type_name=type_name),
            subject=subject,
            content=content or subject,
            signer_info=SignerInfo(competence="TL. Chủ tịch", position=position, full_name=signer),
            other_info=OtherInfo(priority=priority, promulgation_amount="1", page_amount="1"),
            response_for=(responds_to,) if responds_to else (),
            steering_type="0",
        ),
        trace_headers=(TraceHeader(organ_id=code, timestamp=f"{when:%Y/%m/%d %H:%M:%S}"),),
        business=Business(
            business_doc_type=business_type,
            document_id=docid if business_type is not BusinessType.NEW else None,
            business_doc_reason=reason,
            paper="0",
            staff_info=StaffInfo(department="Văn phòng", staff=signer),
        ),
        references=refs,
        attachments=atts,
    )


def compose_status(
    sender: Party,
    document: DocumentPacket,
    status: StatusCode,
    *,
    when: datetime,
    description: str | None = None,
    staff: str = "Trần Thị Bình",
) -> StatusPacket:
    """A status packet from ``sender`` about ``document``, addressed to its sender."""
    return StatusPacket(
        from_=_org(sender),
        response_for=ResponseFor(
            organ_id=document.sender,
            code=f"{document.code.code_number}/{document.code.code_notation}",
            promulgation_date=document.header.promulgation_info.promulgation_date,
            document_id=document.document_id,
        ),
        status_code=status,
        staff_info=StaffInfo(department="Văn thư", staff=staff),
        description=description,
        timestamp=f"{when:%Y/%m/%d %H:%M:%S}",
    )
