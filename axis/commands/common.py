"""Helpers shared by the commands that touch a deployment (``--config`` / AXIS_CONFIG)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from axis.config import Config, load_config


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="configuration file (TOML); default $AXIS_CONFIG, else built-in defaults",
    )


def config_from_args(args: argparse.Namespace) -> Config:
    path: Path | None = args.config
    if path is None and os.environ.get("AXIS_CONFIG"):
        path = Path(os.environ["AXIS_CONFIG"])
    return load_config(path)
