"""``axis validate FILE [--json]``: schema and content checks of one edXML packet.

Prints the packet's kind (document/status), its business type or status code, and
every problem found: all schema errors, then every content problem
(:func:`edxml.checks.check_packet`) of what could still be read. Signatures are not
looked at here (``axis verify`` does that).

Exit status: 0 valid, 1 problems found, 2 unusable input (unreadable file, or bytes
that are not acceptable XML: not well-formed, DTDs, over the limits). With
``--json`` the report is one JSON object on stdout, also for unusable XML:
``{"file", "kind", "business_type" | "status_code", "valid", "problems": [{"code",
"element", "message"}]}``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from axis_errors import InputError, PacketError, SchemaError, XmlError
from edxml.checks import Problem, check_packet
from edxml.model import DocumentPacket, Packet
from edxml.reader import read_packet
from edxml.safe import parse_xml
from schemas import PacketKind, packet_kind, validate

__all__ = ["Report", "register", "run", "validate_bytes"]

#: Vietnam's civil time (UTC+7, no daylight saving): "today" for the future-date rule.
VIETNAM: Final = dt.timezone(dt.timedelta(hours=7), "ICT")

EXIT_VALID: Final = 0
EXIT_PROBLEMS: Final = 1
EXIT_UNUSABLE: Final = 2


@dataclass
class Report:
    """What ``axis validate`` found in one packet."""

    file: str
    kind: PacketKind | None = None
    business_type: int | None = None
    status_code: str | None = None
    problems: list[Problem] = field(default_factory=list)
    unusable: bool = False

    @property
    def valid(self) -> bool:
        return not self.problems and not self.unusable

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "kind": self.kind}
        if self.kind == "status":
            out["status_code"] = self.status_code
        else:
            out["business_type"] = self.business_type
        out["valid"] = self.valid
        out["problems"] = [
            {"code": p.code, "element": p.element, "message": p.message} for p in self.problems
        ]
        return out

    def to_text(self) -> str:
        what: str = self.kind or "unreadable packet"
        if self.kind == "document" and self.business_type is not None:
            what += f", business type {self.business_type}"
        elif self.kind == "status" and self.status_code is not None:
            what += f", status code {self.status_code}"
        lines = [f"{self.file}: {what}"]
        if self.valid:
            lines.append("valid")
        else:
            count = len(self.problems)
            lines.append(f"{count} problem{'s' if count != 1 else ''}:")
            lines.extend(f"  [{p.code}] {p.element}: {p.message}" for p in self.problems)
        return "\n".join(lines)


def validate_bytes(data: bytes, *, file: str, today: dt.date) -> Report:
    """Check ``data`` (schema + content); raises :class:`XmlError` for unusable XML."""
    report = Report(file=file)
    root = parse_xml(data)
    report.kind = packet_kind(root)
    try:
        validate(root)
    except SchemaError as exc:
        errors = exc.details.get("errors") or [{"element": "edXML", "message": exc.message}]
        for error in errors:
            line = error.get("line")
            where = f"line {line}: " if line else ""
            report.problems.append(
                Problem("schema.invalid", str(error.get("element")), f"{where}{error['message']}.")
            )
    packet: Packet | None
    try:
        packet = read_packet(root)
    except PacketError as exc:
        packet = None
        if not report.problems:  # the schema passed but the model could not be read
            element = str(exc.details.get("element", "edXML"))
            report.problems.append(Problem(exc.code, element, exc.message))
    if packet is not None:
        if isinstance(packet, DocumentPacket):
            report.business_type = int(packet.business_type)
        else:
            report.status_code = packet.status_code.value
        report.problems.extend(check_packet(packet, today=today))
    return report


def run(args: argparse.Namespace) -> int:
    path: Path = args.file
    today: dt.date = args.today or dt.datetime.now(VIETNAM).date()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror or exc}.", code="input.unreadable"
        ) from None
    try:
        report = validate_bytes(data, file=str(path), today=today)
    except XmlError as exc:
        if not args.json:
            raise
        report = Report(
            file=str(path),
            problems=[Problem(exc.code, "edXML", exc.message)],
            unusable=True,
        )
    if args.json:
        json.dump(report.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.to_text())
    if report.unusable:
        return EXIT_UNUSABLE
    return EXIT_VALID if report.valid else EXIT_PROBLEMS


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "validate",
        help="check an edXML packet against the schemas and the hub's content rules",
        description=(
            "Check one edXML packet: hardened parse, the document or status schema, and "
            "the content rules a production hub applies. Prints the kind, the business "
            "type or status code and every problem. Exit status 0 when valid, 1 when "
            "problems were found, 2 for input that cannot be used."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--today",
        type=_date,
        default=None,
        help="the date for the future-date rule (YYYY-MM-DD; default: today in Vietnam)",
    )
    parser.set_defaults(func=run)
