"""Counter upserts built once: ``INSERT ... ON CONFLICT (key) DO UPDATE SET count = count +
excluded.count`` for a counter table, per dialect.

Building one of these statements is costly in Python (``excluded`` makes a proxy of
every column of the table) and the group commit runs five of them per batch; SQLAlchemy
statements are immutable, so each (dialect, table, key) is built on first use and reused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["add_counts_upsert", "is_counts_upsert"]

_BUILT: dict[tuple[str, str, tuple[str, ...]], Any] = {}
_BUILT_IDS: set[int] = set()  # of the statements in _BUILT (kept alive there)


def add_counts_upsert(
    dialect: str, insert: Callable[[sa.Table], Any], table: sa.Table, key: Sequence[str]
) -> Any:
    """The statement adding each row's ``count`` to the row of ``table`` with the same
    ``key`` columns (inserting it when absent). ``insert`` is the dialect's ``insert``."""
    cache_key = (dialect, table.name, tuple(key))
    stmt = _BUILT.get(cache_key)
    if stmt is None:
        base = insert(table)
        stmt = base.on_conflict_do_update(
            index_elements=[table.c[c] for c in key],
            set_={"count": table.c.count + base.excluded.count},
        )
        _BUILT[cache_key] = stmt
        _BUILT_IDS.add(id(stmt))
    return stmt


def is_counts_upsert(statement: object) -> bool:
    """Whether ``statement`` is one that :func:`add_counts_upsert` built."""
    return id(statement) in _BUILT_IDS
