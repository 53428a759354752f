"""Hypothesis strategies for edXML packets (shared by the edxml test modules)."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from edxml.model import (
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
    PromulgationInfo,
    Receiver,
    Reference,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPacket,
    TraceHeader,
)

# Vietnamese letters precomposed and decomposed (combining grave, acute, tilde, hook,
# dot below, horn, breve, circumflex), plus the odd characters XML must still carry.
VIETNAMESE = (
    "aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂBCDĐEÊGHIKLMNOÔƠPQRSTUƯVXY"
    "áàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ"
    "ĐơƠữỮ"
)
COMBINING = "\u0300\u0301\u0303\u0309\u0323\u031b\u0306\u0302"
OTHER = " 0123456789/-.,:;()&<>\"'\t\n\r\u00a0€😀"

vietnamese_text = st.text(
    alphabet=st.sampled_from(VIETNAMESE + COMBINING + OTHER), min_size=1, max_size=40
)
maybe_text = st.none() | vietnamese_text
# identifiers the schema requires to hold a non-blank character
id_text = vietnamese_text.filter(lambda s: bool(s.strip(" \t\n\r")))

organ_ids = st.builds(
    lambda l4, l3, l2, letter, n: f"{l4:03d}.{l3:02d}.{l2:02d}.{letter}{n:02d}",
    st.integers(0, 999),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from("GHKA"),
    st.integers(1, 99),
)
dates = st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2024, 12, 31)).map(
    lambda d: d.strftime("%Y/%m/%d")
)
timestamps = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda d: d.strftime("%Y/%m/%d %H:%M:%S")
)


def organizations() -> st.SearchStrategy[Organization]:
    return st.builds(
        Organization,
        organ_id=organ_ids,
        organization_in_charge=maybe_text,
        organ_name=maybe_text,
        organ_add=maybe_text,
        email=maybe_text,
        telephone=maybe_text,
        fax=maybe_text,
        website=maybe_text,
    )


response_fors = st.builds(
    ResponseFor,
    organ_id=st.none() | organ_ids,
    code=maybe_text,
    promulgation_date=st.none() | dates,
    document_id=maybe_text,
)
staff_infos = st.none() | st.builds(
    StaffInfo, department=maybe_text, staff=maybe_text, email=maybe_text, mobile=maybe_text
)


def message_headers() -> st.SearchStrategy[MessageHeader]:
    return st.builds(
        MessageHeader,
        from_=organizations(),
        to=st.lists(organizations(), min_size=1, max_size=3).map(tuple),
        document_id=id_text,
        code=st.builds(Code, code_number=maybe_text, code_notation=maybe_text),
        promulgation_info=st.builds(
            PromulgationInfo, place=maybe_text, promulgation_date=st.none() | dates
        ),
        document_type=st.builds(
            DocumentType,
            type=st.none() | st.sampled_from(["1", "2"]),
            type_detail=maybe_text,
            type_name=maybe_text,
        ),
        subject=maybe_text,
        content=maybe_text,
        signer_info=st.builds(
            SignerInfo, competence=maybe_text, position=maybe_text, full_name=maybe_text
        ),
        due_date=st.none() | dates,
        other_info=st.builds(
            OtherInfo,
            priority=st.none() | st.sampled_from(["0", "1", "2", "3", "4"]),
            sphere_of_promulgation=maybe_text,
            typer_notation=maybe_text,
            promulgation_amount=maybe_text,
            page_amount=maybe_text,
            direction=maybe_text,
            appendixes=st.lists(vietnamese_text, max_size=2).map(tuple),
        ),
        response_for=st.lists(response_fors, max_size=2).map(tuple),
        steering_type=st.none() | st.sampled_from(["0", "1", "2"]),
        to_places=st.lists(vietnamese_text, max_size=2).map(tuple),
    )


def businesses(business_type: BusinessType | None = None) -> st.SearchStrategy[Business]:
    types = st.just(business_type) if business_type is not None else st.sampled_from(BusinessType)
    return st.builds(
        Business,
        business_doc_type=types,
        document_id=maybe_text,
        business_doc_reason=maybe_text,
        paper=st.none() | st.sampled_from(["0", "1"]),
        document_info=st.none()
        | st.builds(
            BusinessDocumentInfo,
            document_info=maybe_text,
            document_receiver=maybe_text,
            receivers=st.lists(
                st.builds(
                    Receiver,
                    organ_id=organ_ids,
                    receiver_type=st.none() | st.sampled_from(["0", "1"]),
                ),
                max_size=2,
            ).map(tuple),
        ),
        replacement_info=st.lists(
            st.builds(
                ReplacementInfo,
                document_id=maybe_text,
                organ_ids=st.lists(organ_ids, max_size=2).map(tuple),
            ),
            max_size=2,
        ).map(tuple),
        staff_info=staff_infos,
    )


attachments = st.builds(
    lambda cid, data, name, desc, ctype: Attachment.from_bytes(
        cid, data, attachment_name=name, description=desc, content_type=ctype
    ),
    id_text,
    st.binary(max_size=200),
    maybe_text,
    maybe_text,
    st.none() | st.sampled_from(["application/pdf", "application/zip", "text/plain"]),
)


def document_packets(
    business_type: BusinessType | None = None,
) -> st.SearchStrategy[DocumentPacket]:
    return st.builds(
        DocumentPacket,
        header=message_headers(),
        trace_headers=st.lists(
            st.builds(TraceHeader, organ_id=organ_ids, timestamp=st.none() | timestamps),
            max_size=3,
        ).map(tuple),
        business=businesses(business_type),
        references=st.lists(
            st.builds(
                Reference,
                content_id=id_text,
                content_type=maybe_text,
                description=maybe_text,
                attachment_name=maybe_text,
            ),
            max_size=2,
        ).map(tuple),
        attachments=st.lists(attachments, max_size=2).map(tuple),
    )


def status_packets() -> st.SearchStrategy[StatusPacket]:
    return st.builds(
        StatusPacket,
        from_=organizations(),
        response_for=st.builds(
            ResponseFor,
            organ_id=organ_ids,
            code=maybe_text,
            promulgation_date=st.none() | dates,
            document_id=maybe_text,
        ),
        status_code=st.sampled_from(StatusCode),
        staff_info=staff_infos,
        description=maybe_text,
        timestamp=st.none() | timestamps,
        block_name=st.sampled_from(["MessageHeader", "Status"]),
    )
