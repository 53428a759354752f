"""``axis directory``: changes to the directory that come from outside.

``axis directory sync --config FILE``
    sync the codes this axis routes to the national axis from its getAgenciesList: new
    agencies added, renamed ones updated, replaced or vanished ones closed (with their
    successor when ``oldCode`` names one). Never deletes. Prints what changed (JSON).

``axis directory reorganize FILE --config CONFIG``
    apply a reorganization file (CSV with a header, or JSON: ``old_code,new_code,date``
    and optional ``name``, ``tier``) in ONE transaction, audited: each old code closed
    with its successor and date; a new code created when the file names it. Refused
    whole (nothing written) when a row is wrong or a date is still in the future.

See ``axis.directory_changes`` for the rules.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from axis.commands._deployment import add_config_argument, config_from_args, run_with_store
from axis.directory_changes import DirectoryChanges, parse_reorganization
from axis.national import apply_reorganization, build_national_client, sync_directory
from axis.store import Store
from axis_errors import InputError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "directory",
        help="sync the directory from the national axis; apply a reorganization",
        description="Directory changes from outside: national sync, reorganization files.",
    )
    sub = parser.add_subparsers(dest="directory_command", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("sync", help="sync from the national axis's agency list, now")
    add_config_argument(p)
    p.set_defaults(func=_sync)
    p = sub.add_parser(
        "reorganize",
        help="apply a reorganization file (old_code,new_code,date[,name][,tier])",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="CSV or JSON")
    add_config_argument(p)
    p.set_defaults(func=_reorganize)


def _print(changes: DirectoryChanges) -> None:
    print(json.dumps(changes.summary(), ensure_ascii=False, indent=2))


def _sync(args: argparse.Namespace) -> int:
    config = config_from_args(args)

    async def body(store: Store) -> DirectoryChanges:
        client = build_national_client(config)
        try:
            return await sync_directory(store, client, config.routes, actor="cli")
        finally:
            await client.close()

    _print(run_with_store(args, body))
    return 0


def _reorganize(args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc}.", code="reorganize.unreadable") from None
    rows = parse_reorganization(text, filename=path.name)

    async def body(store: Store) -> DirectoryChanges:
        return await apply_reorganization(store, rows, actor="cli", source=str(path))

    _print(run_with_store(args, body))
    return 0
