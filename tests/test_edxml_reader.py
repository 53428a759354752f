"""Reading real packets: every sample is read with the right kind and type, or refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from axis_errors import PacketError, SchemaError, XmlError
from edxml.model import BusinessType, DocumentPacket, StatusCode, StatusPacket
from edxml.reader import load_packet, read_packet
from edxml.safe import parse_xml

DOCUMENTS = {
    "edoc_replacement.edxml": BusinessType.REPLACE,
    "edoc_revocation.edxml": BusinessType.REVOKE,
    "edoc_update.edxml": BusinessType.UPDATE,
}
STATUSES = {
    "status.edxml": StatusCode.INBOX,
    "status_inbox_01.edxml": StatusCode.INBOX,
    "status_rejection_02.edxml": StatusCode.REJECTED,
    "status_acceptance_03.edxml": StatusCode.ACCEPTED,
    "status_assignment_04.edxml": StatusCode.ASSIGNED,
    "status_processing_05.edxml": StatusCode.PROCESSING,
    "status_finish_06.edxml": StatusCode.FINISHED,
    "status_cancellation_13.edxml": StatusCode.CANCELLATION,
    "status_change-acceptance_15.edxml": StatusCode.CHANGE_ACCEPTED,
    "status_change-rejection_16.edxml": StatusCode.CHANGE_REJECTED,
}


def test_every_sample_is_covered(samples_dir: Path) -> None:
    names = {p.name for p in samples_dir.glob("*.edxml")}
    assert names == set(DOCUMENTS) | set(STATUSES) | {"edoc_new.edxml"}


@pytest.mark.parametrize(("name", "business_type"), sorted(DOCUMENTS.items()))
def test_document_samples(samples_dir: Path, name: str, business_type: BusinessType) -> None:
    _, packet = load_packet((samples_dir / name).read_bytes())
    assert isinstance(packet, DocumentPacket)
    assert packet.business_type is business_type
    assert packet.sender == "000.00.00.G22"
    assert packet.recipients == ("000.00.00.H41", "000.00.00.H14", "000.00.00.G17")
    assert packet.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert packet.code.code_number == "7816"
    assert packet.header.from_.organ_name == "Văn phòng Chính phủ"
    assert packet.header.to_places == ("Cac bo va co quan ngang bo", "Uy ban nhan dan cac tinh, TP")
    assert packet.header.other_info.appendixes[0].startswith("Công văn")
    assert packet.signature == "edxml-legacy"
    assert [a.content_type for a in packet.attachments] == ["application/zip"]
    assert packet.references[0].content_id == packet.attachments[0].content_id == "cid:209"


@pytest.mark.parametrize(("name", "status_code"), sorted(STATUSES.items()))
def test_status_samples(samples_dir: Path, name: str, status_code: StatusCode) -> None:
    _, packet = load_packet((samples_dir / name).read_bytes())
    assert isinstance(packet, StatusPacket)
    assert packet.status_code is status_code
    assert packet.block_name == "MessageHeader"
    assert packet.signature == "none"
    assert packet.document_id
    assert packet.addressed_to == packet.response_for.organ_id
    # 13 goes from the document's sender (G22) to its recipient; the others come back
    expected_to = "000.00.00.H41" if status_code.sent_by_sender else "000.00.00.G22"
    assert packet.addressed_to == expected_to
    assert packet.sender != packet.addressed_to


def test_edoc_new_with_junk_is_refused_with_a_clear_sentence(samples_dir: Path) -> None:
    with pytest.raises(XmlError) as info:
        load_packet((samples_dir / "edoc_new.edxml").read_bytes())
    assert info.value.code == "xml.malformed"
    assert info.value.message == (
        "4 byte(s) of content (b'1212') come before the XML declaration at byte offset 4; "
        "the packet must start with the XML declaration."
    )


def test_edoc_new_without_junk_is_a_new_document(samples_dir: Path) -> None:
    data = (samples_dir / "edoc_new.edxml").read_bytes()
    assert data[:4] == b"1212"
    _, packet = load_packet(data[4:])
    assert isinstance(packet, DocumentPacket)
    assert packet.business_type is BusinessType.NEW
    assert packet.sender == "002.00.20.H13"
    assert packet.recipients == ("28.22.H17",)  # three groups, kept as sent
    # leading space in OrganizationInCharge is kept as sent
    assert packet.header.to[0].organization_in_charge is not None
    assert packet.header.to[0].organization_in_charge.startswith(" UBND")
    assert packet.business.document_id == "000.00.00.G22,2014/02/30,7806/VPCP-TTĐT"
    assert packet.business.staff_info is not None
    assert packet.business.staff_info.staff == "Nguyễn Thị Ngọc Trâm"
    assert packet.trace_headers[0].timestamp == "2018/09/28 00:00:00"


def test_revocation_names_what_it_revokes(samples_dir: Path) -> None:
    _, packet = load_packet((samples_dir / "edoc_revocation.edxml").read_bytes())
    assert isinstance(packet, DocumentPacket)
    (response,) = packet.response_for
    assert response.organ_id == "000.00.00.H14"
    assert response.document_id == "000.00.04.G14,2012/08/06,267/VPCP-TTĐT"
    assert response.code == "267/VPCP-TTĐT"


def test_update_and_replacement_details(samples_dir: Path) -> None:
    _, update = load_packet((samples_dir / "edoc_update.edxml").read_bytes())
    assert isinstance(update, DocumentPacket)
    info = update.business.document_info
    assert info is not None
    assert [(r.organ_id, r.receiver_type) for r in info.receivers] == [
        ("000.00.00.H41", "0"),
        ("000.00.00.H14", "1"),
    ]
    _, replace = load_packet((samples_dir / "edoc_replacement.edxml").read_bytes())
    assert isinstance(replace, DocumentPacket)
    assert len(replace.business.replacement_info) == 2
    assert replace.business.replacement_info[0].organ_ids == ("000.00.00.H41", "000.00.00.H14")


def _all_default_namespace(data: bytes) -> bytes:
    return data.replace(b"edXML:", b"").replace(
        b' xmlns:="http://www.mic.gov.vn/TBT/QCVN_102_2016"', b""
    )


def test_prefixed_and_default_namespace_read_the_same(samples_dir: Path) -> None:
    data = (samples_dir / "edoc_update.edxml").read_bytes()
    plain = _all_default_namespace(data)
    assert b"edXML:" not in plain
    assert load_packet(plain)[1] == load_packet(data)[1]


def test_status_block_named_status_and_single_s_business(samples_dir: Path) -> None:
    status = (samples_dir / "status_finish_06.edxml").read_bytes()
    renamed = status.replace(b"edXML:MessageHeader>", b"edXML:Status>")
    _, packet = load_packet(renamed)
    assert isinstance(packet, StatusPacket)
    assert packet.block_name == "Status"
    assert packet.status_code is StatusCode.FINISHED

    doc = (samples_dir / "edoc_update.edxml").read_bytes()
    business = doc.replace(b"edXML:Bussiness", b"edXML:Business")
    assert b"edXML:BusinessDocType" in business
    _, read = load_packet(business)
    assert read == load_packet(doc)[1]


def test_reader_refuses_a_broken_tree_with_packet_error() -> None:
    root = parse_xml(
        b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXMLEnvelope><edXMLHeader>'
        b"<MessageHeader><To><OrganId>000.00.00.H41</OrganId></To></MessageHeader>"
        b"</edXMLHeader></edXMLEnvelope></edXML>"
    )
    with pytest.raises(PacketError) as info:
        read_packet(root)
    assert info.value.code == "packet.missing-field"
    assert "From" in info.value.message


def test_reader_refuses_a_foreign_root() -> None:
    with pytest.raises(PacketError) as info:
        read_packet(etree.fromstring(b"<html/>"))
    assert info.value.code == "packet.not-edxml"


def test_load_packet_applies_the_schema(samples_dir: Path) -> None:
    data = (samples_dir / "status.edxml").read_bytes().replace(b">01<", b">99<")
    with pytest.raises(SchemaError) as info:
        load_packet(data)
    assert "StatusCode" in info.value.message


def test_comment_inside_a_field_does_not_cut_its_text(samples_dir: Path) -> None:
    data = (samples_dir / "status.edxml").read_bytes()
    data = data.replace(b"UBND T", b"UBND<!-- x --> T", 1)
    _, packet = load_packet(data)
    assert isinstance(packet, StatusPacket)
    assert packet.from_.organization_in_charge == "UBND Tỉnh Nghệ An"
