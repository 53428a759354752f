"""The store's side of the national axis link and of directory changes.

- ``node_state``: small JSON values by key; the national poller keeps its health there
  (last poll, last success, backlog, last error) for the dashboard and the admin API.
- the lookup that recognises one of our own packets coming back from the national axis
  (:meth:`NationalStore.own_packet`);
- :meth:`NationalStore.apply_directory_changes`: a sync or a reorganization written in
  ONE transaction with its audit event (agencies upserted, closures recorded; nothing
  deleted).

Reached as ``NationalStore(store)``; SQLAlchemy stays inside ``axis.store``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from axis.directory import normalize_code
from axis.directory_changes import Closure, DirectoryChanges
from axis.store import schema as t

if TYPE_CHECKING:
    from axis.store.store import Store

__all__ = ["NationalStore"]


class NationalStore:
    """A view of a :class:`~axis.store.store.Store` for the national link."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # --- node state ------------------------------------------------------------------

    async def get_state(self, key: str) -> dict[str, Any] | None:
        """The JSON object stored under ``key``, or None."""
        async with self._store._read() as conn:
            row = (
                await conn.execute(sa.select(t.node_state.c.value).where(t.node_state.c.key == key))
            ).first()
        if row is None:
            return None
        value = json.loads(row[0])
        return value if isinstance(value, dict) else None

    async def put_state(self, key: str, value: Mapping[str, Any]) -> None:
        """Store a JSON object under ``key`` (replacing what was there)."""
        now = self._store._now()
        stmt = self._store._insert(t.node_state).values(
            key=key, value=json.dumps(dict(value), ensure_ascii=False, default=str), updated_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.node_state.c.key],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        async with self._store._write() as conn:
            await conn.execute(stmt)

    # --- packets -----------------------------------------------------------------------

    async def own_packet(self, sender_code: str, sha256: str) -> str | None:
        """The id of a stored packet of ``sender_code`` with exactly these bytes, if any.

        The national axis hands a province back the packets its own agencies sent to
        recipients of the same province (they were already delivered here): same sender,
        same bytes is that echo.
        """
        d = t.documents.c
        q = (
            sa.select(d.id)
            .where(d.sender_code == normalize_code(sender_code), d.packet_sha256 == sha256)
            .limit(1)
        )
        async with self._store._read() as conn:
            found = (await conn.execute(q)).scalar()
        return None if found is None else str(found)

    # --- directory -----------------------------------------------------------------------

    async def closures(self) -> dict[str, Closure]:
        """Every recorded closure, by code."""
        c = t.agency_closures.c
        async with self._store._read() as conn:
            rows = (
                await conn.execute(
                    sa.select(c.code, c.successor_code, c.closed_on, c.source).order_by(c.code)
                )
            ).all()
        return {r[0]: Closure(r[0], r[1], _as_date(r[2]), r[3]) for r in rows}

    async def apply_directory_changes(
        self,
        changes: DirectoryChanges,
        *,
        event: str,
        actor: str | None,
        detail: Mapping[str, Any],
    ) -> None:
        """Write ``changes`` and the audit event ``event`` in one transaction."""
        store = self._store
        now = store._now()
        rows = [store._agency_row(a, now) for a in changes.agencies]
        async with store._write() as conn:
            if rows:
                stmt = store._insert(t.agencies)
                updated = {
                    c: getattr(stmt.excluded, c)
                    for c in (
                        "name",
                        "tier",
                        "parent_code",
                        "status",
                        "successor_code",
                        "delivery_mode",
                        "push_url",
                        "updated_at",
                    )
                }
                await conn.execute(
                    stmt.on_conflict_do_update(index_elements=[t.agencies.c.code], set_=updated),
                    rows,
                )
            if changes.closures:
                cstmt = store._insert(t.agency_closures)
                cstmt = cstmt.on_conflict_do_update(
                    index_elements=[t.agency_closures.c.code],
                    set_={
                        "successor_code": cstmt.excluded.successor_code,
                        "closed_on": cstmt.excluded.closed_on,
                        "source": cstmt.excluded.source,
                        "recorded_at": cstmt.excluded.recorded_at,
                    },
                )
                await conn.execute(
                    cstmt,
                    [
                        {
                            "code": c.code,
                            "successor_code": c.successor,
                            "closed_on": c.closed_on,
                            "source": c.source,
                            "recorded_at": now,
                        }
                        for c in changes.closures
                    ],
                )
            await conn.execute(
                t.events.insert(), store._event_row(event, now, actor=actor, detail=detail)
            )


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
