"""Counter upserts built once: ``INSERT ... ON CONFLICT (key) DO UPDATE SET count = count +
excluded.count`` for a counter table, per dialect.

Building one of these statements is costly in Python (``excluded`` makes a proxy of
every column of the table) and the group commit runs five of them per batch; each
(dialect, table, key) is built on first use and reused (:mod:`axis.store.once`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from axis.store.once import built_once

__all__ = ["add_counts_upsert"]


def add_counts_upsert(
    dialect: str, insert: Callable[[sa.Table], Any], table: sa.Table, key: Sequence[str]
) -> Any:
    """The statement adding each row's ``count`` to the row of ``table`` with the same
    ``key`` columns (inserting it when absent). ``insert`` is the dialect's ``insert``."""

    def build() -> Any:
        base = insert(table)
        return base.on_conflict_do_update(
            index_elements=[table.c[c] for c in key],
            set_={"count": table.c.count + base.excluded.count},
        )

    return built_once(("counts-upsert", dialect, table.name, tuple(key)), build)
