"""Statements built once and kept for the life of the process.

SQLAlchemy statements are immutable, so a statement the store runs on every commit can
be built on first use and reused: building one costs Python (an upsert's ``excluded``
proxies every column), and running a *known* statement lets the group commit's
connection on SQLite (:class:`axis.store.syncconn.SyncAsAsync`) skip SQLAlchemy's
execution machinery, which costs ~0.2 ms a statement in a commit, several times
SQLite's own work for a one-row read or a savepoint. Every dialect gets the same
statement; only that connection treats it differently.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["built_once", "is_built_once"]

S = TypeVar("S")

_BUILT: dict[Hashable, Any] = {}
_IDS: set[int] = set()  # of the statements in _BUILT (kept alive there, so ids are stable)


def built_once(key: Hashable, build: Callable[[], S]) -> S:
    """The statement known by ``key``, built by ``build()`` the first time it is asked for."""
    stmt = _BUILT.get(key)
    if stmt is None:
        stmt = _BUILT[key] = build()
        _IDS.add(id(stmt))
    return stmt


def is_built_once(statement: object) -> bool:
    """Whether ``statement`` is one that :func:`built_once` built (and keeps)."""
    return id(statement) in _IDS
