"""Hardened, single-pass XML parsing for packets from outside.

Everything Axis reads from an agency or a peer goes through :func:`parse_xml`. It
parses once with libxml2 (through lxml) and refuses, with a stable code and one
sentence:

============================  ==============================================================
``xml.too-large``             more bytes than ``ParseLimits.max_bytes`` (checked before parsing)
``xml.malformed``             not well-formed, empty, or content before the XML declaration
``xml.dtd-forbidden``         any ``<!DOCTYPE ...>`` (internal or external subset)
``xml.entity-forbidden``      entity declarations, or references to undeclared entities
``xml.pi-forbidden``          processing instructions other than the XML declaration
``xml.too-deep``              elements nested deeper than ``ParseLimits.max_depth``
``xml.too-many-elements``     more start tags than ``ParseLimits.max_elements``
============================  ==============================================================

How the limits stay cheap (the signature verifier parses through here and must stay
close to the speed of a bare lxml parse):

* Size is a ``len()``. The prolog (everything before the root element) is scanned
  lexically, so a DOCTYPE is refused before libxml2 sees it: billion-laughs and
  external-entity packets never reach the parser.
* The element count is bounded *lexically* before parsing, and only for packets big
  enough to hold too many elements at all (``<a/>`` is 4 bytes, so under
  ``4 * max_elements`` bytes nothing is scanned): ``data.count(b"<")`` is a C-speed
  scan, and only when it exceeds the limit are end tags, comments, CDATA and PIs
  subtracted. Text cannot hold a literal ``<``; only CDATA sections and comment bodies
  can, and a packet whose CDATA/comments hold so many ``<`` that the bound passes the
  limit is refused too (conservative, documented, never seen in edXML). So the tree
  libxml2 builds is bounded in nodes, not only in bytes.
* Depth: libxml2 refuses nesting past 256 by itself (2048 for packets bigger than
  10 MB, see below) while parsing, so a 100,000-deep packet costs microseconds; the
  configured limit is checked after parsing with one compiled XPath whose cost is
  linear in the number of elements; so is the search for processing instructions.
* ``huge_tree``: libxml2 without ``XML_PARSE_HUGE`` refuses any text node over 10 MB,
  and base64 attachments of tens of megabytes are normal. Packets up to 10 MB are
  parsed with ``huge_tree=False`` (libxml2's own limits as a second fence); larger
  ones with ``huge_tree=True``, where our byte cap bounds every libxml2 buffer.

Comments and whitespace are kept (signatures cover them); namespaces are not cleaned;
no network, no DTD loading, no entity resolution. Parser objects are kept per thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from lxml import etree

from axis_errors import XmlError

__all__ = [
    "DEFAULT_LIMITS",
    "HUGE_TEXT_THRESHOLD",
    "ParseLimits",
    "parse_xml",
]

#: libxml2 refuses text nodes over this size unless ``huge_tree`` is on.
HUGE_TEXT_THRESHOLD: Final = 10_000_000

_UTF8_BOM: Final = b"\xef\xbb\xbf"
_WHITESPACE: Final = b" \t\r\n"
_PREVIEW_BYTES: Final = 16
#: The smallest element, ``<a/>``: a packet of N bytes holds at most N // 4 elements.
_MIN_ELEMENT_BYTES: Final = 4


@dataclass(frozen=True)
class ParseLimits:
    """Hard limits for one parse. Values come from configuration."""

    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 64
    max_elements: int = 200_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_depth", "max_elements"):
            if getattr(self, name) < 1:
                raise ValueError(f"ParseLimits.{name} must be at least 1")


DEFAULT_LIMITS: Final = ParseLimits()


class _Parsers(threading.local):
    """One parser of each kind per thread (lxml parsers must not be shared)."""

    def __init__(self) -> None:
        self.normal = _make_parser(huge=False)
        self.huge = _make_parser(huge=True)


def _make_parser(*, huge: bool) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=huge,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        ns_clean=False,
        recover=False,
    )


_parsers = _Parsers()


def parse_xml(
    data: bytes | bytearray | memoryview, limits: ParseLimits = DEFAULT_LIMITS
) -> etree._Element:
    """Parse ``data`` once under ``limits`` and return the root element.

    Raises :class:`~axis_errors.XmlError` with one of the codes listed in the module
    docstring; the message names what was refused and where (line/column or byte
    offset).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse_xml expects bytes")
    size = data.nbytes if isinstance(data, memoryview) else len(data)
    if size > limits.max_bytes:  # before any copy of the input
        raise XmlError(
            f"The packet is {size} bytes, over the limit of {limits.max_bytes} bytes; "
            "it was not parsed.",
            code="xml.too-large",
            details={"size": size, "limit": limits.max_bytes},
        )
    data = bytes(data)  # no copy for bytes
    if size == 0:
        raise XmlError("The packet is empty.", code="xml.malformed")

    _scan_prolog(data)
    if size // _MIN_ELEMENT_BYTES > limits.max_elements:
        _check_element_bound(data, limits)

    parser = _parsers.huge if size > HUGE_TEXT_THRESHOLD else _parsers.normal
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, limits) from None

    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
        # Only reachable for encodings the lexical prolog scan cannot read (UTF-16).
        raise XmlError(
            "The packet declares a DOCTYPE; DTDs are not allowed in edXML packets.",
            code="xml.dtd-forbidden",
        )
    _check_no_pis(root)
    if _too_deep(limits.max_depth)(root):
        raise XmlError(
            f"Elements are nested deeper than the limit of {limits.max_depth} levels.",
            code="xml.too-deep",
            details={"limit": limits.max_depth},
        )
    return root


