"""The directory of agencies: pure rules, no I/O.

An agency is identified by its OrganId (mã định danh, QCVN 102 / Decision 20/2020): up
to 35 characters of digits, A-Z and dots. Its *tier* cannot be read from the code (see
the facts page, section 3), so the directory records it. Reorganizations close codes; a
packet addressed to a closed code goes to the code's successor, following chains of
successors (a district merged into another, which later closed too...).

What lives here:

- :class:`Agency`, the directory entry (a frozen value).
- :func:`resolve_recipient`: follow successor chains from the code a packet names to
  the agency that will receive it (``None`` for an unknown code, so that intake can name
  *every* unknown code in one refusal; :class:`~axis_errors.PacketError` for a cycle, a
  too-long chain or a closed code without successor).
- :func:`code_matches` and :func:`match_route`: glob patterns over codes (``*`` any run
  of characters, dots included; ``?`` one character), first matching route wins.
- :func:`parse_agencies_csv` and :func:`parse_agencies_json`: import files, refused row
  by row with :class:`~axis_errors.InputError` naming the line (or item) at fault.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal, cast, get_args

from axis_errors import ConfigError, InputError, PacketError

__all__ = [
    "AGENCY_STATUSES",
    "DELIVERY_MODES",
    "TIERS",
    "Agency",
    "AgencyStatus",
    "DeliveryMode",
    "Resolution",
    "RouteKind",
    "RouteRule",
    "Tier",
    "code_matches",
    "is_valid_code",
    "match_route",
    "normalize_code",
    "parse_agencies",
    "parse_agencies_csv",
    "parse_agencies_json",
    "resolve_recipient",
    "validate_pattern",
]

Tier = Literal["central", "province", "district", "commune"]
AgencyStatus = Literal["active", "closed"]
DeliveryMode = Literal["pull", "push"]
RouteKind = Literal["local", "national"]

TIERS: Final[tuple[Tier, ...]] = get_args(Tier)
AGENCY_STATUSES: Final[tuple[AgencyStatus, ...]] = get_args(AgencyStatus)
DELIVERY_MODES: Final[tuple[DeliveryMode, ...]] = get_args(DeliveryMode)
ROUTE_KINDS: Final[tuple[RouteKind, ...]] = get_args(RouteKind)

_CODE_RE: Final = re.compile(r"[0-9A-Z.]{1,35}")
_PATTERN_RE: Final = re.compile(r"[0-9A-Z.*?]{1,35}")
_MAX_NAME: Final = 500


def normalize_code(code: str) -> str:
    """A code as stored and compared: surrounding blanks removed, upper case."""
    return code.strip().upper()


def is_valid_code(code: str) -> bool:
    """True for 1-35 characters of digits, A-Z and dots (Decision 20/2020)."""
    return _CODE_RE.fullmatch(code) is not None


def validate_pattern(pattern: str) -> str:
    """Normalize and check an agency pattern (an exact code, or a glob with ``*``/``?``).

    Raises :class:`InputError` (``directory.bad-pattern``) for anything else: the same
    grammar is used in SQL (``LIKE``) by the store, so character sets are not allowed.
    """
    p = normalize_code(pattern)
    if _PATTERN_RE.fullmatch(p) is None:
        raise InputError(
            f"Agency pattern {pattern!r} is not a code or a glob of digits, A-Z, dots, "
            "'*' and '?'.",
            code="directory.bad-pattern",
            details={"pattern": pattern},
        )
    return p


@dataclass(frozen=True, slots=True)
class Agency:
    """One entry of the directory."""

    code: str
    name: str
    tier: Tier
    parent: str | None = None
    status: AgencyStatus = "active"
    successor: str | None = None
    delivery_mode: DeliveryMode = "pull"
    push_url: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a packet addressed to ``addressed`` goes.

    ``via_successor`` lists the closed codes passed through, in order (empty when the
    addressed agency is active itself): ``addressed`` is its first item when non-empty.
    """

    addressed: str
    target: Agency
    via_successor: tuple[str, ...] = ()


