"""``axis audit``: prove the records were not altered, and re-check old verdicts.

- ``axis audit verify [--config F] [--cert PEM] [--no-packets] [--json]`` walks the whole
  hash chain of the database, the signed heads and every stored packet; or, with
  ``--archive FILE``, an exported archive offline (no database, no configuration).
  Exit 0: intact; 1: a problem (the first one is named); 2: could not check.
- ``axis audit export --from DAY --to DAY -o FILE``: a self-contained archive
  (:mod:`axis.auditarchive`) that a third party verifies with ``--archive``.
- ``axis audit sign-head``: sign the chain head now with ``audit.key``.
- ``axis audit receipt FILE [--cert PEM]``: check a receipt the axis signed (its batch
  signature and its own audit path) and print what it says; exit 0: valid, 1: not.
- ``axis audit reverify --from DAY --to DAY [--at received|now]``: verify stored packets
  again with today's trust material and list verdicts that would change (exit 1 if
  any); resumable (see :mod:`axis.reverify`).

Days are reporting days (Asia/Ho_Chi_Minh, UTC+7), both ends included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from axis.auditarchive import ArchiveInfo, verify_archive, write_archive
from axis.auditchain import ChainReport
from axis.auditsign import axis_certificates, load_axis_signer, sign_head_now
from axis.commands._deployment import add_config_argument, config_from_args
from axis.receipts import verify_receipt
from axis.store import VN_TZ, Store, open_configured_store
from axis.store import audit as store_audit
from axis_errors import AxisError, InputError
from signing.trust import load_certificates

__all__ = ["day_bounds", "parse_day", "progress_bar", "register"]


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day (YYYY-MM-DD)") from None


def day_bounds(
    day_from: date | None, day_to: date | None
) -> tuple[datetime | None, datetime | None]:
    """[start of ``day_from``, start of the day after ``day_to``) in UTC+7, as UTC."""
    since = datetime.combine(day_from, time(), VN_TZ).astimezone(UTC) if day_from else None
    until = (
        datetime.combine(day_to + timedelta(days=1), time(), VN_TZ).astimezone(UTC)
        if day_to
        else None
    )
    return since, until


@contextmanager
def progress_bar(
    label: str, total: int | None, *, enabled: bool = True
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (only on a terminal); yields ``advance(n)``."""
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not (enabled and console.is_terminal),
    )
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="verify the tamper-evident audit log, export it, re-verify old signatures",
        description="The tamper-evident audit log: verify, export, sign the head, reverify.",
    )
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("verify", help="walk the hash chain, signed heads and stored packets")
    add_config_argument(p)
    p.add_argument("--archive", type=Path, metavar="FILE", help="verify an exported archive")
    p.add_argument(
        "--cert",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="the axis certificate to check signed heads with (default: audit.cert)",
    )
    p.add_argument("--no-packets", action="store_true", help="skip re-hashing packet bytes")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=_verify)

    p = sub.add_parser("export", help="write a self-contained, offline-verifiable archive")
    add_config_argument(p)
    p.add_argument("--from", dest="day_from", type=parse_day, metavar="DAY")
    p.add_argument("--to", dest="day_to", type=parse_day, metavar="DAY")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    p.set_defaults(func=_export)

    p = sub.add_parser("sign-head", help="sign the audit chain head now (audit.key)")
    add_config_argument(p)
    p.set_defaults(func=_sign_head)

    p = sub.add_parser("receipt", help="check a receipt the axis signed and print what it says")
    add_config_argument(p)
    p.add_argument("file", type=Path, metavar="FILE", help="the receipt (XML)")
    p.add_argument(
        "--cert",
        type=Path,
        metavar="PEM",
        help="the axis certificate (default: audit.cert of the configuration)",
    )
    p.add_argument("--json", action="store_true", help="print the receipt's facts as JSON")
    p.set_defaults(func=_receipt)

    p = sub.add_parser(
        "reverify",
        help="verify stored packets again with today's trust material; list changed verdicts",
    )
    add_config_argument(p)
    p.add_argument("--from", dest="day_from", type=parse_day, metavar="DAY")
    p.add_argument("--to", dest="day_to", type=parse_day, metavar="DAY")
    p.add_argument(
        "--at",
        choices=("received", "now"),
        default="received",
        help="judge each signature as of its reception (default) or as of now",
    )
    p.add_argument("--batch", type=int, default=200, help="packets per read (default 200)")
    p.add_argument("--max-batches", type=int, default=None, help="stop after N batches")
    p.add_argument("--restart", action="store_true", help="ignore a saved cursor")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_reverify)


