"""Content checks: what a production hub rejects, each with its stable code."""

from __future__ import annotations

import dataclasses
import datetime as dt
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edxml.checks import LENGTH_LIMITS, Problem, check_packet
from edxml.model import (
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
    ReplacementInfo,
    ResponseFor,
    StatusCode,
    StatusPacket,
    TraceHeader,
)
from tests.edxml_strategies import status_packets

TODAY = dt.date(2025, 7, 1)


def good_header(**changes: object) -> MessageHeader:
    header = MessageHeader(
        from_=Organization("000.00.00.G22", organ_name="Văn phòng Chính phủ"),
        to=(Organization("000.00.00.H41"), Organization("000.00.00.H14")),
        document_id="000.00.00.G22,2025/06/30,7816/VPCP-TTĐT",
        code=Code("7816", "VPCP-TTĐT"),
        promulgation_info=PromulgationInfo("Hà Nội", "2025/06/30"),
        document_type=DocumentType("1", "0", "Công văn"),
        subject="V/v kết nối, liên thông phần mềm quản lý văn bản",
    )
    return dataclasses.replace(header, **changes)  # type: ignore[arg-type]


def document(
    header: MessageHeader | None = None, business: Business | None = None, **changes: object
) -> DocumentPacket:
    packet = DocumentPacket(
        header=header or good_header(),
        trace_headers=(TraceHeader("000.00.00.G22", "2025/06/30 08:00:00"),),
        business=business or Business(BusinessType.NEW),
    )
    return dataclasses.replace(packet, **changes)  # type: ignore[arg-type]


def codes(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.code, p.element) for p in problems]


def test_a_good_document_has_no_problem() -> None:
    assert check_packet(document(), today=TODAY) == []


def test_promulgated_today_is_not_future() -> None:
    header = good_header(promulgation_info=PromulgationInfo("Hà Nội", "2025/07/01"))
    assert check_packet(document(header), today=TODAY) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"from_": Organization("000.00.00.G22")}, ("packet.missing-field", "From/OrganName")),
        ({"from_": Organization(" ", organ_name="x")}, ("packet.missing-field", "From/OrganId")),
        (
            {"from_": Organization("1.2.3.4.G22", organ_name="x")},
            ("organ.invalid", "From/OrganId"),
        ),
        ({"to": ()}, ("packet.missing-field", "MessageHeader/To")),
        ({"code": Code(None, "VPCP")}, ("packet.missing-field", "Code/CodeNumber")),
        ({"code": Code("1", "  ")}, ("packet.missing-field", "Code/CodeNotation")),
        ({"code": Code("123456789012", "VPCP")}, ("packet.too-long", "Code/CodeNumber")),
        ({"code": Code("1", "V" * 31)}, ("packet.too-long", "Code/CodeNotation")),
        (
            {"promulgation_info": PromulgationInfo("Hà Nội", "30/06/2025")},
            ("packet.bad-date", "PromulgationDate"),
        ),
        (
            {"promulgation_info": PromulgationInfo("Hà Nội", "2025/02/30")},
            ("packet.bad-date", "PromulgationDate"),
        ),
        (
            {"promulgation_info": PromulgationInfo("Hà Nội", "2025/07/02")},
            ("packet.future-date", "PromulgationDate"),
        ),
        (
            {"promulgation_info": PromulgationInfo("Hà Nội", None)},
            ("packet.missing-field", "PromulgationDate"),
        ),
        (
            {"promulgation_info": PromulgationInfo("H" * 51, "2025/06/30")},
            ("packet.too-long", "PromulgationInfo/Place"),
        ),
        ({"document_type": DocumentType("3")}, ("packet.bad-doctype", "DocumentType/Type")),
        ({"document_type": DocumentType(None)}, ("packet.missing-field", "DocumentType/Type")),
        (
            {"document_type": DocumentType("1", None, "T" * 101)},
            ("packet.too-long", "DocumentType/TypeName"),
        ),
        ({"subject": None}, ("packet.missing-field", "MessageHeader/Subject")),
        ({"subject": "S" * 501}, ("packet.too-long", "MessageHeader/Subject")),
        ({"content": "C" * 501}, ("packet.too-long", "MessageHeader/Content")),
        ({"due_date": "2025-07-01"}, ("packet.bad-date", "MessageHeader/DueDate")),
        (
            {"other_info": OtherInfo(sphere_of_promulgation="x" * 101)},
            ("packet.too-long", "SphereOfPromulgation"),
        ),
        ({"other_info": OtherInfo(typer_notation="x" * 11)}, ("packet.too-long", "TyperNotation")),
        ({"document_id": " "}, ("packet.missing-field", "MessageHeader/DocumentId")),
        (
            {"response_for": (ResponseFor(organ_id="bad"),)},
            ("organ.invalid", "ResponseFor[1]/OrganId"),
        ),
    ],
)
def test_each_hub_rule_has_its_code(changes: dict[str, object], expected: tuple[str, str]) -> None:
    problems = check_packet(document(good_header(**changes)), today=TODAY)
    code, element_end = expected
    assert any(p.code == code and p.element.endswith(element_end) for p in problems), problems
    assert all(p.message.endswith(".") for p in problems)


def test_duplicate_recipient_compares_the_four_group_form() -> None:
    header = good_header(
        to=(Organization("000.28.22.H17"), Organization("000.00.00.H41"), Organization("28.22.H17"))
    )
    problems = check_packet(document(header), today=TODAY)
    assert codes(problems) == [("packet.duplicate-recipient", "MessageHeader/To[3]/OrganId")]
    assert "To[1]" in problems[0].message


