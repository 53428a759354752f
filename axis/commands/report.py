"""``axis report exchange|signatures``: the auditors' reports from the command line.

Same engine (:mod:`axis.reporting`) and so the same figures as
``GET /api/v1/reports/exchange`` and ``/signatures``::

    axis report exchange   --from 2026-01-01 --to 2026-09-30 --by agency|tier|month|day|all|tree
                           [--scope internal|national|all] [--structure time|current]
    axis report signatures --from ... --to ... --by agency|tier|month|all
                           [--recipient-tier central] [--sender-tier province] [--agency CODE]
                           [--kind document|status|all]
    common: [--format table|csv|xlsx|json] [-o FILE] [--config FILE]

CSV is UTF-8 with a BOM (spreadsheet tools read Vietnamese correctly); Excel (xlsx) has
Vietnamese headings and, for signatures, sheets for the trend and the certificates.
Long outputs show a progress bar on the terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from axis.commands._deployment import add_config_argument, run_with_store
from axis.commands.audit import parse_day, progress_bar
from axis.reportfmt import (
    Sheet,
    exchange_sheets,
    render_text,
    signature_sheets,
    write_csv,
    write_xlsx,
)
from axis.reporting import (
    EXCHANGE_BY,
    RECIPIENT_TIERS,
    SIGNATURE_BY,
    ExchangeQuery,
    SignatureQuery,
    exchange,
    signatures,
    signatures_dict,
)
from axis.store import Store
from axis_errors import InputError

__all__ = ["register"]

FORMATS = ("table", "csv", "xlsx", "json")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="exchange and signature reports (table, CSV, Excel, JSON)",
        description="Auditors' reports from the counters: exchange and signatures.",
    )
    sub = parser.add_subparsers(dest="report_command", metavar="REPORT")
    sub.required = True

    p = sub.add_parser("exchange", help="sent, received, refused per agency/tier/month/tree")
    _common(p)
    p.add_argument("--by", choices=EXCHANGE_BY, default="agency")
    p.add_argument("--scope", choices=("internal", "national", "all"), default="all")
    p.add_argument(
        "--structure",
        choices=("time", "current"),
        default="time",
        help="codes of the time (default) or today's structure after reorganizations",
    )
    p.set_defaults(func=_exchange)

    p = sub.add_parser("signatures", help="signature verdicts, share validly signed, CAs")
    _common(p)
    p.add_argument("--by", choices=SIGNATURE_BY, default="agency")
    p.add_argument(
        "--recipient-tier",
        choices=RECIPIENT_TIERS,
        default="*",
        help="only packets with a recipient of this tier, e.g. central (= sent to ministries)",
    )
    p.add_argument("--sender-tier", action="append", choices=RECIPIENT_TIERS[1:])
    p.add_argument("--agency", action="append", metavar="CODE", help="sender code or glob")
    p.add_argument("--kind", choices=("document", "status", "all"), default="document")
    p.set_defaults(func=_signatures)


def _common(p: argparse.ArgumentParser) -> None:
    add_config_argument(p)
    p.add_argument("--from", dest="day_from", type=parse_day, metavar="DAY")
    p.add_argument("--to", dest="day_to", type=parse_day, metavar="DAY")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE")


def _emit(args: argparse.Namespace, sheets: list[Sheet], as_json: dict[str, Any]) -> int:
    fmt: str = args.format
    out: Path | None = args.output
    if fmt == "xlsx" and out is None:
        raise InputError("--format xlsx needs -o FILE.xlsx.", code="input.bad-param")
    rows = sum(len(s.rows) for s in sheets)
    with progress_bar(f"writing {fmt}", rows, enabled=out is not None) as advance:
        if fmt == "json":
            text = json.dumps(as_json, ensure_ascii=False, indent=2) + "\n"
        elif fmt == "table":
            text = render_text(sheets, advance)
        elif fmt == "csv":
            if out is not None:
                with out.open("w", encoding="utf-8-sig", newline="") as fh:
                    write_csv(sheets[0], fh, advance)
                print(f"Wrote {out} ({len(sheets[0].rows)} rows).", file=sys.stderr)
                return 0
            sys.stdout.write("\ufeff")
            write_csv(sheets[0], sys.stdout, advance)
            return 0
        else:
            assert out is not None
            write_xlsx(sheets, out, advance)
            print(f"Wrote {out} ({rows} rows).", file=sys.stderr)
            return 0
    if out is not None:
        out.write_text(text, encoding="utf-8")
        print(f"Wrote {out}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _exchange(args: argparse.Namespace) -> int:
    q = ExchangeQuery(
        day_from=args.day_from,
        day_to=args.day_to,
        by=args.by,
        scope=args.scope,
        structure=args.structure,
    )

    async def body(store: Store) -> Any:
        return await exchange(store, q)

    result = run_with_store(args, body)
    return _emit(args, exchange_sheets(result), result.as_dict())


def _signatures(args: argparse.Namespace) -> int:
    q = SignatureQuery(
        day_from=args.day_from,
        day_to=args.day_to,
        by=args.by,
        recipient_tier=args.recipient_tier,
        sender_tiers=tuple(args.sender_tier) if args.sender_tier else None,
        agencies=tuple(args.agency) if args.agency else None,
        kind=args.kind,
    )

    async def body(store: Store) -> Any:
        report = await signatures(store, q)
        names = {a.code: a.name for a in await store.list_agencies()} if q.by == "agency" else {}
        return report, names

    report, names = run_with_store(args, body)
    return _emit(args, signature_sheets(report, names=names), signatures_dict(q, report))
