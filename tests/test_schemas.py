"""The XSDs: real packets pass, signatures fit where the signer puts them, errors are clear."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from lxml import etree

from axis_errors import SchemaError
from edxml.safe import parse_xml
from schemas import EDXML_NS, XMLDSIG_NS, packet_kind, schema_path, validate

DS_SIGNATURE = (
    f'<ds:Signature xmlns:ds="{XMLDSIG_NS}"><ds:SignedInfo><ds:Whatever/></ds:SignedInfo>'
    "<ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"
).encode()


def sample(samples_dir: Path, name: str) -> bytes:
    data = (samples_dir / name).read_bytes()
    return data[4:] if data.startswith(b"1212") else data


def schema_error(data: bytes) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        validate(parse_xml(data))
    assert info.value.code == "schema.invalid"
    return info.value


def test_all_samples_validate_as_their_kind(samples_dir: Path) -> None:
    for path in sorted(samples_dir.glob("*.edxml")):
        expected = "status" if path.name.startswith("status") else "document"
        assert validate(parse_xml(sample(samples_dir, path.name))) == expected, path.name


def test_schema_files_are_package_data() -> None:
    for kind in ("document", "status"):
        assert schema_path(kind).is_file()  # type: ignore[arg-type]


def _without_legacy_signature(data: bytes) -> bytes:
    start = data.index(b"<Signature>")
    end = data.index(b"</Signature>") + len(b"</Signature>")
    return data[:start] + data[end:]


def test_ds_signature_is_accepted_as_last_child_of_a_document_header(samples_dir: Path) -> None:
    data = _without_legacy_signature(sample(samples_dir, "edoc_update.edxml"))
    assert validate(parse_xml(data)) == "document"  # unsigned is fine too
    signed = data.replace(b"</edXML:edXMLHeader>", DS_SIGNATURE + b"</edXML:edXMLHeader>")
    assert validate(parse_xml(signed)) == "document"


def test_ds_signature_is_accepted_last_in_a_status_header(samples_dir: Path) -> None:
    data = sample(samples_dir, "status_finish_06.edxml")
    signed = data.replace(b"</edXML:edXMLHeader>", DS_SIGNATURE + b"</edXML:edXMLHeader>")
    assert validate(parse_xml(signed)) == "status"


def test_ds_signature_anywhere_else_is_refused(samples_dir: Path) -> None:
    data = _without_legacy_signature(sample(samples_dir, "edoc_update.edxml"))
    misplaced = data.replace(
        b"<edXML:TraceHeaderList>", DS_SIGNATURE + b"<edXML:TraceHeaderList>", 1
    )
    err = schema_error(misplaced)
    assert "ds:Signature" in err.message
    twice = data.replace(
        b"</edXML:edXMLHeader>", DS_SIGNATURE + DS_SIGNATURE + b"</edXML:edXMLHeader>"
    )
    schema_error(twice)


def test_legacy_and_ds_signature_together_are_refused(samples_dir: Path) -> None:
    data = sample(samples_dir, "edoc_update.edxml")
    both = data.replace(b"</edXML:edXMLHeader>", DS_SIGNATURE + b"</edXML:edXMLHeader>")
    schema_error(both)


def test_error_names_element_and_line(samples_dir: Path) -> None:
    data = sample(samples_dir, "edoc_update.edxml")
    bad = data.replace(b"edXML:Subject>", b"edXML:Subjekt>")
    line = data[: data.index(b"<edXML:Subject>")].count(b"\n") + 1
    err = schema_error(bad)
    assert f"line {line}" in err.message
    assert "edXML:Subjekt" in err.message
    assert err.details["errors"][0] == {
        "line": line,
        "element": "edXML:Subjekt",
        "message": err.details["errors"][0]["message"],
    }
    assert "{" not in err.message  # no Clark notation in the sentence


def test_every_schema_error_is_listed(samples_dir: Path) -> None:
    data = sample(samples_dir, "edoc_update.edxml")
    bad = data.replace(b"edXML:Subject>", b"edXML:Subjekt>").replace(
        b"<edXML:BussinessDocType>2<", b"<edXML:BussinessDocType>7<"
    )
    elements = [e["element"] for e in schema_error(bad).details["errors"]]
    assert elements == ["edXML:Subjekt", "edXML:BussinessDocType"]


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (b"<edXML:BussinessDocType>2<", b"<edXML:BussinessDocType>4<", "BussinessDocType"),
        (
            "<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId>".encode(),
            b"",
            "DocumentId",
        ),
        (b"<edXML:OrganId>000.00.00.G22</edXML:OrganId>", b"", "OrganId"),
    ],
)
def test_strict_where_the_router_reads(
    samples_dir: Path, old: bytes, new: bytes, needle: str
) -> None:
    data = sample(samples_dir, "edoc_update.edxml")
    assert old in data
    assert needle in schema_error(data.replace(old, new, 1)).message


def test_a_document_without_recipient_is_refused(samples_dir: Path) -> None:
    root = parse_xml(sample(samples_dir, "edoc_revocation.edxml"))
    header = root.find(f".//{{{EDXML_NS}}}MessageHeader")
    assert header is not None
    for to in header.findall(f"{{{EDXML_NS}}}To"):
        header.remove(to)
    with pytest.raises(SchemaError) as info:
        validate(root)
    assert "To" in info.value.message


def test_foreign_extension_elements_are_tolerated_at_the_end_of_message_header(
    samples_dir: Path,
) -> None:
    data = sample(samples_dir, "edoc_update.edxml")
    extended = data.replace(
        b"</edXML:MessageHeader>",
        b'<x:Extra xmlns:x="urn:vendor"><x:Any>1</x:Any></x:Extra></edXML:MessageHeader>',
    )
    assert validate(parse_xml(extended)) == "document"
    unknown = data.replace(b"</edXML:MessageHeader>", b"<edXML:Extra/></edXML:MessageHeader>")
    schema_error(unknown)


def test_single_field_blocks_accept_any_order(samples_dir: Path) -> None:
    data = sample(samples_dir, "status.edxml")
    a = b"<edXML:OrganId>000.00.00.H41</edXML:OrganId>"
    b = b"<edXML:OrganName>UBND T\xe1\xbb\x89nh Ngh\xe1\xbb\x87 An</edXML:OrganName>"
    assert a in data and b in data
    swapped = data.replace(a, b"@@A@@").replace(b, a).replace(b"@@A@@", b)
    assert swapped != data
    assert validate(parse_xml(swapped)) == "status"


def test_attachment_encoded_must_sit_under_the_root(samples_dir: Path) -> None:
    root = parse_xml(sample(samples_dir, "edoc_update.edxml"))
    encoded = root.find(f"{{{EDXML_NS}}}AttachmentEncoded")
    assert encoded is not None
    root.remove(encoded)
    root[0].append(encoded)
    schema_error(etree.tostring(root))


def test_status_kind_detection() -> None:
    def kind(block: str) -> str:
        return packet_kind(
            etree.fromstring(
                f'<edXML xmlns="{EDXML_NS}"><edXMLEnvelope><edXMLHeader>{block}'
                "</edXMLHeader></edXMLEnvelope></edXML>"
            )
        )

    assert kind("<Status/>") == "status"
    assert kind("<MessageHeader><StatusCode>01</StatusCode></MessageHeader>") == "status"
    assert kind("<MessageHeader><Subject>x</Subject></MessageHeader>") == "document"
    assert kind("") == "document"


def test_foreign_root_is_refused() -> None:
    err = schema_error(b"<edXML/>")
    assert "not edXML:edXML" in err.message


def test_big_attachment_validates(samples_dir: Path) -> None:
    data = sample(samples_dir, "edoc_update.edxml")
    start = data.index(b'QCVN_102_2016">UEsDB') + len(b'QCVN_102_2016">')
    end = data.index(b"</edXML:ContentTransferEncoded>")
    big = data[:start] + b"QUJD" * 3_000_000 + data[end:]  # 12 MB of base64
    assert validate(parse_xml(big)) == "document"


def test_validation_from_many_threads(samples_dir: Path) -> None:
    good = parse_xml(sample(samples_dir, "status.edxml"))
    bad = parse_xml(sample(samples_dir, "status.edxml").replace(b">01<", b">00<"))
    results: list[bool] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(20):
            ok = validate(good) == "status"
            try:
                validate(bad)
                refused = False
            except SchemaError:
                refused = True
            with lock:
                results.append(ok and refused)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 80
