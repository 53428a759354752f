"""``axis agencies``: the directory of agencies (import, add, show, list, add-cert, close)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from axis.commands._deployment import add_config_argument, run_with_store
from axis.commands.deliveries import add_set_delivery
from axis.directory import (
    AGENCY_STATUSES,
    DELIVERY_MODES,
    TIERS,
    Agency,
    agency_from_fields,
    normalize_code,
    parse_agencies,
)
from axis.store import AgencyCert, Store
from axis_errors import InputError, NotFoundError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agencies",
        help="manage the directory of agencies",
        description="Manage the directory of agencies (OrganId, tier, successor, certificates).",
    )
    sub = parser.add_subparsers(dest="agencies_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("import", help="import agencies from a CSV or JSON file")
    p.add_argument(
        "file", type=Path, metavar="FILE", help="CSV (header code,name,tier,...) or JSON"
    )
    add_config_argument(p)
    p.set_defaults(func=_import)

    p = sub.add_parser("add", help="add or update one agency")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--name", required=True)
    p.add_argument("--tier", required=True, choices=TIERS)
    p.add_argument("--parent", metavar="CODE")
    p.add_argument("--status", choices=AGENCY_STATUSES, default="active")
    p.add_argument("--successor", metavar="CODE")
    p.add_argument("--delivery", choices=DELIVERY_MODES, default="pull")
    p.add_argument("--push-url", metavar="URL")
    add_config_argument(p)
    p.set_defaults(func=_add)

    p = sub.add_parser("show", help="show one agency and its certificates")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_config_argument(p)
    p.set_defaults(func=_show)

    p = sub.add_parser("list", help="list agencies")
    p.add_argument("--tier", choices=TIERS)
    p.add_argument("--status", choices=AGENCY_STATUSES)
    p.add_argument("--json", action="store_true", help="print JSON")
    add_config_argument(p)
    p.set_defaults(func=_list)

    p = sub.add_parser("add-cert", help="register a signing certificate (PEM/DER) of an agency")
    p.add_argument("code", metavar="CODE")
    p.add_argument("cert", type=Path, metavar="CERT.pem")
    add_config_argument(p)
    p.set_defaults(func=_add_cert)

    p = sub.add_parser("close", help="close an agency code; its packets go to the successor")
    p.add_argument("code", metavar="CODE")
    p.add_argument("--successor", required=True, metavar="CODE")
    add_config_argument(p)
    p.set_defaults(func=_close)

    add_set_delivery(sub)  # set-delivery CODE --push URL | --pull (axis.commands.deliveries)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"File {path} does not exist.", code="input.file-not-found") from None
    except UnicodeDecodeError:
        raise InputError(f"File {path} is not UTF-8 text.", code="input.not-utf8") from None
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror}.", code="input.file-unreadable"
        ) from None


def _dangling(agencies: list[Agency]) -> list[str]:
    codes = {a.code for a in agencies}
    out = []
    for a in agencies:
        if a.successor and a.successor not in codes:
            out.append(f"{a.code}: successor {a.successor} is not in the directory")
        if a.status == "closed" and not a.successor:
            out.append(f"{a.code}: closed without a successor (packets to it are refused)")
    return out


def _import(args: argparse.Namespace) -> int:
    text = _read(args.file)
    agencies = parse_agencies(text, filename=args.file.name)

    async def body(store: Store) -> list[str]:
        count = await store.upsert_agencies(agencies)
        await store.record_event(
            "agencies.imported", actor="admin", detail={"file": args.file.name, "count": count}
        )
        return _dangling(await store.list_agencies())

    warnings = run_with_store(args, body)
    print(f"Imported {len(agencies)} agencies from {args.file}.")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def _add(args: argparse.Namespace) -> int:
    fields = {
        "code": args.code,
        "name": args.name,
        "tier": args.tier,
        "parent": args.parent,
        "status": args.status,
        "successor": args.successor,
        "delivery": args.delivery,
        "push_url": args.push_url,
    }
    agency = agency_from_fields(fields, f"agency {args.code}")

    async def body(store: Store) -> None:
        await store.upsert_agency(agency)
        await store.record_event(
            "agency.saved", agency_code=agency.code, actor="admin", detail={"name": agency.name}
        )

    run_with_store(args, body)
    print(f"Saved agency {agency.code} ({agency.tier}): {agency.name}")
    return 0


def _agency_dict(agency: Agency, certs: list[AgencyCert] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = dataclasses.asdict(agency)
    if certs is not None:
        out["certificates"] = [
            {"sha256": c.sha256, "subject": c.subject, "not_after": c.not_after.isoformat()}
            for c in certs
        ]
    return out


def _show(args: argparse.Namespace) -> int:
    code = normalize_code(args.code)

    async def body(store: Store) -> tuple[Agency | None, list[AgencyCert]]:
        agency = await store.get_agency(code)
        return agency, (await store.list_agency_certs(code) if agency else [])

    agency, certs = run_with_store(args, body)
    if agency is None:
        raise NotFoundError(f"Agency {code} is not in the directory.", code="agencies.not-found")
    if args.json:
        print(json.dumps(_agency_dict(agency, certs), ensure_ascii=False, indent=2))
        return 0
    print(f"code:       {agency.code}")
    print(f"name:       {agency.name}")
    print(f"tier:       {agency.tier}")
    print(f"parent:     {agency.parent or '-'}")
    print(f"status:     {agency.status}")
    if agency.successor:
        print(f"successor:  {agency.successor}")
    print(
        f"delivery:   {agency.delivery_mode}" + (f" {agency.push_url}" if agency.push_url else "")
    )
    if not certs:
        print("certificates: none")
    for c in certs:
        print(f"certificate: {c.sha256}  {c.subject}  valid until {c.not_after:%Y-%m-%d}")
    return 0


def _list(args: argparse.Namespace) -> int:
    async def body(store: Store) -> list[Agency]:
        return await store.list_agencies(tier=args.tier, status=args.status)

    agencies = run_with_store(args, body)
    if args.json:
        print(json.dumps([_agency_dict(a) for a in agencies], ensure_ascii=False, indent=2))
        return 0
    for a in agencies:
        extra = f" -> {a.successor}" if a.status == "closed" else ""
        print(f"{a.code:<16} {a.tier:<9} {a.status:<7} {a.name}{extra}")
    print(f"{len(agencies)} agencies")
    return 0


def _add_cert(args: argparse.Namespace) -> int:
    try:
        data = args.cert.read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read certificate file {args.cert}: {exc.strerror}.",
            code="input.file-unreadable",
        ) from None

    async def body(store: Store) -> AgencyCert:
        return await store.add_agency_cert(args.code, data)

    cert = run_with_store(args, body)
    print(f"Registered certificate {cert.sha256} for {cert.agency_code}: {cert.subject}")
    return 0


def _close(args: argparse.Namespace) -> int:
    code, successor = normalize_code(args.code), normalize_code(args.successor)

    async def body(store: Store) -> Agency:
        agency = await store.get_agency(code)
        if agency is None:
            raise NotFoundError(
                f"Agency {code} is not in the directory.", code="agencies.not-found"
            )
        if await store.get_agency(successor) is None:
            raise NotFoundError(
                f"Successor {successor} is not in the directory.", code="agencies.not-found"
            )
        if successor == code:
            raise InputError(
                f"Agency {code} cannot be its own successor.", code="agencies.bad-successor"
            )
        closed = dataclasses.replace(agency, status="closed", successor=successor)
        await store.upsert_agency(closed)
        await store.record_event(
            "agency.closed", agency_code=code, actor="admin", detail={"successor": successor}
        )
        return closed

    closed = run_with_store(args, body)
    print(f"Closed {closed.code}; packets addressed to it now go to {closed.successor}.")
    return 0