def resolve_recipient(
    code: str, lookup: Callable[[str], Agency | None], *, max_hops: int = 8
) -> Resolution | None:
    """Follow successors from ``code`` to an active agency.

    Returns ``None`` when ``code`` is not in the directory (a successor that is missing
    is an error of the directory, not of the caller, and raises ``PacketError`` with
    code ``directory.successor-unknown``). Raises ``PacketError`` for a cycle
    (``directory.successor-cycle``), a chain longer than ``max_hops``
    (``directory.successor-too-deep``) and a closed agency without successor
    (``directory.closed-no-successor``).
    """
    addressed = normalize_code(code)
    agency = lookup(addressed)
    if agency is None:
        return None
    seen: list[str] = []
    while agency.status == "closed":
        seen.append(agency.code)
        if agency.successor is None:
            raise PacketError(
                f"Recipient {addressed} is closed and {agency.code} has no successor.",
                code="directory.closed-no-successor",
                details={"addressed": addressed, "closed": agency.code},
            )
        nxt = normalize_code(agency.successor)
        if nxt in seen:
            raise PacketError(
                f"Successors of recipient {addressed} form a cycle: {' -> '.join([*seen, nxt])}.",
                code="directory.successor-cycle",
                details={"addressed": addressed, "chain": [*seen, nxt]},
            )
        if len(seen) > max_hops:
            raise PacketError(
                f"Successors of recipient {addressed} go deeper than {max_hops} hops.",
                code="directory.successor-too-deep",
                details={"addressed": addressed, "chain": seen},
            )
        succ = lookup(nxt)
        if succ is None:
            raise PacketError(
                f"Recipient {addressed} is closed and its successor {nxt} is not in the directory.",
                code="directory.successor-unknown",
                details={"addressed": addressed, "successor": nxt},
            )
        agency = succ
    return Resolution(addressed=addressed, target=agency, via_successor=tuple(seen))


# --- patterns and routes -------------------------------------------------------------


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def code_matches(pattern: str, code: str) -> bool:
    """Glob match of an agency code: ``*`` any run (dots included), ``?`` one character.

    Both sides are compared after :func:`normalize_code`, so matching ignores case.
    """
    return _glob_regex(normalize_code(pattern)).fullmatch(normalize_code(code)) is not None


@dataclass(frozen=True, slots=True)
class RouteRule:
    """``match`` is a code glob; ``via`` says where matching recipients go."""

    match: str
    via: RouteKind

    def __post_init__(self) -> None:
        if self.via not in ROUTE_KINDS:
            raise ConfigError(
                f"Route via {self.via!r} is not one of {', '.join(ROUTE_KINDS)}.",
                code="config.bad-route",
            )


DEFAULT_ROUTES: Final[tuple[RouteRule, ...]] = (RouteRule("*", "local"),)


def match_route(code: str, routes: Sequence[RouteRule]) -> RouteKind | None:
    """The ``via`` of the first rule whose pattern matches ``code``; ``None`` if none does."""
    for rule in routes:
        if code_matches(rule.match, code):
            return rule.via
    return None


# --- import files ----------------------------------------------------------------------

_REQUIRED = ("code", "name", "tier")
_KNOWN = frozenset(
    {"code", "name", "tier", "parent", "status", "successor", "delivery", "push_url"}
)


