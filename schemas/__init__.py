"""XSDs for edXML document and status packets, and the code that loads them.

``validate(root)`` decides which schema applies (status when the header's block is
named ``Status`` or holds a ``StatusCode``; document otherwise), validates the
already-parsed tree and returns the kind, or raises :class:`~axis_errors.SchemaError`
(code ``schema.invalid``) whose message names the first offending element and line;
``details["errors"]`` lists every error libxml2 reported (element, line, message).

The XSD files are parsed once per process (hardened parser, no network); the
compiled ``XMLSchema`` objects are kept per thread, because lxml validators must not
be used by two threads at once (intake validates in worker threads).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Final, Literal, cast

from lxml import etree

from axis_errors import SchemaError

__all__ = [
    "EDXML_NS",
    "SCHEMA_DIR",
    "XMLDSIG_NS",
    "PacketKind",
    "packet_kind",
    "schema_path",
    "validate",
]

EDXML_NS: Final = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
XMLDSIG_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
SCHEMA_DIR: Final = Path(__file__).resolve().parent

PacketKind = Literal["document", "status"]

_FILES: Final[dict[PacketKind, str]] = {
    "document": "edxml-document.xsd",
    "status": "edxml-status.xsd",
}
_MAX_LISTED_ERRORS: Final = 50
_PREFIXES: Final = ((f"{{{EDXML_NS}}}", "edXML:"), (f"{{{XMLDSIG_NS}}}", "ds:"))


def schema_path(kind: PacketKind) -> Path:
    """The XSD file for ``kind`` (package data)."""
    return SCHEMA_DIR / _FILES[kind]


def packet_kind(root: etree._Element) -> PacketKind:
    """``"status"`` when ``edXMLEnvelope/edXMLHeader``'s first element is named
    ``Status`` or holds a ``StatusCode``; ``"document"`` otherwise (including trees
    too broken to tell, which the document schema then describes)."""
    header = root.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLHeader")
    if header is None:
        return "document"
    for block in header.iterchildren(tag=etree.Element):
        if block.tag == f"{{{EDXML_NS}}}Status":
            return "status"
        if block.find(f"{{{EDXML_NS}}}StatusCode") is not None:
            return "status"
        return "document"
    return "document"


@cache
def _schema_document(kind: PacketKind) -> etree._ElementTree:
    """The parsed XSD (once per process). Our own files, still parsed hardened."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.parse(str(schema_path(kind)), parser)


class _Validators(threading.local):
    def __init__(self) -> None:
        self.by_kind: dict[PacketKind, etree.XMLSchema] = {}


_validators = _Validators()
_compile_lock = threading.Lock()


def _validator(kind: PacketKind) -> etree.XMLSchema:
    schema = _validators.by_kind.get(kind)
    if schema is None:
        with _compile_lock:  # XSD compilation resolves includes: keep it serial
            schema = etree.XMLSchema(_schema_document(kind))
        _validators.by_kind[kind] = schema
    return schema


def validate(root: etree._Element) -> PacketKind:
    """Validate a parsed packet against the schema of its kind; return the kind.

    Raises :class:`SchemaError` (``schema.invalid``) naming the first error's element
    and line; every error is listed in ``details["errors"]``.
    """
    kind = packet_kind(root)
    if root.tag != f"{{{EDXML_NS}}}edXML":
        raise SchemaError(
            f"The root element is {_readable(str(root.tag))}, not edXML:edXML in the "
            f"namespace {EDXML_NS}.",
            code="schema.invalid",
            details={
                "kind": kind,
                "errors": [{"line": root.sourceline, "element": _readable(str(root.tag))}],
            },
        )
    schema = _validator(kind)
    if schema.validate(root.getroottree()):
        return kind
    entries = cast(Iterable[etree._LogEntry], schema.error_log)
    errors = [_describe(entry) for entry in entries][:_MAX_LISTED_ERRORS]
    first = errors[0] if errors else {"line": None, "element": "edXML", "message": "invalid"}
    raise SchemaError(
        f"The packet does not match the edXML {kind} schema at line {first['line']}, "
        f"element {first['element']}: {first['message']}.",
        code="schema.invalid",
        details={"kind": kind, "errors": errors},
    )


_FACET: Final = re.compile(r"^\[facet '[^']*'\] ")
_ELEMENT_IN_MESSAGE: Final = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ?")


def _readable(text: str) -> str:
    text = text.replace(f"##other{{{EDXML_NS}}}*", "an element of another namespace")
    for clark, prefix in _PREFIXES:
        text = text.replace(clark, prefix)
    return text


def _describe(entry: etree._LogEntry) -> dict[str, object]:
    """``{"line", "element", "message"}`` for one libxml2 validation error."""
    message = _readable(entry.message)
    element = "edXML"
    match = _ELEMENT_IN_MESSAGE.match(message)
    if match:
        element = match.group(1) + (f"/@{match.group(2)}" if match.group(2) else "")
        message = message[match.end() :]
    message = _FACET.sub("", message).strip().rstrip(".")
    return {"line": entry.line, "element": element, "message": message}
