"""The reference digest (signing.xmldsig.document_digest): long texts spliced into the
hash give exactly the digest of libxml2's whole canonical form, and leave the tree as
it was.

The reference is computed here the plain way: the C14N bytes of the whole document
from lxml, hashed. Documents are generated with the constructs that could make a
splice go wrong: default and prefixed namespaces declared on the element itself, on an
ancestor, or both (redundantly); tails; siblings; attributes; comments, processing
instructions and CDATA inside or beside the text; characters C14N escapes; non-ASCII
text; several long texts.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape, quoteattr

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from signing.xmldsig import C14N_ALGORITHMS, C14N_EXC, LONG_TEXT, document_digest

SPECS = sorted(C14N_ALGORITHMS)
#: a plain parser: the digest must hold for any tree, also with the comments and
#: processing instructions that edxml.safe refuses in packets
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def parse_xml(data: bytes) -> etree._Element:
    return etree.fromstring(data, PARSER)


B64 = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n ",
    min_size=1,
    max_size=64,
)
ANY_TEXT = st.text(
    alphabet=st.sampled_from([*"aZ09+/= \n\t&<>\"'", "\r", "é", "Đ", "ờ", "\u4e2d"]),
    min_size=1,
    max_size=16,
)


@st.composite
def long_text(draw: st.DrawFn) -> str:
    """A text around LONG_TEXT characters: a repeated base64-like unit, maybe with one
    character C14N escapes, maybe non-ASCII."""
    unit = draw(B64)
    body = (unit * (LONG_TEXT // len(unit) + 2))[: LONG_TEXT + draw(st.integers(-2, 300))]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(ANY_TEXT) + body[at:]
    return body


def _escape(text: str) -> str:
    """Text as XML content (a CR as a character reference, else parsing drops it)."""
    return escape(text).replace("\r", "&#13;")


@st.composite
def leaf(draw: st.DrawFn, prefix: str | None) -> str:
    name = f"{prefix}:Data" if prefix else "Data"
    own_ns = ""
    if draw(st.booleans()):  # declared again on the element (redundant or not)
        uri = draw(st.sampled_from(["urn:a", "urn:b"]))
        own_ns = f' xmlns:{prefix}="{uri}"' if prefix else f' xmlns="{uri}"'
    attrs = ""
    if draw(st.integers(0, 4)) == 0:
        attrs = f" n={quoteattr(draw(ANY_TEXT))}"
    kind = draw(st.sampled_from(["long", "long", "long", "short", "cdata", "comment", "pi"]))
    raw = draw(long_text())
    text = _escape(raw)
    if kind == "short":
        text = _escape(draw(ANY_TEXT))
    elif kind == "cdata":
        text = _escape(raw[:10]) + "<![CDATA[" + raw.replace("]]>", "]]") + "]]>"
    elif kind == "comment":
        text = text + "<!-- c -->"
    elif kind == "pi":
        text = text + "<?p i?>"
    tail = draw(st.sampled_from(["", "\n  ", " tail &amp; "]))
    return f"<{name}{own_ns}{attrs}>{text}</{name}>{tail}"


@st.composite
def document(draw: st.DrawFn) -> bytes:
    prefix = draw(st.sampled_from([None, "p"]))
    root_ns = ' xmlns="urn:a" xmlns:p="urn:a"' if draw(st.booleans()) else ' xmlns:p="urn:b"'
    leaves = "".join(draw(st.lists(leaf(prefix), min_size=1, max_size=4)))
    head = draw(st.sampled_from(["", "<!-- before -->", "<?pi before?>"]))
    inner = f"<Group>{leaves}</Group>" if draw(st.booleans()) else leaves
    return f'<?xml version="1.0" encoding="UTF-8"?>{head}<Root{root_ns}>{inner}</Root>'.encode()


def plain_digest(root: etree._Element, uri: str, prefixes: list[str] | None) -> bytes:
    spec = C14N_ALGORITHMS[uri]
    return hashlib.sha256(
        etree.tostring(
            root.getroottree(),
            method="c14n",
            exclusive=spec.exclusive,
            with_comments=False,
            inclusive_ns_prefixes=prefixes,
        )
    ).digest()


@given(document(), st.sampled_from(SPECS), st.sampled_from([None, ["p"]]))
def test_spliced_digest_is_the_canonical_forms_digest(
    data: bytes, uri: str, prefixes: list[str] | None
) -> None:
    root = parse_xml(data)
    if uri != C14N_EXC:
        prefixes = None
    whole_before = etree.tostring(root.getroottree(), method="c14n", with_comments=True)
    expected = plain_digest(root, uri, prefixes)
    assert document_digest(root, C14N_ALGORITHMS[uri], prefixes, hashlib.sha256) == expected
    # the tree is as it was: same canonical form, comments included
    assert etree.tostring(root.getroottree(), method="c14n", with_comments=True) == whole_before


def test_a_spliced_text_is_covered_by_the_digest() -> None:
    """Changing one character of a long (spliced) text changes the digest."""
    text = "QUJD" * (LONG_TEXT // 2)
    spec = C14N_ALGORITHMS[C14N_EXC]
    one = parse_xml(f'<Root xmlns="urn:a"><Data>{text}</Data></Root>'.encode())
    other = parse_xml(f'<Root xmlns="urn:a"><Data>{text[:-1]}R</Data></Root>'.encode())
    assert document_digest(one, spec, None, hashlib.sha256) == plain_digest(one, C14N_EXC, None)
    assert document_digest(one, spec, None, hashlib.sha256) != document_digest(
        other, spec, None, hashlib.sha256
    )


def test_a_text_shaped_like_a_marker_is_digested_as_it_is() -> None:
    """Long texts that look like splice markers (the real one is random per call) are
    digested as what they are."""
    text = ("axis-c14n-" + "0" * 32) * (LONG_TEXT // 40)
    root = parse_xml(f"<Root><Data>{text}</Data><Data>{text}</Data></Root>".encode())
    spec = C14N_ALGORITHMS[C14N_EXC]
    assert document_digest(root, spec, None, hashlib.sha256) == plain_digest(root, C14N_EXC, None)
