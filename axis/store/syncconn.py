"""The packet commit's connection on SQLite: synchronous, and its hot inserts lean.

The group commit runs the whole transaction in one worker thread over a synchronous
SQLAlchemy connection (:class:`SyncAsAsync`, ADR 0014). Most of its statements are
multi-row INSERTs of the same few tables with the same columns, batch after batch.
Through ``Connection.execute`` each one costs SQLAlchemy's execution context, a
compiled-cache lookup and ``construct_params`` for every row; measured on a batch of 16
packets that is about a third of the commit's CPU, more than SQLite's own work.

:func:`insert_rows` keeps the statement SQLAlchemy compiled for a table and a set of
columns and hands the rows to the DBAPI cursor itself, each value through its column
type's bind processor (what SQLAlchemy would do), as one multi-row ``VALUES`` list
(``executemany`` steps SQLite once a row, releasing the GIL around each step). Only for the
tables in :data:`LEAN_TABLES`: their inserts have no Python-side defaults and no
listener but the audit chain's, which is applied here first (:func:`append_events`),
exactly as its ``before_execute`` hook would. :meth:`SyncAsAsync.execute` does the same
for the other statements built once (:mod:`axis.store.once`): the counter upserts (no
defaults, no listener), and the commit's reads (the duplicate probe, the chain's head,
the last delivery id), compiled once and answered as plain tuples, when none of their
columns needs a result processor. Its savepoints are SQLite's own ``SAVEPOINT`` and
``RELEASE``. SQLAlchemy's execution costs ~0.2 ms a statement in a commit, several
times SQLite's work for a one-row read. Anything else, and every other dialect, goes
through ``Connection.execute`` unchanged.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from axis.store import schema as t
from axis.store.audit import append_events, unlinked
from axis.store.once import is_built_once

__all__ = [
    "LEAN_TABLES",
    "Rows",
    "SyncAsAsync",
    "SyncStatements",
    "insert_rows",
    "run_without_loop",
]

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
    #: the statement around its one row of placeholders, ``(before, row, after)``, to
    #: write several rows in one statement; None: one row at a time (``executemany``)
    rows: tuple[str, str, str] | None = None

    def for_rows(self, count: int) -> str:
        """The statement for ``count`` rows of values in one ``VALUES`` list."""
        assert self.rows is not None
        before, row, after = self.rows
        return f"{before} VALUES {', '.join([row] * count)}{after}"


#: the most values one multi-row INSERT binds (SQLite's oldest limit, whatever the build)
MAX_BOUND: Final = 999


@dataclass(frozen=True, slots=True)
class _Query:
    """A SELECT built once, compiled once for a dialect."""

    sql: str
    #: (name, value given when the statement was built or _MISSING, bind processor) of
    #: each placeholder, in order
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]


#: compiled reads by (dialect, id of a statement built once); None: not for the lean path
_QUERIES: dict[tuple[str, int], _Query | None] = {}


class Rows:
    """The rows of a lean read, as plain tuples: the part of SQLAlchemy's result the
    commit's reads use."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


class SyncStatements:
    """A :class:`SyncAsAsync`'s statements run synchronously, with its lean paths: what
    :func:`axis.store.audit.append_events` is given instead of the bare connection."""

    __slots__ = ("dialect", "execute")

    def __init__(self, lean: SyncAsAsync) -> None:
        self.dialect = lean.dialect
        self.execute = lean.run