def test_every_problem_is_reported_not_only_the_first() -> None:
    header = good_header(
        subject=None,
        code=Code(None, None),
        to=(Organization("000.00.00.H41"), Organization("000.00.00.H41")),
        document_type=DocumentType("9"),
    )
    found = {p.code for p in check_packet(document(header), today=TODAY)}
    assert found == {"packet.missing-field", "packet.duplicate-recipient", "packet.bad-doctype"}
    assert len(check_packet(document(header), today=TODAY)) == 5


def test_more_than_four_groups_in_a_recipient_is_refused() -> None:
    header = good_header(to=(Organization("001.000.00.00.H41"),))
    assert codes(check_packet(document(header), today=TODAY)) == [
        ("organ.invalid", "MessageHeader/To[1]/OrganId")
    ]


def test_lengths_count_characters_after_nfc() -> None:
    subject = unicodedata.normalize("NFD", "ữ" * LENGTH_LIMITS["Subject"])
    assert len(subject) > LENGTH_LIMITS["Subject"]
    assert check_packet(document(good_header(subject=subject)), today=TODAY) == []


@pytest.mark.parametrize(
    ("business", "element"),
    [
        (Business(BusinessType.REVOKE), "MessageHeader/ResponseFor"),
        (Business(BusinessType.UPDATE), "TraceHeaderList/Bussiness/BussinessDocumentInfo"),
        (Business(BusinessType.REPLACE), "TraceHeaderList/Bussiness/ReplacementInfoList"),
    ],
)
def test_business_types_need_their_content(business: Business, element: str) -> None:
    assert codes(check_packet(document(business=business), today=TODAY)) == [
        ("packet.missing-field", element)
    ]


def test_business_types_with_their_content_pass() -> None:
    revoke = document(
        good_header(response_for=(ResponseFor("000.00.00.H14", document_id="x"),)),
        Business(BusinessType.REVOKE),
    )
    update = document(
        business=Business(BusinessType.UPDATE, document_info=BusinessDocumentInfo("1", "1"))
    )
    replace = document(
        business=Business(
            BusinessType.REPLACE,
            replacement_info=(ReplacementInfo("x", ("000.00.00.H41", "H4")),),
        )
    )
    assert check_packet(revoke, today=TODAY) == []
    assert check_packet(update, today=TODAY) == []
    assert codes(check_packet(replace, today=TODAY)) == [
        (
            "organ.invalid",
            "TraceHeaderList/Bussiness/ReplacementInfoList/ReplacementInfo[1]/OrganIdList/OrganId[2]",
        )
    ]


def test_trace_header_timestamps_and_codes_are_checked() -> None:
    packet = document(trace_headers=(TraceHeader("000.00.00.G22", "2025/06/30 25:00:00"),))
    assert codes(check_packet(packet, today=TODAY)) == [
        ("packet.bad-date", "TraceHeaderList/TraceHeader[1]/Timestamp")
    ]


def test_status_checks() -> None:
    good = StatusPacket(
        from_=Organization("000.00.00.H41"),
        response_for=ResponseFor("000.00.00.G22", document_id="x"),
        status_code=StatusCode.ACCEPTED,
        timestamp="2018/09/28 17:25:11",
    )
    assert check_packet(good, today=TODAY) == []
    bad = dataclasses.replace(
        good,
        response_for=ResponseFor(None, promulgation_date="2018-09-28"),
        timestamp="28/09/2018",
        block_name="Status",
    )
    assert codes(check_packet(bad, today=TODAY)) == [
        ("packet.missing-field", "Status/ResponseFor/OrganId"),
        ("packet.bad-date", "Status/ResponseFor/PromulgationDate"),
        ("packet.bad-date", "Status/Timestamp"),
    ]


@settings(max_examples=30)
@given(status_packets())
def test_generated_statuses_pass(packet: StatusPacket) -> None:
    assert check_packet(packet, today=TODAY) == []


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
)
def test_future_date_rule(promulgated: dt.date, today: dt.date) -> None:
    header = good_header(
        promulgation_info=PromulgationInfo("Hà Nội", promulgated.strftime("%Y/%m/%d"))
    )
    problems = check_packet(document(header), today=today)
    assert (problems != []) == (promulgated > today)


def _strptime_accepts(text: str, fmt: str) -> bool:
    try:
        dt.datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


_two = st.integers(0, 99).map(lambda n: f"{n:02d}")


@given(st.integers(0, 9999).map(lambda n: f"{n:04d}"), _two, _two)
def test_dates_are_judged_as_strptime_judges_them(year: str, month: str, day: str) -> None:
    text = f"{year}/{month}/{day}"
    header = good_header(promulgation_info=PromulgationInfo("Hà Nội", text))
    found = codes(check_packet(document(header), today=dt.date(9999, 12, 31)))
    bad = ("packet.bad-date", "MessageHeader/PromulgationInfo/PromulgationDate") in found
    assert bad == (not _strptime_accepts(text, "%Y/%m/%d"))


@given(
    st.dates(min_value=dt.date(1, 1, 1)).map(lambda d: f"{d.year:04d}/{d:%m/%d}"),
    _two,
    _two,
    _two,
)
def test_timestamps_are_judged_as_strptime_judges_them(
    day: str, hour: str, minute: str, second: str
) -> None:
    text = f"{day} {hour}:{minute}:{second}"
    packet = document(trace_headers=(TraceHeader("000.00.00.G22", text),))
    found = codes(check_packet(packet, today=TODAY))
    bad = ("packet.bad-date", "TraceHeaderList/TraceHeader[1]/Timestamp") in found
    assert bad == (not _strptime_accepts(text, "%Y/%m/%d %H:%M:%S"))
