"""``axis serve --config FILE``: run the daemon until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from axis.app import run_server
from axis.commands._deployment import add_config_argument, config_from_args


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the daemon (HTTP APIs, delivery, scheduler)")
    add_config_argument(p)
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    config = config_from_args(args)

    def ready(url: str) -> None:
        print(
            f"axis: serving on {url} (VXP API at {url}{config.vxp.prefix}, "
            f"native API at {url}/api/v1)",
            flush=True,
        )

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_server(config, ready=ready))
    return 0