def _print_report(report: ChainReport, *, as_json: bool, extra: dict[str, Any] | None) -> int:
    if as_json:
        print(json.dumps(report.to_json() | (extra or {}), ensure_ascii=False, indent=2))
        return 0 if report.ok else 1
    print(
        f"{report.events} events, {report.heads_checked} signed heads, "
        f"{report.documents_checked} packets checked."
    )
    if report.legacy_events:
        print(f"note: {report.legacy_events} events predate the chain (not protected).")
    if report.ok:
        print(f"The audit chain is intact up to event {report.last_event_id} ({report.last_hash}).")
        if report.unsigned_tail:
            print(
                f"warning: {report.unsigned_tail} event(s) after the last signed head "
                f"(event {report.last_signed_event_id}) are not yet protected against "
                "truncation; run `axis audit sign-head`."
            )
        return 0
    first = report.first_problem
    assert first is not None
    print(f"TAMPERING DETECTED ({report.problem_count} problem(s)).")
    print(f"First: [{first.kind}] {first.message}")
    for p in report.problems[1:10]:
        print(f"  [{p.kind}] {p.message}")
    return 1


def _load_pins(paths: list[Path]) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for path in paths:
        try:
            out.extend(load_certificates(path.read_bytes()))
        except OSError as exc:
            raise InputError(
                f"Cannot read {path}: {exc.strerror}.", code="input.unreadable"
            ) from exc
    return out


