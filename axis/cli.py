"""The ``axis`` command line. Sub-commands live in ``axis.commands.*``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from axis_errors import AxisError

# Each module exposes register(subparsers); order is the order of --help.
COMMAND_MODULES: tuple[str, ...] = (
    "axis.commands.validate",
    "axis.commands.signing",
    "axis.commands.pki",
    "axis.commands.serve",
    "axis.commands.national",
    "axis.commands.directory",
    "axis.commands.demo",
    "axis.commands.agencies",
    "axis.commands.systems",
    "axis.commands.audit",
    "axis.commands.report",
    "axis.commands.admin",
    "axis.commands.deliveries",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="axis",
        description="Axis — trục liên thông văn bản điện tử (edXML / QCVN 102:2016).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # not written yet; its own import errors still surface
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except AxisError as exc:
        print(f"axis: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
