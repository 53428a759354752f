"""Helpers shared by commands that touch a deployment (``--config FILE`` / AXIS_CONFIG)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from axis.config import Config, load_config
from axis.store import Store, open_configured_store

__all__ = ["add_config_argument", "config_from_args", "run_with_store"]

T = TypeVar("T")


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` (default: the AXIS_CONFIG environment variable, else none)."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        default=None,
        help="configuration file (TOML); default: $AXIS_CONFIG, else built-in defaults",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    path: Path | None = getattr(args, "config", None)
    return load_config(path)


def run_with_store(args: argparse.Namespace, body: Callable[[Store], Awaitable[T]]) -> T:
    """Open the configured store, run ``body`` with it, close it."""
    config = config_from_args(args)

    async def main() -> T:
        store = await open_configured_store(config)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())