class SyncAsAsync:
    """The part of :class:`AsyncConnection` the packet commit uses, over a synchronous
    connection: its coroutines never suspend (see :func:`run_without_loop`)."""

    def __init__(self, conn: sa.Connection, compiled: dict[Any, _Compiled]) -> None:
        self._conn = conn
        self.dialect = conn.dialect
        self._compiled = compiled  # shared by the store's batches (one writer thread)
        #: rows sent straight to the cursor (tests check that the lean path is taken)
        self.lean_rows = 0
        #: reads answered straight from the cursor (tests check that too)
        self.lean_reads = 0
        self._savepoints = 0

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.run(statement, parameters)

    def run(self, statement: Any, parameters: Any = None) -> Any:
        """:meth:`execute`, synchronously."""
        if is_built_once(statement):  # built once, kept forever: its id is stable
            if isinstance(statement, sa.Select):
                if parameters is None or isinstance(parameters, Mapping):
                    rows = self._query(statement, parameters or {})
                    if rows is not None:
                        return rows
            elif type(parameters) is list and parameters:
                self._many(statement, id(statement), parameters)
                return None
        return self._conn.execute(statement, parameters)

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        """A savepoint: released when the block ends, rolled back to if it raises."""
        dbapi = self._dbapi()
        if not dbapi.in_transaction:
            # SAVEPOINT outside a transaction would start one that RELEASE commits
            raise sa.exc.InvalidRequestError("The commit's transaction is no longer open.")
        self._savepoints += 1
        name = f"axis_savepoint_{self._savepoints}"
        self._raw(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._raw(f"ROLLBACK TO SAVEPOINT {name}")
            self._raw(f"RELEASE SAVEPOINT {name}")
            raise
        self._raw(f"RELEASE SAVEPOINT {name}")

    def _dbapi(self) -> sqlite3.Connection:
        return cast(sqlite3.Connection, self._conn.connection.dbapi_connection)

    def _raw(self, sql: str, values: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` on the DBAPI cursor, failing as SQLAlchemy would (no values)."""
        cursor = self._dbapi().cursor()
        try:
            cursor.execute(sql, values)
            return cursor.fetchall()
        except sqlite3.Error as exc:
            raise self._error(sql, exc) from exc
        finally:
            cursor.close()

    def _error(self, sql: str, exc: sqlite3.Error) -> sa.exc.StatementError:
        """``exc`` as SQLAlchemy would raise it (IntegrityError...), without the values."""
        return sa.exc.DBAPIError.instance(sql, None, exc, sqlite3.Error, dialect=self.dialect)

    def _query(self, statement: sa.Select[Any], parameters: Mapping[str, Any]) -> Rows | None:
        key = (self.dialect.name, id(statement))
        query = _QUERIES.get(key, _MISSING)
        if query is _MISSING:
            query = _QUERIES[key] = _compile_query(statement, self.dialect)
        if query is None:
            return None
        assert isinstance(query, _Query)
        values = []
        for name, given, proc in query.binds:
            value = parameters.get(name, given)
            if value is _MISSING:
                raise sa.exc.InvalidRequestError(
                    f"A value is required for bind parameter {name!r}."
                )
            values.append(value if proc is None or value is None else proc(value))
        rows = Rows(self._raw(query.sql, values))
        self.lean_reads += 1
        return rows

    def insert_many(self, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
        """``INSERT INTO table`` the rows (dicts with the same keys), in this transaction."""
        if table is t.events and unlinked(rows):
            # what the chain's hook would do, its reads on the lean path
            append_events(SyncStatements(self), list(rows))
        self._many(table.insert(), table.name, rows)

    def _many(self, statement: sa.Insert, name: object, rows: Sequence[dict[str, Any]]) -> None:
        """Execute the INSERT ``statement`` (``name``: what it is known by in the cache of
        compiled statements) for these rows, straight on the DBAPI cursor: in one
        multi-row statement where it can be, else once a row."""
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
        cursor = self._dbapi().cursor()
        sql = compiled.sql
        try:
            if compiled.rows is None or len(values) == 1:
                cursor.executemany(sql, values)
            else:
                # Several rows in one statement: SQLite steps it once, where executemany
                # steps once a row, and sqlite3 lets go of the GIL around each step; each
                # time the event loop took it, this thread slept, then waited for a core.
                per = max(1, MAX_BOUND // len(keys))
                for i in range(0, len(values), per):
                    chunk = values[i : i + per]
                    sql = compiled.for_rows(len(chunk))
                    cursor.execute(sql, [v for row in chunk for v in row])
        except sqlite3.Error as exc:
            raise self._error(sql, exc) from exc
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
        sql = compiled.string
        row = "(" + ", ".join("?" * len(order)) + ")"
        parts = sql.split(f" VALUES {row}")
        # only when the row of placeholders is there exactly once, as SQLite's compiler
        # writes it (an upsert's ON CONFLICT clause follows it unchanged)
        rows = (parts[0], row, parts[1]) if len(parts) == 2 else None
        get = operator.itemgetter(*order)
        if len(order) == 1:  # itemgetter of one key gives the value, not a tuple
            return _Compiled(sql, lambda r: (get(r),), processed, rows)
        return _Compiled(sql, get, processed, rows)


def _compile_query(statement: sa.Select[Any], dialect: sa.Dialect) -> _Query | None:
    """The statement's SQL and placeholders, or None when it needs what only SQLAlchemy's
    execution does: a result processor (dates...), an expanding or post-compiled bind."""
    for column in statement.selected_columns:
        if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
            return None
    compiled = statement.compile(dialect=dialect)
    if not compiled.positional or "POSTCOMPILE" in compiled.string:
        return None
    binds = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        if bind.expanding:
            return None
        given = _MISSING if bind.required else bind.effective_value
        binds.append((name, given, bind.type.dialect_impl(dialect).bind_processor(dialect)))
    return _Query(compiled.string, tuple(binds))


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