# --------------------------------------------------------------------------- prolog


def _is_wide(data: bytes) -> bool:
    """True for UTF-16/UTF-32 input, which the byte-level scans cannot read."""
    return data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:2] in (b"<\x00", b"\x00<")


def _preview(chunk: bytes) -> str:
    shown = chunk[:_PREVIEW_BYTES]
    suffix = "..." if len(chunk) > _PREVIEW_BYTES else ""
    return repr(shown) + suffix


def _scan_prolog(data: bytes) -> None:
    """Check everything before the root element (a few hundred bytes at most).

    Refuses junk before the declaration or the first tag, a DOCTYPE (with or without
    entity declarations) and processing instructions in the prolog.
    """
    if _is_wide(data):
        return
    pos = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    first_lt = data.find(b"<", pos)
    if first_lt == -1:
        raise XmlError(
            f"The packet holds no XML element: it starts with {_preview(data[pos:])}.",
            code="xml.malformed",
        )
    if first_lt > pos:
        junk = data[pos:first_lt]
        declared = _is_xml_decl(data, first_lt)
        if junk.strip(_WHITESPACE) or declared:
            what = "whitespace" if not junk.strip(_WHITESPACE) else _preview(junk)
            where = "the XML declaration" if declared else "the first tag"
            raise XmlError(
                f"{len(junk)} byte(s) of content ({what}) come before {where} at byte "
                f"offset {first_lt}; the packet must start with "
                f"{'the XML declaration' if declared else 'a tag'}.",
                code="xml.malformed",
                details={"offset": first_lt, "junk_bytes": len(junk)},
            )
    pos = first_lt
    if _is_xml_decl(data, pos):
        close = data.find(b"?>", pos)
        if close == -1:
            raise XmlError("The XML declaration is not closed with '?>'.", code="xml.malformed")
        pos = close + 2

    while True:
        while pos < len(data) and data[pos] in _WHITESPACE:
            pos += 1
        if data.startswith(b"<!--", pos):
            close = data.find(b"-->", pos + 4)
            if close == -1:
                return  # let libxml2 report the unclosed comment
            pos = close + 3
        elif data.startswith(b"<?", pos):
            if _is_xml_decl(data, pos):
                raise XmlError(
                    f"An XML declaration appears again at byte offset {pos}; it is only "
                    "allowed at the very start of the packet.",
                    code="xml.malformed",
                    details={"offset": pos},
                )
            raise XmlError(
                f"A processing instruction at byte offset {pos} precedes the root element; "
                "processing instructions are not allowed in edXML packets.",
                code="xml.pi-forbidden",
                details={"offset": pos},
            )
        elif data[pos : pos + 9].upper() == b"<!DOCTYPE":
            if b"<!ENTITY" in data:
                raise XmlError(
                    f"The packet declares entities in a DOCTYPE at byte offset {pos}; "
                    "entity declarations are not allowed in edXML packets.",
                    code="xml.entity-forbidden",
                    details={"offset": pos},
                )
            raise XmlError(
                f"The packet declares a DOCTYPE at byte offset {pos}; DTDs are not allowed "
                "in edXML packets.",
                code="xml.dtd-forbidden",
                details={"offset": pos},
            )
        else:
            return