def _opt(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(value)
    v = value.strip()
    return v or None


def agency_from_fields(fields: Mapping[str, Any], where: str) -> Agency:
    """Build and check one agency from import fields; ``where`` names it in errors."""

    def bad(msg: str, field: str) -> InputError:
        return InputError(
            f"{where}: {msg}",
            code="directory.bad-row",
            details={"where": where, "field": field},
        )

    unknown = sorted(set(fields) - _KNOWN)
    if unknown:
        raise bad(f"unknown field(s) {', '.join(unknown)}.", unknown[0])
    values: dict[str, str | None] = {}
    for key, raw in fields.items():
        try:
            values[key] = _opt(raw)
        except TypeError:
            raise bad(f"field {key!r} must be a string.", key) from None
    for key in _REQUIRED:
        if not values.get(key):
            raise bad(f"field {key!r} is missing or empty.", key)
    code = normalize_code(cast(str, values["code"]))
    if not is_valid_code(code):
        raise bad(f"code {code!r} is not 1-35 characters of digits, A-Z and dots.", "code")
    name = cast(str, values["name"])
    if len(name) > _MAX_NAME:
        raise bad(f"name is longer than {_MAX_NAME} characters.", "name")
    tier = cast(str, values["tier"]).lower()
    if tier not in TIERS:
        raise bad(f"tier {tier!r} is not one of {', '.join(TIERS)}.", "tier")
    status = (values.get("status") or "active").lower()
    if status not in AGENCY_STATUSES:
        raise bad(f"status {status!r} is not one of {', '.join(AGENCY_STATUSES)}.", "status")
    delivery = (values.get("delivery") or "pull").lower()
    if delivery not in DELIVERY_MODES:
        raise bad(f"delivery {delivery!r} is not one of {', '.join(DELIVERY_MODES)}.", "delivery")
    refs: dict[str, str | None] = {}
    for key in ("parent", "successor"):
        ref = values.get(key)
        if ref is not None:
            ref = normalize_code(ref)
            if not is_valid_code(ref):
                raise bad(f"{key} {ref!r} is not a valid agency code.", key)
            if ref == code:
                raise bad(f"{key} is the agency itself.", key)
        refs[key] = ref
    push_url = values.get("push_url")
    if delivery == "push" and push_url is None:
        raise bad("delivery 'push' needs a push_url.", "push_url")
    if push_url is not None and not push_url.startswith(("http://", "https://")):
        raise bad("push_url must be an http(s) URL.", "push_url")
    return Agency(
        code=code,
        name=name,
        tier=tier,
        parent=refs["parent"],
        status=status,
        successor=refs["successor"],
        delivery_mode=delivery,
        push_url=push_url,
    )


def _check_unique(agencies: Iterable[tuple[str, Agency]]) -> list[Agency]:
    seen: dict[str, str] = {}
    out = []
    for where, agency in agencies:
        if agency.code in seen:
            raise InputError(
                f"{where}: code {agency.code} already appears at {seen[agency.code]}.",
                code="directory.duplicate-code",
                details={"where": where, "code": agency.code},
            )
        seen[agency.code] = where
        out.append(agency)
    return out


def parse_agencies_csv(text: str) -> list[Agency]:
    """Parse a CSV directory: header row with ``code,name,tier`` at least, then
    optional ``parent``, ``status``, ``successor``, ``delivery``, ``push_url``.

    Blank lines are skipped; a leading UTF-8 BOM is tolerated. Errors name the line.
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[tuple[str, Agency]] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in row]
                missing = [k for k in _REQUIRED if k not in header]
                if missing:
                    raise InputError(
                        f"line {line}: the header row lacks column(s) {', '.join(missing)}.",
                        code="directory.bad-header",
                        details={"line": line, "missing": missing},
                    )
                if len(set(header)) != len(header):
                    raise InputError(
                        f"line {line}: the header row repeats a column.",
                        code="directory.bad-header",
                        details={"line": line},
                    )
                continue
            if len(row) != len(header):
                raise InputError(
                    f"line {line}: {len(row)} cells where the header has {len(header)}.",
                    code="directory.bad-row",
                    details={"where": f"line {line}"},
                )
            rows.append(
                (
                    f"line {line}",
                    agency_from_fields(dict(zip(header, row, strict=True)), f"line {line}"),
                )
            )
    except csv.Error as exc:
        raise InputError(
            f"line {reader.line_num}: not valid CSV ({exc}).",
            code="directory.bad-csv",
            details={"line": reader.line_num},
        ) from None
    if header is None:
        raise InputError("The CSV file is empty: no header row.", code="directory.bad-header")
    return _check_unique(rows)


def parse_agencies_json(text: str) -> list[Agency]:
    """Parse a JSON directory: a list of objects with the CSV's keys. Errors name the item."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"line {exc.lineno}: not valid JSON ({exc.msg}).",
            code="directory.bad-json",
            details={"line": exc.lineno},
        ) from None
    if not isinstance(data, list):
        raise InputError("The JSON directory must be a list of objects.", code="directory.bad-json")
    rows = []
    for i, item in enumerate(data):
        where = f"item {i}"
        if not isinstance(item, dict):
            raise InputError(
                f"{where}: not an object.", code="directory.bad-row", details={"where": where}
            )
        rows.append((where, agency_from_fields(item, where)))
    return _check_unique(rows)


def parse_agencies(text: str, *, filename: str = "") -> list[Agency]:
    """CSV or JSON by file name (``.json``) or, failing that, by the first character."""
    if filename.lower().endswith(".json") or text.lstrip("\ufeff \t\r\n").startswith("["):
        return parse_agencies_json(text)
    return parse_agencies_csv(text)