def _receipt(args: argparse.Namespace) -> int:
    if args.cert is not None:
        certs = _load_pins([args.cert])
    else:
        certs = list(axis_certificates(config_from_args(args))[:1])
    if not certs:
        raise InputError(
            "No axis certificate: give --cert PEM or a configuration with audit.cert.",
            code="input.no-cert",
        )
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read {args.file}: {exc.strerror}.", code="input.unreadable"
        ) from exc
    try:
        receipt = verify_receipt(data, certs[0])
    except AxisError as exc:
        if args.json:
            print(json.dumps({"valid": False, "code": exc.code, "message": exc.message}))
        else:
            print(f"INVALID: {exc.message}")
        return 1
    facts = {
        "valid": True,
        "axis": {"organ_id": receipt.axis_organ_id, "name": receipt.axis_name},
        "document_id": receipt.document_id,
        "edxml_document_id": receipt.edxml_document_id,
        "from": receipt.sender_code,
        "packet_sha256": receipt.packet_sha256,
        "verdict": receipt.verdict,
        "received_at": receipt.received_at.isoformat(),
        "issued_at": receipt.issued_at.isoformat(),
    }
    if args.json:
        print(json.dumps(facts, ensure_ascii=False, indent=2))
        return 0
    print(f"Valid receipt of {receipt.axis_name} ({receipt.axis_organ_id}):")
    for key, value in facts.items():
        if key not in ("valid", "axis"):
            print(f"  {key:18} {value}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    pins = _load_pins(args.cert)
    if args.archive is not None:
        with progress_bar("verifying archive", None, enabled=not args.json) as advance:
            result = verify_archive(args.archive, pinned=pins, progress=advance)
        extra = {"archive": str(args.archive)} | result.to_json()
        if not args.json and result.axis_cert is not None:
            cert = result.axis_cert
            axis, period = result.manifest["axis"], result.manifest["period"]
            print(
                f"Archive of {axis['name']} ({axis['organ_id']}), "
                f"period {period['from']} .. {period['to']}"
            )
            print(
                f"Axis certificate: {cert.subject.rfc4514_string()}\n"
                f"  SHA-256 {extra['axis_cert']['sha256']} "
                "(compare with the fingerprint the province publishes)"
            )
        return _print_report(result.chain, as_json=args.json, extra=extra)
    config = config_from_args(args)
    certs = [*pins, *axis_certificates(config)[:1]]

    async def main() -> ChainReport:
        store = await open_configured_store(config)
        try:
            n_events, _lo, _hi = await store_audit.count_events(store)
            n_docs = 0 if args.no_packets else await store_audit.count_documents(store)
            with progress_bar("verifying", n_events + n_docs, enabled=not args.json) as advance:
                return await store_audit.verify_store(
                    store, certs=certs, check_packets=not args.no_packets, progress=advance
                )
        finally:
            await store.close()

    return _print_report(asyncio.run(main()), as_json=args.json, extra=None)


async def export_archive(
    store: Store,
    out: Path,
    *,
    info: ArchiveInfo,
    certs: list[x509.Certificate],
    day_from: date | None,
    day_to: date | None,
) -> dict[str, Any]:
    """Export the events of the period (extended to the first signed head after it)."""
    since, until = day_bounds(day_from, day_to)
    count, first_id, last_id = await store_audit.count_events(store, since=since, until=until)
    if count == 0 or first_id is None or last_id is None:
        raise InputError("No audit events in that period.", code="audit.empty-period")
    heads = await store_audit.load_heads(store, first_event=first_id)
    covering = next((h for h in heads if h.event_id >= last_id), None)
    end_id = covering.event_id if covering is not None else last_id
    heads = [h for h in heads if h.event_id <= end_id]

    async def documents(ids: list[str]) -> list[store_audit.DocumentHash]:
        return await store_audit.documents_in(store, ids)

    return await write_archive(
        out,
        info=info,
        events=store_audit.event_batches(store, first_id=first_id, last_id=end_id),
        heads=heads,
        documents=documents,
        certs=certs,
    )


def _export(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    signer = load_axis_signer(config)
    certs = list(axis_certificates(config))

    async def main() -> dict[str, Any]:
        store = await open_configured_store(config)
        try:
            now = datetime.now(UTC)
            if signer is not None:
                await sign_head_now(store, signer, now)
            info = ArchiveInfo(
                axis_organ_id=config.axis.organ_id,
                axis_name=config.axis.name,
                period_from=args.day_from.isoformat() if args.day_from else None,
                period_to=args.day_to.isoformat() if args.day_to else None,
                created_at=now.isoformat(),
            )
            return await export_archive(
                store,
                args.output,
                info=info,
                certs=certs,
                day_from=args.day_from,
                day_to=args.day_to,
            )
        finally:
            await store.close()

    manifest = asyncio.run(main())
    print(
        f"Wrote {args.output}: events {manifest['first_event_id']}..{manifest['last_event_id']} "
        f"({manifest['events']}), {manifest['heads']} signed head(s), "
        f"{manifest['documents']} document hash(es)."
    )
    if not certs:
        print("warning: no audit.cert configured: the archive carries no axis certificate.")
    return 0


def _sign_head(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    signer = load_axis_signer(config)
    if signer is None:
        print("axis audit sign-head: audit.cert and audit.key are not configured.", file=sys.stderr)
        return 2

    async def main() -> Any:
        store = await open_configured_store(config)
        try:
            return await sign_head_now(store, signer, datetime.now(UTC))
        finally:
            await store.close()

    head = asyncio.run(main())
    if head is None:
        print("The chain head is already signed (or the chain is empty).")
    else:
        print(f"Signed the chain head: event {head.event_id} {head.hash}.")
    return 0


def _reverify(args: argparse.Namespace) -> int:
    from axis.reverify import reverify  # noqa: PLC0415 - pulls in the composition root

    config = config_from_args(args)
    since, until = day_bounds(args.day_from, args.day_to)
    job = f"reverify:{args.day_from}:{args.day_to}:{args.at}"

    async def main() -> Any:
        store = await open_configured_store(config)
        try:
            with progress_bar("re-verifying", None, enabled=not args.json) as advance:
                return await reverify(
                    store,
                    config,
                    since=since,
                    until=until,
                    at=args.at,
                    job=job,
                    batch=max(1, args.batch),
                    max_batches=args.max_batches,
                    restart=args.restart,
                    progress=advance,
                )
        finally:
            await store.close()

    result = asyncio.run(main())
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        state = "done" if result.done else "interrupted (run again to resume)"
        print(
            f"{result.checked} packet(s) re-verified ({state}"
            + (", resumed" if result.resumed else "")
            + f"); {len(result.changes)} verdict(s) would change."
        )
        for c in result.changes:
            print(f"  {c.document_id}  {c.sender_code}  {c.received_at}  {c.old} -> {c.new}")
            for reason in c.reasons[:2]:
                print(f"      {reason}")
    return 0 if not result.changes else 1
