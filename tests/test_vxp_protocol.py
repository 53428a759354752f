"""The VXP codec against the vendor SDK's captured requests, plus property tests."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from adapters.vxp.protocol import (
    HASH_HEADER,
    SIGN_HEADER,
    AgencyItem,
    ReceivedItem,
    SentItem,
    SignedParams,
    VxpAuthError,
    call_params,
    check_hash_file,
    envelope_fail,
    envelope_ok,
    format_timestamp,
    frame_edoc,
    gson_object,
    hash_file,
    java_hashmap_order,
    parse_envelope,
    parse_timestamp,
    read_signature,
    sign_headers,
    unframe_edoc,
    verify_request,
)
from axis_errors import AuthError, InputError, PeerError
from tests.vxp_wire import (
    CAPTURE_SECRET,
    CAPTURE_SYSTEMID,
    WireRequest,
    capture_paths,
    load_capture,
)


def secrets(systemid: str) -> str | None:
    return CAPTURE_SECRET if systemid == CAPTURE_SYSTEMID else None


def as_headers(pairs: list[tuple[str, str]]) -> CIMultiDictProxy[str]:
    """The header mapping an aiohttp handler gets."""
    return CIMultiDictProxy(CIMultiDict(pairs))


@pytest.fixture(scope="module")
def captures(shared_dir: Path) -> list[WireRequest]:
    found = [load_capture(p) for p in capture_paths(shared_dir)]
    assert len(found) == 9
    return found


def by_name(captures: list[WireRequest], session: bool, call: str) -> WireRequest:
    for c in captures:
        host = c.header("Host") or ""
        if c.call == call and host.endswith("18932") == session:
            return c
    raise AssertionError(call)


def signed_pairs(c: WireRequest) -> list[tuple[str, str]]:
    """The captured parameter map, in order, as read from its sign-header-key/headers."""
    names = (c.header("XroadVnpt-sign-header-key") or "").split(";")
    signed = json.loads(c.header(SIGN_HEADER) or "")
    return [(n, signed["XroadVnpt-" + n]) for n in names]


# ----------------------------------------------------------------- captures verify


def test_every_capture_verifies_with_the_capture_secret(captures: list[WireRequest]) -> None:
    for c in captures:
        signed = verify_request(as_headers(c.headers), secrets)
        assert signed.systemid == CAPTURE_SYSTEMID
        assert signed.params == {k: v for k, v in signed_pairs(c)}
        assert signed.timestamp is not None
        assert signed.timestamp.year == 2026


def test_every_capture_fails_with_another_secret(captures: list[WireRequest]) -> None:
    for c in captures:
        with pytest.raises(AuthError) as info:
            verify_request(as_headers(c.headers), lambda _s: CAPTURE_SECRET + "x")
        assert info.value.code == "vxp.bad-hmac"


def _mutate_one_char(text: str, at: int) -> str:
    ch = text[at]
    return text[:at] + ("1" if ch != "1" else "2") + text[at + 1 :]


def test_a_one_character_change_in_the_sign_header_is_refused(
    captures: list[WireRequest],
) -> None:
    for c in captures:
        text = c.header(SIGN_HEADER) or ""
        # change a character inside the last value (keeps the JSON valid)
        at = text.rindex('"', 0, len(text) - 1) - 1
        bad = _mutate_one_char(text, at)
        assert bad != text
        headers = [(k, bad if k == SIGN_HEADER else v) for k, v in c.headers]
        with pytest.raises(VxpAuthError) as info:
            verify_request(as_headers(headers), secrets)
        assert info.value.code == "vxp.bad-hmac"


def test_hash_file_of_the_captured_body(captures: list[WireRequest]) -> None:
    sends = [c for c in captures if c.call == "sendEdoc"]
    assert len(sends) == 2
    for c in sends:
        claimed = c.header("XroadVnpt-hash-file") or ""
        assert len(claimed) == 61
        assert c.body.endswith(b"\r\n")
        data = unframe_edoc(c.body)
        assert hash_file(data) == claimed
        assert check_hash_file(data, claimed)
        assert check_hash_file(data, claimed.upper())
        assert not check_hash_file(c.body, claimed)  # the CRLF is not part of the file
        assert frame_edoc(data) == c.body


def test_sign_headers_reproduces_every_capture(captures: list[WireRequest]) -> None:
    for c in captures:
        pairs = signed_pairs(c)
        out = sign_headers(pairs, CAPTURE_SECRET, content_type_first=c.call == "sendEdoc")
        got = dict(out)
        assert got[SIGN_HEADER] == c.header(SIGN_HEADER)
        assert got[HASH_HEADER] == c.header(HASH_HEADER)
        # the SDK's own headers, in the SDK's order (the HTTP library's are left out)
        ours = [name for name, _ in out]
        wire = [k for k, _ in c.headers if k in set(ours)]
        assert wire == ours


def test_the_captured_key_order_is_java_hashmap_order(captures: list[WireRequest]) -> None:
    for c in captures:
        names = (c.header("XroadVnpt-sign-header-key") or "").split(";")
        assert java_hashmap_order(names) == names


def test_hashmap_order_matches_the_sdk_for_a_fresh_update_status_map() -> None:
    # the SDK inserts timestamp, systemid, Content-Type, then the call's keys
    inserted = ["timestamp", "systemid", "Content-Type", "docid", "status"]
    assert java_hashmap_order(inserted) == [
        "systemid",
        "docid",
        "timestamp",
        "Content-Type",
        "status",
    ]


# ----------------------------------------------------------------- parameter selection


def test_update_status_reads_docid_not_the_leftover_doc_id(captures: list[WireRequest]) -> None:
    c = by_name(captures, True, "updateStatus")
    pairs = [(k, "other-doc" if k == "docId" else v) for k, v in signed_pairs(c)]
    signed = verify_request(as_headers(sign_headers(pairs, CAPTURE_SECRET)), secrets)
    assert signed.params["docId"] == "other-doc"
    assert call_params(signed, "updateStatus") == {"docid": "cap-1", "status": "done"}


def test_update_status_falls_back_to_doc_id_only_when_docid_is_absent() -> None:
    pairs = [("systemid", "s"), ("docId", "d-7"), ("status", "FAIL")]
    signed = SignedParams("s", dict(pairs), None)
    assert call_params(signed, "updateStatus") == {"docid": "d-7", "status": "fail"}


def test_list_call_ignores_leftover_from_and_hash_file(captures: list[WireRequest]) -> None:
    c = by_name(captures, True, "getReceivedEdocList")
    signed = verify_request(as_headers(c.headers), secrets)
    assert "from" in signed.params and "hash-file" in signed.params
    assert call_params(signed, "getReceivedEdocList") == {
        "servicetype": "eDoc",
        "messagetype": "edoc",
    }


def test_get_edoc_reads_only_doc_id(captures: list[WireRequest]) -> None:
    c = by_name(captures, True, "getEdoc")
    signed = verify_request(as_headers(c.headers), secrets)
    assert call_params(signed, "getEdoc") == {"docId": "cap-1"}


def test_send_edoc_reads_from_and_its_own_keys(captures: list[WireRequest]) -> None:
    c = by_name(captures, False, "sendEdoc")
    signed = verify_request(as_headers(c.headers), secrets)
    assert call_params(signed, "sendEdoc") == {
        "from": "000.00.01.H36",
        "servicetype": "eDoc",
        "messagetype": "edoc",
        "hash-file": c.header("XroadVnpt-hash-file"),
    }


def test_unsigned_or_disagreeing_plain_headers_are_ignored(captures: list[WireRequest]) -> None:
    c = by_name(captures, False, "getEdoc")
    headers = [(k, "evil" if k == "XroadVnpt-docId" else v) for k, v in c.headers]
    headers.append(("XroadVnpt-docid", "evil-2"))
    signed = verify_request(as_headers(headers), secrets)
    assert call_params(signed, "getEdoc") == {"docId": "cap-1"}
    assert "docid" not in signed.params


def test_missing_and_bad_parameters() -> None:
    empty = SignedParams("s", {"systemid": "s"}, None)
    with pytest.raises(InputError) as info:
        call_params(empty, "getEdoc")
    assert info.value.code == "vxp.missing-param"
    with pytest.raises(InputError) as info:
        call_params(SignedParams("s", {"docid": "d", "status": "gone"}, None), "updateStatus")
    assert info.value.code == "vxp.bad-param"
    with pytest.raises(InputError) as info:
        call_params(empty, "dropTables")
    assert info.value.code == "vxp.unknown-call"
    assert call_params(empty, "getAgenciesList") == {}


# ----------------------------------------------------------------- refusals


def _signed(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sign_headers(pairs, CAPTURE_SECRET)


def test_refusal_codes() -> None:
    good = _signed([("systemid", CAPTURE_SYSTEMID), ("docId", "x")])
    without = [(k, v) for k, v in good if k != SIGN_HEADER]
    with pytest.raises(AuthError) as info:
        verify_request(as_headers(without), secrets)
    assert info.value.code == "vxp.missing-signature"
    with pytest.raises(AuthError) as info:
        verify_request(as_headers([(k, v) for k, v in good if k != HASH_HEADER]), secrets)
    assert info.value.code == "vxp.missing-signature"

    for text in (
        "not json",
        "[]",
        '{"XroadVnpt-systemid": 5}',
        '{"systemid": "x"}',
        "{}",
        '{"XroadVnpt-systemid":"a","XroadVnpt-systemid":"b"}',
    ):
        headers = [(k, text if k == SIGN_HEADER else v) for k, v in good]
        with pytest.raises(AuthError) as info:
            verify_request(as_headers(headers), secrets)
        assert info.value.code == "vxp.bad-sign-header", text

    with pytest.raises(AuthError) as info:
        verify_request(as_headers([*good, (SIGN_HEADER, "{}")]), secrets)
    assert info.value.code == "vxp.bad-sign-header"

    with pytest.raises(AuthError) as info:
        verify_request(as_headers(good), lambda _s: None)
    assert info.value.code == "vxp.unknown-system"
    assert info.value.http_status == 401


def test_two_step_verification_for_async_secret_lookup(captures: list[WireRequest]) -> None:
    c = captures[0]
    pending = read_signature(as_headers(c.headers))
    assert pending.systemid == CAPTURE_SYSTEMID
    assert CAPTURE_SECRET not in repr(pending)
    assert pending.verify(CAPTURE_SECRET) == verify_request(as_headers(c.headers), secrets)
    for secret, code in ((None, "vxp.unknown-system"), ("other", "vxp.bad-hmac")):
        with pytest.raises(AuthError) as info:
            pending.verify(secret)
        assert info.value.code == code


def test_systemid_comes_from_inside_the_signed_json() -> None:
    good = _signed([("systemid", CAPTURE_SYSTEMID)])
    headers = [(k, "someone-else" if k == "XroadVnpt-systemid" else v) for k, v in good]
    assert verify_request(as_headers(headers), secrets).systemid == CAPTURE_SYSTEMID


def test_sign_headers_refuses_injection_and_reserved_names() -> None:
    for pairs in (
        [("systemid", "a\r\nX-Evil: 1")],
        [("sign-header", "x")],
        [("a", "1"), ("a", "2")],
        [("bad name", "x")],
        [("systemid", "\ud800")],
    ):
        with pytest.raises(InputError) as info:
            sign_headers(pairs, "k")
        assert info.value.code == "vxp.bad-param"


def test_verify_with_a_plain_dict_and_raw_non_utf8_bytes() -> None:
    good = dict(_signed([("systemid", CAPTURE_SYSTEMID)]))
    lowered = {k.lower(): v for k, v in good.items()}
    assert verify_request(lowered, secrets).systemid == CAPTURE_SYSTEMID
    # a Latin-1 byte on the wire, as aiohttp hands it over (surrogateescape)
    bad = '{"XroadVnpt-systemid":"vxp.h36.test","XroadVnpt-x":"\udce9"}'
    lowered["xroadvnpt-sign-header"] = bad
    with pytest.raises(AuthError) as info:
        verify_request(lowered, secrets)
    assert info.value.code == "vxp.bad-sign-header"


# ----------------------------------------------------------------- Gson text


def test_gson_text_escapes_like_gson() -> None:
    text = gson_object([("k", "a\"b\\c\n\t\x01</x>&='Văn bản\u2028")])
    assert text == '{"k":"a\\"b\\\\c\\n\\t\\u0001</x>&=\'Văn bản\\u2028"}'
    assert json.loads(text) == {"k": "a\"b\\c\n\t\x01</x>&='Văn bản\u2028"}


# ----------------------------------------------------------------- property tests

NAMES = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
    min_size=1,
    max_size=12,
).filter(lambda n: n not in {"sign-header-key", "sign-header", "hash-header", "version"})
VIETNAMESE = "ăâđêôơưĂÂĐÊÔƠƯàáạảãầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ"
VALUES = st.text(
    alphabet=st.sampled_from(VIETNAMESE)
    | st.characters(codec="utf-8", categories=["L", "N", "P", "Zs", "S"]),
    max_size=30,
)


@settings(max_examples=60)
@given(
    extra=st.dictionaries(NAMES, VALUES, max_size=6),
    secret=st.text(st.characters(codec="utf-8"), min_size=1, max_size=20),
)
def test_sign_then_verify_round_trip(extra: dict[str, str], secret: str) -> None:
    pairs = [("systemid", "hệ-thống-1")] + [(k, v) for k, v in extra.items() if k != "systemid"]
    pairs.append(("timestamp", format_timestamp(datetime(2026, 11, 27, 9, 24, 37, 313000))))
    wire = sign_headers(pairs, secret)
    # what aiohttp's server hands over: UTF-8 bytes decoded with surrogateescape
    received = [(k, v.encode("utf-8").decode("utf-8", "surrogateescape")) for k, v in wire]
    signed = verify_request(as_headers(received), lambda s: secret if s == "hệ-thống-1" else None)
    assert signed.params == dict(pairs)
    assert list(signed.params) == [n for n, _ in pairs]
    assert signed.timestamp == datetime(2026, 11, 27, 9, 24, 37, 313000)
    with pytest.raises(AuthError):
        verify_request(as_headers(received), lambda _s: secret + "!")


def sdk_hash_file_reference(data: bytes) -> str:
    """Independent reference: Java's Integer.toHexString(b & 0xff) per digest byte."""
    out = ""
    for b in hashlib.sha256(data).digest():
        digits = "0123456789abcdef"
        text = digits[b >> 4] + digits[b & 15]
        out += text[1:] if text.startswith("0") else text
    return out


