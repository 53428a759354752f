"""``axis national``: the link of this provincial axis to the national axis.

``axis national poll --config FILE``    poll the national axis once, now (documents and
                                         statuses), exactly as the daemon's schedule does;
                                         prints the poll's report as JSON; exit 0 when every
                                         listed item was handled, 1 when some were left for
                                         the next poll (the report says why)
``axis national status --config FILE``  the link's health as last recorded (JSON)

Safe beside a running daemon on the same database: items are taken with the duplicate
rule, so two pollers at once store each packet once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from axis.app import build_services
from axis.commands._deployment import add_config_argument, config_from_args, run_with_store
from axis.national import national_health
from axis.store import Store
from axis_errors import ConfigError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "national",
        help="the link to the national axis (poll now, health)",
        description="The link of this axis to the national VXP axis.",
    )
    sub = parser.add_subparsers(dest="national_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("poll", help="poll the national axis once, now")
    add_config_argument(p)
    p.set_defaults(func=_poll)
    p = sub.add_parser("status", help="the link's health as last recorded")
    add_config_argument(p)
    p.set_defaults(func=_status)


def _poll(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if not config.national.enabled:
        raise ConfigError(
            "national.endpoint is not set: this axis has no national axis to poll.",
            code="config.national-missing",
        )

    async def main() -> dict[str, Any]:
        services = await build_services(config)
        try:
            assert services.national is not None
            report = await services.national.poll()
            return report.as_dict()
        finally:
            if services.national is not None:
                await services.national.close()
            await services.store.close()

    report = asyncio.run(main())
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if report["ok"] else 1


def _status(args: argparse.Namespace) -> int:
    async def body(store: Store) -> dict[str, Any]:
        return await national_health(store)

    print(json.dumps(run_with_store(args, body), ensure_ascii=False, indent=2))
    return 0
