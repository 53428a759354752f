"""The packet commit's connection on SQLite: synchronous, and its hot inserts lean.

The group commit runs the whole transaction in one worker thread over a synchronous
SQLAlchemy connection (:class:`SyncAsAsync`, ADR 0014). Most of its statements are
multi-row INSERTs of the same few tables with the same columns, batch after batch.
Through ``Connection.execute`` each one costs SQLAlchemy's execution context, a
compiled-cache lookup and ``construct_params`` for every row; measured on a batch of 16
packets that is about a third of the commit's CPU, more than SQLite's own work.

:func:`insert_rows` keeps the statement SQLAlchemy compiled for a table and a set of
columns and hands the rows to the DBAPI cursor's ``executemany`` itself, each value
through its column type's bind processor (what SQLAlchemy would do). Only for the
tables in :data:`LEAN_TABLES`: their inserts have no Python-side defaults and no
listener but the audit chain's, which is applied here first (:func:`append_events`),
exactly as its ``before_execute`` hook would. :meth:`SyncAsAsync.execute` does the same
for the counter upserts that :func:`~axis.store.upserts.add_counts_upsert` built (no
defaults, no listener). Anything else, and every other dialect, goes through
``Connection.execute`` unchanged.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from axis.store import schema as t
from axis.store.audit import append_events, unlinked
from axis.store.upserts import is_counts_upsert

__all__ = ["LEAN_TABLES", "SyncAsAsync", "insert_rows", "run_without_loop"]

T = TypeVar("T")

#: the tables :func:`insert_rows` writes without ``Connection.execute``
LEAN_TABLES: Final = frozenset(
    {t.documents, t.packets, t.deliveries, t.events, t.attachment_verdicts}
)


_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class _Compiled:
    """An INSERT of one table for one tuple of column keys, compiled once."""

    sql: str
    #: a row's values in the order of the statement's placeholders (always a tuple)
    get: Callable[[dict[str, Any]], tuple[Any, ...]]
    #: (place, bind processor) of the values that need one (dates...)
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]


class SyncAsAsync:
    """The part of :class:`AsyncConnection` the packet commit uses, over a synchronous
    connection: its coroutines never suspend (see :func:`run_without_loop`)."""

    def __init__(self, conn: sa.Connection, compiled: dict[Any, _Compiled]) -> None:
        self._conn = conn
        self.dialect = conn.dialect
        self._compiled = compiled  # shared by the store's batches (one writer thread)
        #: rows sent straight to the cursor (tests check that the lean path is taken)
        self.lean_rows = 0

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if type(parameters) is list and parameters and is_counts_upsert(statement):
            self._many(statement, id(statement), parameters)  # built once, kept forever
            return None
        return self._conn.execute(statement, parameters)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self._conn.begin_nested():
            yield

    def insert_many(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        """``INSERT INTO table`` the rows (dicts with the same keys), in this transaction."""
        if table is t.events and unlinked(rows):
            append_events(self._conn, list(rows))  # what the chain's hook would do
        self._many(table.insert(), table.name, rows)

    def _many(self, statement: sa.Insert, name: object, rows: Sequence[dict[str, Any]]) -> None:
        """Execute the INSERT ``statement`` (``name``: what it is known by in the cache of
        compiled statements) once per row, straight on the DBAPI cursor."""
        first = rows[0].keys()
        if not all(r.keys() == first for r in rows):
            self._conn.execute(statement, list(rows))  # ragged rows: SQLAlchemy's way
            return
        keys = tuple(first)
        compiled = self._compiled.get((name, keys))
        if compiled is None:
            compiled = self._compile(statement, keys)
            self._compiled[(name, keys)] = compiled
        get, processed = compiled.get, compiled.processed
        if processed:
            values: list[Sequence[Any]] = []
            # A batch's rows repeat their times (a packet's received_at is the document's,
            # each delivery's created_at and next_attempt_at...): each distinct time of a
            # column is formatted once (UtcDateTime then SQLite's DATETIME: ~3 µs each).
            times: dict[tuple[int, datetime], Any] = {}
            for r in rows:
                row = list(get(r))
                for i, proc in processed:
                    value = row[i]
                    if value is None:
                        continue
                    if type(value) is datetime:
                        key = (i, value)
                        done = times.get(key, _MISSING)
                        if done is _MISSING:
                            done = times[key] = proc(value)
                        row[i] = done
                    else:
                        row[i] = proc(value)
                values.append(row)
        else:
            values = [get(r) for r in rows]
        cursor = self._conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, values)
        except sqlite3.Error as exc:
            # as SQLAlchemy would raise it (IntegrityError...), without the parameters
            raise sa.exc.DBAPIError.instance(
                compiled.sql, None, exc, sqlite3.Error, dialect=self.dialect
            ) from exc
        finally:
            cursor.close()
        self.lean_rows += len(rows)

    def _compile(self, statement: sa.Insert, keys: tuple[str, ...]) -> _Compiled:
        table = statement.table
        assert isinstance(table, sa.Table)
        compiled = statement.compile(dialect=self.dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(keys):  # pragma: no cover - a default column appeared
            raise RuntimeError(f"the INSERT into {table.name} binds {order}, not {keys}")
        # what SQLAlchemy applies: the type as this dialect implements it (a TypeDecorator
        # wraps the dialect's own DATETIME, which formats the text SQLite keeps)
        procs = [
            table.c[k].type.dialect_impl(self.dialect).bind_processor(self.dialect) for k in order
        ]
        processed = tuple((i, p) for i, p in enumerate(procs) if p is not None)
        get = operator.itemgetter(*order)
        if len(order) == 1:  # itemgetter of one key gives the value, not a tuple
            return _Compiled(compiled.string, lambda r: (get(r),), processed)
        return _Compiled(compiled.string, get, processed)


async def insert_rows(
    conn: AsyncConnection | SyncAsAsync, table: sa.Table, rows: Sequence[dict[str, Any]]
) -> None:
    """``INSERT INTO table`` these rows in ``conn``'s transaction: through the lean path
    of :class:`SyncAsAsync` for :data:`LEAN_TABLES`, else ``conn.execute``."""
    if not rows:
        return
    if table in LEAN_TABLES and isinstance(conn, SyncAsAsync):
        conn.insert_many(table, rows)
        return
    await conn.execute(table.insert(), list(rows))


def run_without_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends (it only awaits :class:`SyncAsAsync`)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coro.close()
    raise RuntimeError("a synchronous store coroutine tried to suspend")