def _is_xml_decl(data: bytes, pos: int) -> bool:
    return data.startswith(b"<?xml", pos) and data[pos + 5 : pos + 6] in (
        b" ",
        b"\t",
        b"\r",
        b"\n",
        b"?",
    )


# ------------------------------------------------------------------------- limits


def _check_element_bound(data: bytes, limits: ParseLimits) -> None:
    """Refuse before parsing when the lexical start-tag count is over the limit."""
    bound = data.count(b"<")
    if bound <= limits.max_elements:
        return
    bound -= data.count(b"</") + data.count(b"<!") + data.count(b"<?")
    if bound > limits.max_elements:
        raise XmlError(
            f"The packet has about {bound} start tags, over the limit of "
            f"{limits.max_elements} elements; it was not parsed.",
            code="xml.too-many-elements",
            details={"count": bound, "limit": limits.max_elements},
        )


@lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    """An XPath that is true when some element lies deeper than ``max_depth``.

    Evaluated at the root (depth 1), ``*/*/.../*`` with ``max_depth`` steps reaches
    exactly the elements at depth ``max_depth + 1``; each step's node set holds the
    elements of one level, so the whole evaluation is linear in the element count.
    """
    return etree.XPath("boolean(" + "/".join(["*"] * max_depth) + ")")


_ANY_PI: Final = etree.XPath("//processing-instruction()")


def _check_no_pis(root: etree._Element) -> None:
    found = _ANY_PI(root)
    if isinstance(found, list) and found:
        pi = found[0]
        line = pi.sourceline if isinstance(pi, etree._Element) else None
        where = f" on line {line}" if line else ""
        raise XmlError(
            f"The packet holds a processing instruction{where}; processing instructions "
            "are not allowed in edXML packets.",
            code="xml.pi-forbidden",
            details={"line": line} if line else None,
        )


def _syntax_error(exc: etree.XMLSyntaxError, limits: ParseLimits) -> XmlError:
    """Map libxml2's complaint to our codes, keeping its line and column."""
    line, column = exc.position if exc.position else (exc.lineno, 0)
    text = (exc.msg or str(exc)).strip()
    # libxml2 appends ", line L, column C" to some messages; keep one copy only.
    marker = f", line {line}, column {column}"
    if text.endswith(marker):
        text = text[: -len(marker)]
    details = {"line": line, "column": column}
    if "Excessive depth" in text:
        return XmlError(
            f"Elements are nested deeper than the limit of {limits.max_depth} levels "
            f"(stopped at line {line}, column {column}).",
            code="xml.too-deep",
            details={**details, "limit": limits.max_depth},
        )
    if "Entity" in text and ("not defined" in text or "declared" in text):
        return XmlError(
            f"The packet refers to an entity that is not one of XML's five predefined "
            f"ones at line {line}, column {column} ({text}); entities are not allowed "
            "in edXML packets.",
            code="xml.entity-forbidden",
            details=details,
        )
    return XmlError(
        f"The packet is not well-formed XML: {text} at line {line}, column {column}.",
        code="xml.malformed",
        details=details,
    )