@settings(max_examples=100)
@given(st.binary(max_size=2048))
def test_hash_file_matches_the_sdk_rule(data: bytes) -> None:
    got = hash_file(data)
    assert got == sdk_hash_file_reference(data)
    assert 32 <= len(got) <= 64
    assert check_hash_file(data, got)
    assert unframe_edoc(frame_edoc(data)) == data


@given(st.datetimes(min_value=datetime(1000, 1, 1)))
def test_timestamp_round_trip(dt: datetime) -> None:
    text = format_timestamp(dt)
    assert len(text) == 20 and text[8] == "T" and text[15] == "+"
    assert parse_timestamp(text) == dt.replace(microsecond=dt.microsecond // 1000 * 1000)


def test_timestamp_capture_and_lenient_forms() -> None:
    assert parse_timestamp("27112026T092437+0313") == datetime(2026, 11, 27, 9, 24, 37, 313000)
    assert format_timestamp(datetime(2026, 11, 27, 9, 24, 37, 313999)) == "27112026T092437+0313"
    assert parse_timestamp(" 27112026t092437 ") == datetime(2026, 11, 27, 9, 24, 37)
    assert parse_timestamp("27112026T092437.5") == datetime(2026, 11, 27, 9, 24, 37, 5000)
    for bad in ("", "2026-11-27", "32132026T092437+0000", "27112026T092437+1000"):
        with pytest.raises(InputError) as info:
            parse_timestamp(bad)
        assert info.value.code == "vxp.bad-timestamp"


# ----------------------------------------------------------------- envelopes and records


def test_envelopes() -> None:
    ok = envelope_ok(DocId="d1")
    assert ok == {"status": "OK", "ErrorCode": "0", "ErrorDesc": "Success", "DocId": "d1"}
    assert parse_envelope(ok) is ok
    assert parse_envelope({"status": "OK", "ErrorCode": 0, "ErrorDesc": ""})["ErrorCode"] == 0
    fail = envelope_fail("1", "Không tìm thấy", DocId="")
    with pytest.raises(PeerError) as info:
        parse_envelope(fail)
    assert info.value.code == "vxp.peer-fail"
    assert info.value.details["ErrorCode"] == "1"
    assert info.value.details["ErrorDesc"] == "Không tìm thấy"
    with pytest.raises(PeerError) as info:
        parse_envelope({"status": "FAIL", "ErrorCode": "0", "ErrorDesc": "?"})
    assert info.value.code == "vxp.peer-fail"
    junk: object
    for junk in ([], "OK", {"status": "OK"}):
        with pytest.raises(PeerError) as info:
            parse_envelope(junk)
        assert info.value.code == "vxp.bad-answer"
    with pytest.raises(ValueError):
        envelope_fail("0", "no")
    with pytest.raises(ValueError):
        envelope_ok(ErrorCode="1")


def test_records_round_trip_and_coerce() -> None:
    wire = {
        "docId": "d1",
        "serviceType": "eDoc",
        "messageType": "edoc",
        "created_time": "2026-11-27 09:24:37",
        "updated_time": "",
        "from": "000.00.01.H36",
        "to": "000.00.00.G22",
        "status": "initial",
        "status_desc": "Mới",
    }
    item = ReceivedItem.from_json(wire)
    assert item.from_code == "000.00.01.H36"
    assert item.to_json() == wire
    agency = AgencyItem.from_json({"id": 12, "code": "000.00.00.H36", "pid": None})
    assert (agency.id, agency.pid, agency.name) == ("12", "", "")
    assert AgencyItem.from_json(agency.to_json()) == agency
    sent = SentItem.from_json({"senderDocId": "s1", "toCode": "x", "sendStatus": 1})
    assert sent.send_status == "1"
    assert SentItem.from_json(sent.to_json()) == sent
    for cls, obj in ((ReceivedItem, {"from": "x"}), (AgencyItem, {"id": 1}), (SentItem, [])):
        with pytest.raises(PeerError) as info:
            cls.from_json(obj)
        assert info.value.code == "vxp.bad-answer"
