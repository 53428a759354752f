"""``axis serve --config FILE``: run the daemon until interrupted."""

from __future__ import annotations

import argparse
import contextlib

from axis.app import run_server
from axis.commands._deployment import add_config_argument, config_from_args
from axis.eventloop import run
from axis.logs import configure_logging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the daemon (HTTP APIs, delivery, scheduler)")
    add_config_argument(p)
    p.add_argument(
        "--log-level", default=None, help="DEBUG, INFO, WARNING (default: log.level, INFO)"
    )
    p.set_defaults(func=serve)


def serve(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    configure_logging(config.log, level=args.log_level)

    def ready(url: str) -> None:
        print(
            f"axis: serving on {url} (VXP API at {url}{config.vxp.prefix}, "
            f"native API at {url}/api/v1)",
            flush=True,
        )

    with contextlib.suppress(KeyboardInterrupt):
        run(run_server(config, ready=ready))
    return 0
