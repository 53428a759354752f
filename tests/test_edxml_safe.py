"""Hardened parsing: every hostile construct is refused with its stable code."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from axis_errors import XmlError
from edxml.safe import DEFAULT_LIMITS, ParseLimits, parse_xml

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


def refused(data: bytes | bytearray, limits: ParseLimits = DEFAULT_LIMITS) -> XmlError:
    with pytest.raises(XmlError) as info:
        parse_xml(data, limits)
    return info.value


# ---------------------------------------------------------------- the real samples


def test_sample_with_junk_before_declaration_is_malformed(samples_dir: Path) -> None:
    data = (samples_dir / "edoc_new.edxml").read_bytes()
    err = refused(data)
    assert err.code == "xml.malformed"
    assert "b'1212'" in err.message
    assert "before the XML declaration" in err.message
    assert err.details["offset"] == 4


def test_sample_without_junk_parses_and_keeps_comments_and_whitespace(samples_dir: Path) -> None:
    data = (samples_dir / "edoc_new.edxml").read_bytes()[4:]
    root = parse_xml(data)
    assert root.tag == f"{{{NS}}}edXML"
    # whitespace-only text between elements is kept (signatures cover it)
    envelope = root[0]
    assert envelope.text is not None and envelope.text.strip() == ""


def test_comments_survive_parsing() -> None:
    root = parse_xml(b"<a>\n  <!-- keep me -->\n  <b/>\n</a>")
    assert etree.tostring(root, method="c14n") == b"<a>\n  <!-- keep me -->\n  <b></b>\n</a>"


def test_utf8_bom_is_accepted() -> None:
    assert parse_xml(b"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?><a/>").tag == "a"


def test_utf16_packet_parses() -> None:
    data = '<?xml version="1.0" encoding="UTF-16"?><a>Đơn</a>'.encode("utf-16")
    assert parse_xml(data).text == "Đơn"


# ---------------------------------------------------------------- DTDs and entities


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


def test_billion_laughs_is_refused() -> None:
    err = refused(BILLION_LAUGHS)
    assert err.code == "xml.entity-forbidden"
    assert "entit" in err.message


def test_external_file_entity_is_refused_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        f'\n<edXML xmlns="{NS}">&xxe;</edXML>'
    ).encode()
    err = refused(data)
    assert err.code == "xml.entity-forbidden"
    assert "TOP-SECRET" not in err.message


class _CountingHandler(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<!ENTITY x 'pwned'>")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_external_http_entity_and_dtd_are_refused_without_fetching() -> None:
    server = HTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/evil"
        with_entity = (
            f'<!DOCTYPE a [<!ENTITY % remote SYSTEM "{url}"> %remote;]><a>&x;</a>'
        ).encode()
        external_dtd = f'<?xml version="1.0"?><!DOCTYPE a SYSTEM "{url}"><a/>'.encode()
        assert refused(with_entity).code == "xml.entity-forbidden"
        assert refused(external_dtd).code == "xml.dtd-forbidden"
    finally:
        server.shutdown()
        server.server_close()
    assert _CountingHandler.hits == 0


def test_doctype_after_a_prolog_comment_is_refused() -> None:
    data = b"<?xml version='1.0'?>\n<!-- hello -->\n<!doctype a><a/>"
    assert refused(data).code == "xml.dtd-forbidden"


def test_undeclared_entity_reference_is_refused_with_position() -> None:
    err = refused(b"<a>\n  <b>&nbsp;</b>\n</a>")
    assert err.code == "xml.entity-forbidden"
    assert err.details["line"] == 2


def test_predefined_entities_and_character_references_are_fine() -> None:
    root = parse_xml(b"<a>&lt;&amp;&gt;&quot;&apos;&#272;&#x1EEF;</a>")
    assert root.text == "<&>\"'Đữ"


def test_utf16_doctype_is_refused_after_parsing() -> None:
    data = "<!DOCTYPE a [<!ELEMENT a ANY>]><a/>".encode("utf-16")
    assert refused(data).code == "xml.dtd-forbidden"


# ---------------------------------------------------------------- PIs and junk


@pytest.mark.parametrize(
    "data",
    [
        b"<?xml version='1.0'?><?xml-stylesheet href='x.xsl'?><a/>",
        b"<a><b><?php echo 1; ?></b></a>",
        b"<a/><?after the root?>",
    ],
)
def test_processing_instructions_are_refused(data: bytes) -> None:
    assert refused(data).code == "xml.pi-forbidden"


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"\n<?xml version='1.0'?><a/>", "whitespace"),
        (b"garbage<a/>", "b'garbage'"),
        (b"no xml at all", "no XML element"),
        (b"<?xml version='1.0'?><?xml version='1.0'?><a/>", "again"),
    ],
)
def test_content_before_the_start_is_malformed(data: bytes, needle: str) -> None:
    err = refused(data)
    assert err.code == "xml.malformed"
    assert needle in err.message


def test_not_well_formed_reports_line_and_column() -> None:
    err = refused(b"<?xml version='1.0'?>\n<a>\n<b>\n</c></a>")
    assert err.code == "xml.malformed"
    assert err.details == {"line": 4, "column": 5}
    assert "line 4, column 5" in err.message
    assert err.message.count("line 4") == 1


def test_empty_input_is_malformed() -> None:
    assert refused(b"").code == "xml.malformed"


def test_non_bytes_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_xml("<a/>")  # type: ignore[arg-type]


# ---------------------------------------------------------------- size, depth, count


def test_over_size_packet_is_refused_before_parsing() -> None:
    # 200 MB, built once (no concatenated copy); it would be well-formed if parsed.
    data = bytearray(b"A") * (200 * 1024 * 1024)
    data[:3] = b"<a>"
    data[-4:] = b"</a>"
    err = refused(data)
    assert err.details["size"] == 200 * 1024 * 1024
    assert err.code == "xml.too-large"
    assert err.details["limit"] == DEFAULT_LIMITS.max_bytes


def test_size_limit_is_inclusive() -> None:
    data = b"<a>xx</a>"
    assert parse_xml(data, ParseLimits(max_bytes=len(data))).tag == "a"
    assert refused(data, ParseLimits(max_bytes=len(data) - 1)).code == "xml.too-large"


def test_hundred_thousand_deep_packet_is_refused() -> None:
    depth = 100_000
    data = b'<?xml version="1.0"?>' + b"<d>" * depth + b"x" + b"</d>" * depth
    err = refused(data)
    assert err.code == "xml.too-deep"


def test_deep_big_packet_on_the_huge_parser_is_refused() -> None:
    # over 10 MB the huge-tree parser is used; libxml2 still stops at 2048 levels
    depth = 100_000
    padding = b"<!--" + b"p" * 11_000_000 + b"-->"
    data = padding + b"<d>" * depth + b"</d>" * depth
    assert refused(data).code == "xml.too-deep"


def test_big_base64_text_node_parses() -> None:
    # attachments of tens of megabytes are normal: more than libxml2's 10 MB text cap
    payload = b"QUJD" * 3_000_000
    root = parse_xml(b"<a><b>" + payload + b"</b></a>")
    assert len(root[0].text or "") == len(payload)


@given(limit=st.integers(min_value=1, max_value=40), extra=st.integers(min_value=0, max_value=3))
def test_depth_limit_is_exact(limit: int, extra: int) -> None:
    depth = limit + extra
    data = b"<d>" * depth + b"</d>" * depth
    limits = ParseLimits(max_depth=limit)
    if extra == 0:
        assert parse_xml(data, limits).tag == "d"
    else:
        assert refused(data, limits).code == "xml.too-deep"


def test_too_many_elements_is_refused_before_parsing() -> None:
    data = b"<r>" + b"<e/>" * 1_000_000 + b"</r>"
    err = refused(data)
    assert err.code == "xml.too-many-elements"
    assert err.details["limit"] == 200_000


@given(count=st.integers(min_value=1, max_value=60), limit=st.integers(min_value=1, max_value=60))
def test_element_limit_counts_start_tags(count: int, limit: int) -> None:
    data = b"<r>" + b"<e>t</e><!-- c -->" * (count - 1) + b"</r>"
    limits = ParseLimits(max_elements=limit)
    if count <= limit:
        assert parse_xml(data, limits).tag == "r"
    else:
        assert refused(data, limits).code == "xml.too-many-elements"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        ParseLimits(max_depth=0)


@given(
    text=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Cn", "Co")), max_size=50
    )
)
def test_any_text_round_trips(text: str) -> None:
    element = etree.Element("a")
    element.text = text
    data = etree.tostring(element, encoding="UTF-8", xml_declaration=True)
    assert (parse_xml(data).text or "") == text
