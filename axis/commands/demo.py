"""``axis demo [--exit]``: the demonstration a newcomer watches (see ``axis.demo``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from axis.demo import run_demo


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="set up a development deployment for Lâm Đồng and drive a realistic exchange",
    )
    p.add_argument(
        "--dir",
        type=Path,
        default=Path("axis-data/demo"),
        help="where the demo keeps its PKI, config and database (default ./axis-data/demo)",
    )
    p.add_argument(
        "--port", type=int, default=None, help="TCP port (default 8080; with --exit a free one)"
    )
    p.add_argument("--exit", action="store_true", help="run the exchange once and exit (for CI)")
    p.set_defaults(func=demo)


def demo(args: argparse.Namespace) -> int:
    port = args.port if args.port is not None else (0 if args.exit else 8080)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_demo(args.dir, port=port, keep_serving=not args.exit))
    return 0
