"""Build -> parse -> read round-trips on the model, for every business type and status."""

from __future__ import annotations

import dataclasses
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from axis_errors import PacketError
from edxml.builder import XML_DECLARATION, build_document, build_packet, build_status
from edxml.model import (
    NS,
    Business,
    BusinessType,
    DocumentPacket,
    MessageHeader,
    Organization,
    ResponseFor,
    StatusCode,
    StatusPacket,
)
from edxml.reader import load_packet, read_packet
from edxml.safe import parse_xml
from schemas import validate
from tests.edxml_strategies import document_packets, status_packets


@settings(max_examples=40)
@given(st.sampled_from(BusinessType).flatmap(document_packets))
def test_document_round_trip(packet: DocumentPacket) -> None:
    data = build_packet(packet)
    assert data.startswith(XML_DECLARATION)
    _root, read = load_packet(data)  # hardened parse + schema + read
    assert read == packet
    assert read.business_type is packet.business.business_doc_type


@settings(max_examples=40)
@given(status_packets())
def test_status_round_trip(packet: StatusPacket) -> None:
    data = build_status(packet)
    root = parse_xml(data)
    assert validate(root) == "status"
    assert read_packet(root) == packet


@pytest.mark.parametrize("business_type", list(BusinessType))
def test_each_business_type_round_trips(business_type: BusinessType) -> None:
    packet = _minimal_document(business_type)
    _, read = load_packet(build_document(packet))
    assert isinstance(read, DocumentPacket)
    assert read.business_type == business_type
    assert read == packet


@pytest.mark.parametrize("code", list(StatusCode))
def test_each_status_code_round_trips(code: StatusCode) -> None:
    packet = StatusPacket(
        from_=Organization("000.00.00.H41"),
        response_for=ResponseFor(organ_id="000.00.00.G22", document_id="x"),
        status_code=code,
    )
    data = build_status(packet)
    assert f"<StatusCode>{code.value}</StatusCode>".encode() in data
    _, read = load_packet(data)
    assert read == packet


def test_vietnamese_text_keeps_its_normalization_form() -> None:
    decomposed = unicodedata.normalize("NFD", "Đường Trường Thi, Nghệ An: dữ liệu ơ")
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    packet = dataclasses.replace(
        _minimal_document(BusinessType.NEW),
        header=dataclasses.replace(_minimal_document(BusinessType.NEW).header, subject=decomposed),
    )
    _, read = load_packet(build_packet(packet))
    assert isinstance(read, DocumentPacket)
    assert read.subject == decomposed


def test_output_uses_a_clean_default_namespace_and_utf8() -> None:
    data = build_packet(_minimal_document(BusinessType.NEW))
    root = etree.fromstring(data)
    assert root.nsmap == {None: NS}
    assert b"edXML:" not in data
    assert "Sở".encode() in data  # raw UTF-8, not character references


def test_text_xml_cannot_carry_is_refused() -> None:
    packet = dataclasses.replace(
        _minimal_document(BusinessType.NEW),
        header=dataclasses.replace(_minimal_document(BusinessType.NEW).header, subject="a\x00b"),
    )
    with pytest.raises(PacketError) as info:
        build_packet(packet)
    assert info.value.code == "packet.unencodable"


def test_empty_optional_blocks_are_left_out() -> None:
    data = build_packet(_minimal_document(BusinessType.NEW))
    for name in (b"<Code>", b"<OtherInfo>", b"<SignerInfo>", b"<ToPlaces>", b"<AttachmentEncoded>"):
        assert name not in data


def _minimal_document(business_type: BusinessType) -> DocumentPacket:
    return DocumentPacket(
        header=MessageHeader(
            from_=Organization("000.00.00.G22", organ_name="Văn phòng Chính phủ"),
            to=(Organization("000.00.00.H41", organ_name="Sở Nội vụ"),),
            document_id="000.00.00.G22,2024/01/02,1/VPCP",
        ),
        trace_headers=(),
        business=Business(business_doc_type=business_type),
    )
