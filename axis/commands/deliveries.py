"""``axis deliveries``: the delivery queues for admins (list, show, retry, retry-all,
queues), and ``axis agencies set-delivery`` (push with a signing secret, or pull).

Actions are audited in the store with the actor ``admin`` (the CLI runs on the server
with the deployment's configuration). A running daemon picks requeued deliveries up at
its next sweep (``delivery.sweep_interval``).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from axis.commands._deployment import add_config_argument, run_with_store
from axis.credentials import new_secret
from axis.directory import normalize_code
from axis.store import Store
from axis.store.deliveries import (
    Attempt,
    QueuedDelivery,
    QueueStats,
    destination_of,
)
from axis_errors import InputError

__all__ = ["add_set_delivery", "register"]

STATES = ("pending", "fetched", "acked", "failed", "dead")


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


# --- axis agencies set-delivery ----------------------------------------------------------


def add_set_delivery(sub: Any) -> None:
    """Add ``set-delivery`` to the ``axis agencies`` sub-commands."""
    p = sub.add_parser(
        "set-delivery",
        help="receive by push (signed POSTs to a URL) or by pull (the inbox)",
        description=(
            "Make an agency receive by push: the axis POSTs each packet to URL, signed with "
            "HMAC-SHA256 (header X-Axis-Signature) under the agency's secret, printed once. "
            "Or by pull: packets wait in its inbox (pending ones stay there)."
        ),
    )
    p.add_argument("code", metavar="CODE")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--push", metavar="URL", help="the agency's endpoint (http or https)")
    mode.add_argument("--pull", action="store_true", help="receive through the inbox")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--secret", metavar="S", help="use this signing secret (push)")
    secret.add_argument(
        "--generate-secret",
        action="store_true",
        help="generate a new signing secret (the default when none is stored yet)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    add_config_argument(p)
    p.set_defaults(func=_set_delivery)


def _set_delivery(args: argparse.Namespace) -> int:
    code = normalize_code(args.code)
    if args.pull and (args.secret or args.generate_secret):
        raise InputError("--secret and --generate-secret go with --push.", code="input.bad-param")
    if args.secret is not None and len(args.secret) < 16:
        raise InputError(
            "A push secret must be at least 16 characters.", code="agencies.weak-secret"
        )

    async def body(store: Store) -> str | None:
        if args.pull:
            await store.set_pull_delivery(code, actor="admin")
            return None
        secret: str | None = args.secret
        if secret is None:
            current = await store.push_target(code)
            if args.generate_secret or current is None or current.secret is None:
                secret = new_secret()
        await store.set_push_delivery(code, args.push, secret, actor="admin")
        return secret

    secret = run_with_store(args, body)
    if args.pull:
        if args.json:
            _print_json({"code": code, "delivery": "pull"})
        else:
            print(f"Agency {code} now receives by pull (its inbox).")
        return 0
    destination = destination_of("local", args.push)
    if args.json:
        _print_json(
            {
                "code": code,
                "delivery": "push",
                "url": args.push,
                "destination": destination,
                "secret": secret,
            }
        )
        return 0
    print(f"Agency {code} now receives by push at {args.push} (queue {destination}).")
    if secret is not None:
        print(f"secret: {secret}")
        print("Shown once: the receiver checks X-Axis-Signature with it (see adapters.webhook).")
    else:
        print("The stored signing secret is kept.")
    return 0


# --- axis deliveries ---------------------------------------------------------------------


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "deliveries",
        help="delivery queues: list, show, retry dead letters",
        description="Delivery queues (push endpoints, the national axis, inboxes) for admins.",
    )
    sub = parser.add_subparsers(dest="deliveries_command", metavar="ACTION")
    sub.required = True

    p = sub.add_parser("queues", help="every destination: depth, oldest, rate, dead, paused")
    p.add_argument("--include-pull", action="store_true", help="also pull inboxes")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_config_argument(p)
    p.set_defaults(func=_queues)

    p = sub.add_parser("list", help="deliveries of a destination and/or in a state")
    p.add_argument("--destination", metavar="D", help="'national', an origin, 'inbox:<code>'")
    p.add_argument("--state", choices=STATES)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--after", type=int, metavar="ID", help="only larger delivery ids")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_config_argument(p)
    p.set_defaults(func=_list)

    p = sub.add_parser("show", help="one delivery with every attempt")
    p.add_argument("delivery_id", type=int, metavar="ID")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_config_argument(p)
    p.set_defaults(func=_show)

    p = sub.add_parser("retry", help="retry a dead letter now")
    p.add_argument("delivery_id", type=int, metavar="ID")
    add_config_argument(p)
    p.set_defaults(func=_retry)

    p = sub.add_parser("retry-all", help="retry every dead letter of a destination now")
    p.add_argument("--destination", required=True, metavar="D")
    add_config_argument(p)
    p.set_defaults(func=_retry_all)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _queues(args: argparse.Namespace) -> int:
    async def body(store: Store) -> list[QueueStats]:
        return await store.queue_stats(datetime.now(UTC), include_pull=args.include_pull)

    stats = run_with_store(args, body)
    if args.json:
        _print_json([s.as_dict() for s in stats])
        return 0
    print(f"{'destination':<40} {'mode':<8} {'pending':>7} {'oldest':>7} {'1h':>5} {'dead':>5}")
    for s in stats:
        state = "PAUSED" if s.paused else "ok"
        print(
            f"{s.destination:<40} {s.mode:<8} {s.pending:>7} {_age(s.oldest_pending_age):>7} "
            f"{s.delivered_last_hour:>5} {s.dead:>5}  {state}"
            + (f"  {s.last_error}" if s.paused and s.last_error else "")
        )
    return 0


def _line(d: QueuedDelivery) -> str:
    error = f"  {d.last_error}" if d.last_error else ""
    return (
        f"{d.delivery_id:>8} {d.state:<8} {d.attempts:>3} {d.target_code:<16} "
        f"{d.destination}{error}"
    )


def _list(args: argparse.Namespace) -> int:
    async def body(store: Store) -> list[QueuedDelivery]:
        return await store.list_deliveries(
            destination=args.destination, state=args.state, limit=args.limit, after_id=args.after
        )

    items = run_with_store(args, body)
    if args.json:
        _print_json([d.as_dict() for d in items])
        return 0
    for d in items:
        print(_line(d))
    print(f"{len(items)} deliveries")
    return 0


def _show(args: argparse.Namespace) -> int:
    async def body(store: Store) -> tuple[QueuedDelivery, list[Attempt]]:
        return (
            await store.get_delivery(args.delivery_id),
            await store.delivery_history(args.delivery_id),
        )

    item, attempts = run_with_store(args, body)
    if args.json:
        _print_json({"delivery": item.as_dict(), "attempts": [a.as_dict() for a in attempts]})
        return 0
    print(_line(item))
    for a in attempts:
        result = "ok" if a.ok else f"{a.error_code}: {a.error or ''}"
        took = f" {a.duration_ms} ms" if a.duration_ms is not None else ""
        print(f"  #{a.attempt} {a.at:%Y-%m-%d %H:%M:%S}{took}  {result}")
    return 0


def _retry(args: argparse.Namespace) -> int:
    async def body(store: Store) -> bool:
        return await store.requeue(args.delivery_id, actor="admin")

    if run_with_store(args, body):
        print(f"Delivery {args.delivery_id} is pending again; it is retried at the next sweep.")
        return 0
    print(f"Delivery {args.delivery_id} is not a dead letter; nothing changed.")
    return 1


def _retry_all(args: argparse.Namespace) -> int:
    async def body(store: Store) -> int:
        return await store.requeue_destination(args.destination, actor="admin")

    count = run_with_store(args, body)
    print(f"{count} dead letters of {args.destination} are pending again.")
    return 0
