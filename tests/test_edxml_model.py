"""The model's own behaviour: enums, helper properties, attachment payloads."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis_errors import PacketError
from edxml.model import (
    Attachment,
    Business,
    BusinessType,
    DocumentPacket,
    MessageHeader,
    Organization,
    ResponseFor,
    StatusCode,
    StatusPacket,
)
from edxml.reader import load_packet


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_enums_keep_wire_values() -> None:
    assert [int(t) for t in BusinessType] == [0, 1, 2, 3]
    assert [c.value for c in StatusCode] == [
        "01", "02", "03", "04", "05", "06", "13", "15", "16"
    ]  # fmt: skip
    assert StatusCode("13").sent_by_sender
    assert not StatusCode("15").sent_by_sender
    with pytest.raises(ValueError):
        StatusCode("1")


def test_router_helpers() -> None:
    packet = DocumentPacket(
        header=MessageHeader(
            from_=Organization("000.00.00.G22"),
            to=(Organization("000.00.00.H41"), Organization("000.00.00.H14")),
            document_id="id-1",
            response_for=(ResponseFor("000.00.00.H14", document_id="old"),),
        ),
        trace_headers=(),
        business=Business(BusinessType.REVOKE),
    )
    assert packet.sender == "000.00.00.G22"
    assert packet.recipients == ("000.00.00.H41", "000.00.00.H14")
    assert packet.business_type is BusinessType.REVOKE
    assert packet.document_id == "id-1"
    assert packet.response_for[0].document_id == "old"
    assert packet.kind == "document"
    status = StatusPacket(
        from_=Organization("000.00.00.H41"),
        response_for=ResponseFor("000.00.00.G22", document_id="id-1"),
        status_code=StatusCode.ACCEPTED,
    )
    assert (status.sender, status.addressed_to, status.document_id, status.kind) == (
        "000.00.00.H41",
        "000.00.00.G22",
        "id-1",
        "status",
    )


def test_sample_attachment_is_a_zip_holding_one_file(samples_dir: Path) -> None:
    _, packet = load_packet((samples_dir / "edoc_update.edxml").read_bytes())
    assert isinstance(packet, DocumentPacket)
    (attachment,) = packet.attachments
    assert attachment.is_zip()
    (inner,) = attachment.files()
    assert inner.name.endswith(".edxml")
    assert inner.size > 0


@given(st.binary(max_size=500))
def test_plain_payload_round_trips_and_is_one_file(data: bytes) -> None:
    attachment = Attachment.from_bytes("cid:1", data, attachment_name="a.pdf")
    assert attachment.decode() == data
    if not data.startswith(b"PK"):
        assert attachment.files()[0].name == "a.pdf"
        assert attachment.files()[0].data == data


def test_zip_labelled_pdf_is_opened() -> None:
    payload = _zip({"quyết định.pdf": b"%PDF-1.7 ...", "phụ lục.docx": b"docx"})
    attachment = Attachment.from_bytes("cid:2", payload, content_type="application/pdf")
    assert [(f.name, f.data) for f in attachment.files()] == [
        ("quyết định.pdf", b"%PDF-1.7 ..."),
        ("phụ lục.docx", b"docx"),
    ]


def test_wrapped_base64_is_accepted() -> None:
    data = bytes(range(256)) * 4
    text = base64.encodebytes(data).decode()  # 76-column lines
    assert "\n" in text
    assert Attachment("cid:3", text).decode() == data


def test_bad_base64_is_refused() -> None:
    with pytest.raises(PacketError) as info:
        Attachment("cid:4", "not*base64!").decode()
    assert info.value.code == "attachment.bad-base64"


def test_zip_bomb_stops_at_the_cap() -> None:
    bomb = _zip({"zeros.bin": b"\0" * 20_000_000})
    assert len(bomb) < 100_000
    attachment = Attachment.from_bytes("cid:5", bomb, content_type="application/zip")
    with pytest.raises(PacketError) as info:
        attachment.files(max_unzipped=5_000_000)
    assert info.value.code == "attachment.too-large"
    assert len(attachment.files(max_unzipped=20_000_000)[0].data) == 20_000_000


def test_too_many_files_are_refused() -> None:
    attachment = Attachment.from_bytes("cid:6", _zip({f"f{i}": b"x" for i in range(5)}))
    with pytest.raises(PacketError) as info:
        attachment.files(max_files=4)
    assert info.value.code == "attachment.too-many-files"


def test_truncated_zip_is_refused() -> None:
    payload = _zip({"a.txt": b"hello" * 1000})[:60]
    attachment = Attachment.from_bytes("cid:7", payload)
    assert attachment.is_zip()
    with pytest.raises(PacketError) as info:
        attachment.files()
    assert info.value.code == "attachment.bad-zip"
