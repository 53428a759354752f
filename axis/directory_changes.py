"""Changes to the directory: a sync from the national axis's list, and a reorganization
file. Pure planning, no I/O: the result is applied by ``axis.store.national`` in one
transaction with its audit event. Nothing is ever deleted: a code that goes away is
*closed*, with its successor when one is known, so that history, counters and packets
still addressed to it keep working.

**Sync** (:func:`plan_sync`) reads the national axis's ``getAgenciesList`` items
(``id, code, name, mail, pid, oldCode``). It manages the codes this axis routes to the
national axis (``is_remote``); the province's own codes (routed ``local``) belong to its
own directory (``axis agencies``, ``axis directory reorganize``) and a sync never adds,
renames or closes them. For remote codes:

- a code not in the directory is added (active, pull, parent from ``pid``);
- a known code whose name or parent changed is updated (its tier is kept: an admin may
  have corrected it);
- a known code closed earlier that the list carries again is reopened;
- each code in an item's ``oldCode`` (comma/semicolon separated) is closed with the item's
  code as successor (added closed if it was unknown);
- a known active code absent from the list, and not replaced, is closed without
  successor (packets to it are then refused with ``directory.closed-no-successor``).
  An empty list changes nothing (``directory.sync-empty``): a national axis answering
  nothing is an outage, not the end of every agency.

The tier of an added code (:func:`infer_tier`) cannot be read from a code with
certainty (the facts page, section 3): ``G..`` codes and codes under a central agency
are ``central``; a code whose lower groups are all zero (``000.00.00.H36``) or with only
level 2 set (``000.00.05.H53``: a department; some provinces numbered districts there)
is ``province``; anything with level 3 or 4 set is ``commune``. Admins correct tiers
with ``axis agencies``; a sync never overwrites a tier.

**Reorganization** (:func:`plan_reorganization`): rows ``old_code,new_code,date[,name
[,tier]]``. Each old code is closed with the new one as successor and the date as its
``closed_on``; a new code not in the directory is created (it needs a name); a name on
a known new code renames it. The file is applied on or after its dates (a future date is
refused): from then on packets addressed to an old code go to its successor, while
counters keep the codes of their time (``axis.report.by_current_structure`` maps them to
today's structure).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final, Literal, Protocol

from axis.directory import TIERS, Agency, Tier, is_valid_code, normalize_code
from axis_errors import InputError, PeerError

__all__ = [
    "Closure",
    "DirectoryChanges",
    "RemoteItem",
    "ReorgRow",
    "infer_tier",
    "parse_reorganization",
    "plan_reorganization",
    "plan_sync",
]

ClosureSource = Literal["sync", "reorganize"]
_MAX_NAME: Final = 500


class RemoteItem(Protocol):
    """A getAgenciesList item (``adapters.vxp.protocol.AgencyItem`` satisfies it)."""

    @property
    def id(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def pid(self) -> str: ...
    @property
    def old_code(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Closure:
    """A code closed on ``closed_on`` (with its successor, if any), and why."""

    code: str
    successor: str | None
    closed_on: date
    source: ClosureSource


@dataclass(frozen=True)
class DirectoryChanges:
    """What to write: agencies to insert or update, closures to record."""

    added: tuple[Agency, ...] = ()
    updated: tuple[Agency, ...] = ()
    closed: tuple[Agency, ...] = ()
    closures: tuple[Closure, ...] = ()
    ignored: tuple[str, ...] = ()  # remote items skipped, with the reason
    notes: tuple[str, ...] = field(default=())

    @property
    def agencies(self) -> tuple[Agency, ...]:
        """Every agency row to upsert."""
        return (*self.added, *self.updated, *self.closed)

    @property
    def empty(self) -> bool:
        return not self.agencies and not self.closures

    def summary(self) -> dict[str, Any]:
        return {
            "added": [a.code for a in self.added],
            "updated": [a.code for a in self.updated],
            "closed": [{"code": a.code, "successor": a.successor} for a in self.closed],
            "ignored": list(self.ignored),
        }


def _groups(code: str) -> list[str]:
    return code.split(".")


def _zero(group: str) -> bool:
    return group.strip("0") == ""


def infer_tier(code: str, parent_tier: Tier | None = None) -> Tier:
    """The best-effort tier of a code outside the province (see the module docstring)."""
    groups = _groups(normalize_code(code))
    level1 = groups[-1]
    if level1.startswith("G") or parent_tier == "central":
        return "central"
    lower = groups[:-1]
    if all(_zero(g) for g in lower):
        return "province"
    if len(lower) >= 1 and all(_zero(g) for g in lower[:-1]):
        return "province"  # only level 2 set: a department (or an old district)
    return "commune"


def _old_codes(text: str) -> list[str]:
    out = []
    for part in text.replace(";", ",").split(","):
        code = normalize_code(part)
        if code:
            out.append(code)
    return out


def _loops(code: str, successor: Mapping[str, str]) -> bool:
    seen = {code}
    current = successor.get(code)
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = successor.get(current)
    return False


def plan_sync(
    local: Iterable[Agency],
    remote: Sequence[RemoteItem],
    *,
    is_remote: Callable[[str], bool],
    today: date,
) -> DirectoryChanges:
    """The changes that bring the remote part of the directory in line with ``remote``.

    Raises ``PeerError`` ``directory.sync-empty`` for an empty list.
    """
    if not remote:
        raise PeerError(
            "The national axis's agency list is empty; the directory was left unchanged.",
            code="directory.sync-empty",
        )
    mine = {a.code: a for a in local}
    ignored: list[str] = []
    items: dict[str, RemoteItem] = {}
    code_of_id: dict[str, str] = {}
    for item in remote:
        code = normalize_code(item.code)
        if not is_valid_code(code):
            ignored.append(f"{item.code[:40]!r}: not a valid code")
            continue
        if not is_remote(code):
            continue  # one of ours: the province's own directory decides
        if code in items:
            ignored.append(f"{code}: listed twice")
            continue
        items[code] = item
        if item.id:
            code_of_id[item.id] = code
    for item in remote:
        code = normalize_code(item.code)
        if is_valid_code(code) and item.id:
            code_of_id.setdefault(item.id, code)

    def parent_of(item: RemoteItem) -> str | None:
        if not item.pid:
            return None
        parent = code_of_id.get(item.pid) or normalize_code(item.pid)
        return parent if is_valid_code(parent) else None

    tiers: dict[str, Tier] = {code: a.tier for code, a in mine.items()}

    def tier_for(code: str, parent: str | None, depth: int = 0) -> Tier:
        if code in tiers:
            return tiers[code]
        parent_tier: Tier | None = None
        if parent is not None and depth < 8:
            pitem = items.get(parent)
            parent_tier = tiers.get(parent) or (
                tier_for(parent, parent_of(pitem), depth + 1) if pitem is not None else None
            )
        tiers[code] = infer_tier(code, parent_tier)
        return tiers[code]

    # who replaced whom (our own codes may replace remote ones: a merger); a code that is
    # some listed code's oldCode is closed even if the list still carries it
    listed = {normalize_code(i.code): i for i in remote if is_valid_code(normalize_code(i.code))}
    replaced_by: dict[str, str] = {}
    for code, item in listed.items():
        for old in _old_codes(item.old_code):
            if old != code and is_valid_code(old) and is_remote(old):
                replaced_by.setdefault(old, code)
    looping = {old for old in replaced_by if _loops(old, replaced_by)}
    for old in sorted(looping):
        ignored.append(f"{old}: its successors form a cycle")
        del replaced_by[old]

    added: list[Agency] = []
    updated: list[Agency] = []
    closed: dict[str, Agency] = {}
    closures: list[Closure] = []
    for code, item in items.items():
        if code in replaced_by:
            continue
        parent = parent_of(item)
        if parent == code:
            parent = None
        name = (item.name or code)[:_MAX_NAME]
        current = mine.get(code)
        if current is None:
            added.append(Agency(code, name, tier_for(code, parent), parent))
            continue
        new = replace(
            current,
            name=name,
            parent=parent if parent is not None else current.parent,
            status="active",
            successor=None,
        )
        if new != current:
            updated.append(new)
    for old, code in replaced_by.items():
        current = mine.get(old)
        if current is not None and current.status == "closed" and current.successor == code:
            continue
        listed_old = items.get(old)
        old_name = listed_old.name if listed_old is not None and listed_old.name else old
        base = current or Agency(old, old_name[:_MAX_NAME], tier_for(old, None))
        closed[old] = replace(base, status="closed", successor=code)
        closures.append(Closure(old, code, today, "sync"))
    for code, agency in mine.items():
        if code in items or code in replaced_by or code in closed:
            continue
        if agency.status != "active" or not is_remote(code):
            continue
        closed[code] = replace(agency, status="closed", successor=None)
        closures.append(Closure(code, None, today, "sync"))
    return DirectoryChanges(
        added=tuple(added),
        updated=tuple(updated),
        closed=tuple(closed.values()),
        closures=tuple(closures),
        ignored=tuple(ignored),
    )


# --- reorganization ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReorgRow:
    """One line of a reorganization file."""

    old_code: str
    new_code: str
    on: date
    name: str | None = None
    tier: Tier | None = None
    where: str = ""


def _bad(where: str, message: str, field_name: str) -> InputError:
    return InputError(
        f"{where}: {message}",
        code="reorganize.bad-row",
        details={"where": where, "field": field_name},
    )


def _row(fields: Mapping[str, Any], where: str) -> ReorgRow:
    known = {"old_code", "new_code", "date", "name", "tier"}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise _bad(where, f"unknown field(s) {', '.join(unknown)}.", unknown[0])
    values: dict[str, str] = {}
    for key, raw in fields.items():
        if raw is None:
            continue
        if not isinstance(raw, str):
            raise _bad(where, f"field {key!r} must be a string.", key)
        if raw.strip():
            values[key] = raw.strip()
    for key in ("old_code", "new_code", "date"):
        if key not in values:
            raise _bad(where, f"field {key!r} is missing or empty.", key)
    old, new = normalize_code(values["old_code"]), normalize_code(values["new_code"])
    for key, code in (("old_code", old), ("new_code", new)):
        if not is_valid_code(code):
            raise _bad(where, f"{key} {code!r} is not a valid agency code.", key)
    if old == new:
        raise _bad(where, "old_code and new_code are the same code.", "new_code")
    try:
        on = date.fromisoformat(values["date"])
    except ValueError:
        raise _bad(where, f"date {values['date']!r} is not YYYY-MM-DD.", "date") from None
    name = values.get("name")
    if name is not None and len(name) > _MAX_NAME:
        raise _bad(where, f"name is longer than {_MAX_NAME} characters.", "name")
    tier_text = values.get("tier")
    tier: Tier | None = None
    if tier_text is not None:
        low = tier_text.lower()
        if low not in TIERS:
            raise _bad(where, f"tier {tier_text!r} is not one of {', '.join(TIERS)}.", "tier")
        tier = next(t for t in TIERS if t == low)
    return ReorgRow(old, new, on, name, tier, where)


def parse_reorganization(text: str, *, filename: str = "") -> list[ReorgRow]:
    """Read a reorganization file: CSV with a header (``old_code,new_code,date`` and
    optional ``name``, ``tier``) or a JSON list of objects with those keys."""
    text = text.removeprefix("\ufeff")
    rows: list[ReorgRow] = []
    if filename.lower().endswith(".json") or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"line {exc.lineno}: not valid JSON ({exc.msg}).", code="reorganize.bad-file"
            ) from None
        if not isinstance(data, list):
            raise InputError("The JSON file must be a list of objects.", code="reorganize.bad-file")
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise _bad(f"item {i}", "not an object.", "")
            rows.append(_row(item, f"item {i}"))
    else:
        reader = csv.reader(io.StringIO(text, newline=""))
        header: list[str] | None = None
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                where = f"line {reader.line_num}"
                if header is None:
                    header = [c.strip().lower() for c in cells]
                    missing = [k for k in ("old_code", "new_code", "date") if k not in header]
                    if missing or len(set(header)) != len(header):
                        raise InputError(
                            f"{where}: the header must name old_code, new_code, date "
                            "(and optionally name, tier) once each.",
                            code="reorganize.bad-file",
                        )
                    continue
                if len(cells) != len(header):
                    raise _bad(where, f"{len(cells)} cells where the header has {len(header)}.", "")
                rows.append(_row(dict(zip(header, cells, strict=True)), where))
        except csv.Error as exc:
            raise InputError(
                f"line {reader.line_num}: not valid CSV ({exc}).", code="reorganize.bad-file"
            ) from None
    if not rows:
        raise InputError("The reorganization file has no rows.", code="reorganize.empty")
    seen: dict[str, str] = {}
    for r in rows:
        if r.old_code in seen:
            raise _bad(
                r.where, f"{r.old_code} is already closed at {seen[r.old_code]}.", "old_code"
            )
        seen[r.old_code] = r.where
    return rows


def plan_reorganization(
    local: Mapping[str, Agency], rows: Sequence[ReorgRow], *, today: date
) -> DirectoryChanges:
    """The changes a reorganization file makes (all or nothing: any bad row raises
    ``InputError`` and nothing is planned)."""
    future = [r for r in rows if r.on > today]
    if future:
        r = future[0]
        raise _bad(
            r.where,
            f"the date {r.on.isoformat()} is in the future; apply the file on or after it.",
            "date",
        )
    result: dict[str, Agency] = dict(local)
    added: dict[str, Agency] = {}
    updated: dict[str, Agency] = {}
    closures: list[Closure] = []
    old_codes = {r.old_code for r in rows}
    for r in rows:  # successors first: a new code may be created by its own row
        target = result.get(r.new_code)
        if target is None:
            if r.name is None:
                raise _bad(
                    r.where,
                    f"{r.new_code} is not in the directory; give its name to create it.",
                    "name",
                )
            target = Agency(r.new_code, r.name, r.tier or infer_tier(r.new_code))
            added[target.code] = target
        else:
            changed = target
            if r.name is not None and r.name != target.name:
                changed = replace(changed, name=r.name)
            if r.tier is not None and r.tier != target.tier:
                changed = replace(changed, tier=r.tier)
            if target.status == "closed" and target.code not in old_codes:
                raise _bad(
                    r.where,
                    f"successor {r.new_code} is itself closed; name its own successor instead.",
                    "new_code",
                )
            if changed is not target:
                (added if target.code in added else updated)[target.code] = changed
                target = changed
        result[target.code] = target
    closed: dict[str, Agency] = {}
    for r in rows:
        old = result.get(r.old_code) or Agency(r.old_code, r.old_code, infer_tier(r.old_code))
        closed_old = replace(old, status="closed", successor=r.new_code)
        result[r.old_code] = closed_old
        added.pop(r.old_code, None)
        updated.pop(r.old_code, None)
        closed[r.old_code] = closed_old
        closures.append(Closure(r.old_code, r.new_code, r.on, "reorganize"))
    for r in rows:  # no successor chain may loop back
        seen = [r.old_code]
        current = result[r.old_code]
        while current.status == "closed" and current.successor is not None:
            nxt = current.successor
            if nxt in seen:
                raise _bad(
                    r.where,
                    "successors form a cycle: " + " -> ".join([*seen, nxt]) + ".",
                    "new_code",
                )
            seen.append(nxt)
            following = result.get(nxt)
            if following is None:
                break
            current = following
    return DirectoryChanges(
        added=tuple(added.values()),
        updated=tuple(updated.values()),
        closed=tuple(closed.values()),
        closures=tuple(closures),
    )
