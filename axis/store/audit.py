"""The audit chain in the database: chained appends, signed heads, the walk, exports.

Every event row goes through :func:`append_events` (the store's ``_append_events``),
inside the transaction that writes what the event records. Appends are serialized:

- SQLite has one writer (``BEGIN IMMEDIATE`` + the store's write lock); the group
  commit appends the events of a whole batch in order, in one statement;
- PostgreSQL: ``pg_advisory_xact_lock`` (held until COMMIT) before reading the head.
  Appending is the last statement of every transaction that appends, so a transaction
  holding the lock never waits for anything but its own commit.

Ids: SQLite takes ``max(id) + 1`` (one writer); PostgreSQL draws them from the
table's sequence after taking the lock, so chain order is id order on both.

The pure parts (canonical form, hashes, the verifier) are :mod:`axis.auditchain`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from sqlalchemy.ext.asyncio import AsyncEngine

from axis.auditchain import (
    GENESIS,
    ChainEvent,
    ChainReport,
    ChainVerifier,
    SignedHead,
    link,
    sign_head,
)
from axis.store import schema as t
from axis.store.once import built_once
from axis_errors import StoreError

if TYPE_CHECKING:
    from axis.store.store import Store

__all__ = [
    "DocumentHash",
    "append_events",
    "chain_head",
    "count_documents",
    "count_events",
    "documents_in",
    "event_batches",
    "install_audit_chain",
    "load_cursor",
    "load_heads",
    "packets_between",
    "save_cursor",
    "sign_current_head",
    "unlinked",
    "verify_store",
]

CHAIN_LOCK: Final = 7271002  # pg_advisory_xact_lock key of the audit chain
_E = t.events.c


def install_audit_chain(engine: AsyncEngine | sa.Engine) -> None:
    """Chain every ``INSERT INTO events`` executed through ``engine`` (the store's
    writer): whoever writes an event, in whatever module, gets it linked."""
    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    sa.event.listen(sync, "before_execute", _chain_inserts, retval=True)


def _chain_inserts(
    conn: sa.Connection,
    elem: Any,
    multiparams: list[dict[str, Any]],
    params: dict[str, Any],
    execution_options: Any,
) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    if not isinstance(elem, sa.Insert) or elem.table is not t.events:
        return elem, multiparams, params
    rows = [dict(r) for r in multiparams] if multiparams else [dict(params)] if params else []
    if not unlinked(rows):
        return elem, multiparams, params
    append_events(conn, rows)
    return (elem, [], rows[0]) if len(rows) == 1 else (elem, rows, {})


def unlinked(rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether these event rows are still to be linked (:func:`append_events`): some
    row has no ``hash`` yet."""
    return bool(rows) and not all(r.get("hash") for r in rows)


class Executes(Protocol):
    """What :func:`append_events` runs its statements on: a SQLAlchemy connection, or
    the group commit's (:class:`axis.store.syncconn.SyncStatements`)."""

    @property
    def dialect(self) -> sa.Dialect: ...

    def execute(self, statement: Any, parameters: Any = None) -> Any: ...


def _chain_end() -> sa.Select[Any]:
    """The last event, chained or not (built once: run on every commit)."""
    return built_once(
        "audit.chain-end", lambda: sa.select(_E.id, _E.hash).order_by(_E.id.desc()).limit(1)
    )


def append_events(conn: Executes, rows: list[dict[str, Any]]) -> None:
    """Link event rows (``Store._event_row`` dicts), in order, after the chain head, in
    the caller's transaction: fills ``id``, ``packet_sha256`` (from the document when the
    row names one and has none), ``prev_hash`` and ``hash``. The caller inserts them."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(CHAIN_LOCK)))
    last = conn.execute(_chain_end()).first()
    prev = GENESIS
    if last is not None:
        prev = (
            last[1]
            or conn.execute(
                sa.select(_E.hash).where(_E.hash.is_not(None)).order_by(_E.id.desc()).limit(1)
            ).scalar()
            or GENESIS
        )
    for r in rows:
        r.setdefault("node", None)
        r.setdefault("document_id", None)
        r.setdefault("agency_code", None)
        r.setdefault("actor", None)
        r.setdefault("detail", "{}")
        r.setdefault("packet_sha256", None)
    wanted = sorted({r["document_id"] for r in rows if r["document_id"] and not r["packet_sha256"]})
    if wanted:
        d = t.documents.c
        found = dict(conn.execute(sa.select(d.id, d.packet_sha256).where(d.id.in_(wanted))).all())
        for r in rows:
            if r["document_id"] and not r["packet_sha256"]:
                r["packet_sha256"] = found.get(r["document_id"])
    if dialect == "postgresql":
        ids = sorted(
            int(i)
            for i in conn.execute(
                sa.text(
                    "SELECT nextval(pg_get_serial_sequence('events', 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"n": len(rows)},
            ).scalars()
        )
        link(rows, prev_hash=prev, first_id=ids)
    else:
        link(rows, prev_hash=prev, first_id=(last[0] if last is not None else 0) + 1)


# --------------------------------------------------------------------- heads


async def chain_head(store: Store) -> tuple[int, str] | None:
    """The last chained event: (id, hash), or None for an empty chain."""
    async with store._read() as conn:
        row = (
            await conn.execute(
                sa.select(_E.id, _E.hash)
                .where(_E.hash.is_not(None))
                .order_by(_E.id.desc())
                .limit(1)
            )
        ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _head(row: Any) -> SignedHead:
    m = row._mapping
    return SignedHead(
        event_id=int(m["event_id"]),
        hash=m["hash"],
        at=m["at"],
        cert_sha256=m["cert_sha256"],
        algorithm=m["algorithm"],
        signature=bytes.fromhex(m["signature"]),
    )


async def load_heads(
    store: Store, *, first_event: int | None = None, last_event: int | None = None
) -> list[SignedHead]:
    """Signed heads in event order (optionally those naming events in a range)."""
    h = t.signed_heads.c
    q = sa.select(t.signed_heads).order_by(h.event_id, h.id)
    if first_event is not None:
        q = q.where(h.event_id >= first_event)
    if last_event is not None:
        q = q.where(h.event_id <= last_event)
    async with store._read() as conn:
        return [_head(r) for r in (await conn.execute(q)).all()]


async def sign_current_head(
    store: Store, key: PrivateKeyTypes, cert: x509.Certificate, *, at: datetime
) -> SignedHead | None:
    """Sign the chain head unless it is signed already. None for an empty chain."""
    head = await chain_head(store)
    if head is None:
        return None
    h = t.signed_heads.c
    async with store._read() as conn:
        done = (
            await conn.execute(sa.select(h.id).where(h.event_id == head[0], h.hash == head[1]))
        ).first()
    if done is not None:
        return None
    signed = sign_head(key, cert, head[0], head[1], at)
    async with store._write() as conn:
        await conn.execute(
            t.signed_heads.insert(),
            {
                "event_id": signed.event_id,
                "hash": signed.hash,
                "at": signed.at,
                "cert_sha256": signed.cert_sha256,
                "algorithm": signed.algorithm,
                "signature": signed.signature.hex(),
            },
        )
    return signed


# --------------------------------------------------------------------- reading


_EVENT_COLUMNS: Final = (
    _E.id,
    sa.type_coerce(_E.at, sa.String).label("at"),  # raw: SQLite text, PostgreSQL datetime
    _E.kind,
    _E.node,
    _E.document_id,
    _E.agency_code,
    _E.actor,
    _E.detail,
    _E.packet_sha256,
    _E.prev_hash,
    _E.hash,
)


async def count_events(
    store: Store, *, since: datetime | None = None, until: datetime | None = None
) -> tuple[int, int | None, int | None]:
    """(count, first id, last id) of the events, optionally within a time range."""
    q = sa.select(sa.func.count(), sa.func.min(_E.id), sa.func.max(_E.id))
    if since is not None:
        q = q.where(_E.at >= since)
    if until is not None:
        q = q.where(_E.at < until)
    async with store._read() as conn:
        n, lo, hi = (await conn.execute(q)).one()
    return int(n), lo, hi


async def event_batches(
    store: Store, *, first_id: int = 0, last_id: int | None = None, batch: int = 5000
) -> AsyncIterator[list[ChainEvent]]:
    """Events with ``first_id <= id <= last_id`` in id order, a batch per read
    transaction (a long walk never holds one snapshot open). The next batch is read
    while the caller works on this one."""

    async def fetch(after: int) -> list[Any]:
        q = sa.select(*_EVENT_COLUMNS).where(_E.id > after).order_by(_E.id).limit(batch)
        if last_id is not None:
            q = q.where(_E.id <= last_id)
        async with store._read() as conn:
            return list((await conn.execute(q)).all())

    task: asyncio.Future[list[Any]] = asyncio.ensure_future(fetch(first_id - 1))
    try:
        while True:
            rows = await task
            if not rows:
                return
            more = len(rows) == batch
            if more:
                task = asyncio.ensure_future(fetch(rows[-1][0]))
            yield [ChainEvent._make(r) for r in rows]
            if not more:
                return
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@dataclass(frozen=True, slots=True)
class DocumentHash:
    document_id: str
    packet_sha256: str
    sender_code: str
    received_at: datetime
    verdict: str

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "packet_sha256": self.packet_sha256,
            "sender_code": self.sender_code,
            "received_at": self.received_at.isoformat(),
            "verdict": self.verdict,
        }


async def documents_in(store: Store, document_ids: Sequence[str]) -> list[DocumentHash]:
    """The stored hash (and a few facts) of these documents."""
    d = t.documents.c
    out: list[DocumentHash] = []
    ids = sorted(set(document_ids))
    async with store._read() as conn:
        for i in range(0, len(ids), 500):
            rows = await conn.execute(
                sa.select(d.id, d.packet_sha256, d.sender_code, d.received_at, d.verdict)
                .where(d.id.in_(ids[i : i + 500]))
                .order_by(d.id)
            )
            out.extend(DocumentHash(*r) for r in rows)
    return out


# --------------------------------------------------------------------- the walk


async def verify_store(
    store: Store,
    *,
    certs: Sequence[x509.Certificate],
    check_packets: bool = True,
    progress: Callable[[int], None] | None = None,
    batch: int = 5000,
    max_problems: int = 100,
) -> ChainReport:
    """Walk the whole chain, the signed heads and (``check_packets``) every stored packet.

    Finds: edited, deleted, reordered and unchained events; heads whose signature fails
    or whose event is gone or different; events whose packet hash differs from the
    document's; packets whose bytes no longer match the document's hash; documents
    with no ``packet.accepted`` event. ``progress`` is called with the number of items
    (events, then documents) just checked.
    """
    _n, _lo, last_id = await count_events(store)
    verifier = ChainVerifier(heads=await load_heads(store), max_problems=max_problems)
    async for events in event_batches(store, last_id=last_id, batch=batch):
        verifier.feed(events)
        if progress is not None:
            progress(len(events))
    verifier.check_heads(certs)
    await _check_packet_links(store, verifier, last_id)
    if check_packets:
        await _check_packet_bytes(store, verifier, progress)
    return verifier.report


async def _check_packet_links(store: Store, verifier: ChainVerifier, last_id: int | None) -> None:
    d, e = t.documents.c, _E
    mismatched = (
        sa.select(e.id, e.document_id, e.kind)
        .select_from(t.events.join(t.documents, d.id == e.document_id))
        .where(e.packet_sha256.is_not(None), e.packet_sha256 != d.packet_sha256)
        .order_by(e.id)
        .limit(1000)
    )
    accepted = (
        sa.select(e.id)
        .where(e.document_id == d.id, e.kind == "packet.accepted")
        .correlate(t.documents)
        .exists()
    )
    unaudited = sa.select(d.id).where(~accepted).order_by(d.id).limit(1000)
    async with store._read() as conn:
        rows = (await conn.execute(mismatched)).all()
        lonely = (await conn.execute(unaudited)).scalars().all() if last_id is not None else []
    for event_id, document_id, kind in rows:
        verifier.problem(
            "packet-mismatch",
            event_id,
            f"Event {event_id} ({kind}) names a packet hash that differs from the one stored "
            f"for document {document_id}: the document row was edited.",
            document_id,
        )
    for document_id in lonely:
        verifier.problem(
            "document-unaudited",
            None,
            f"Document {document_id} has no packet.accepted event: it was inserted around "
            "the audit trail, or its event was deleted.",
            document_id,
        )


async def _check_packet_bytes(
    store: Store, verifier: ChainVerifier, progress: Callable[[int], None] | None
) -> None:
    d, p = t.documents.c, t.packets.c
    after = ""
    while True:
        q = (
            sa.select(d.id, d.packet_sha256, p.document_id, *store.PACKET_COLUMNS)
            .select_from(t.documents.outerjoin(t.packets, p.document_id == d.id))
            .where(d.id > after)
            .order_by(d.id)
            .limit(200)
        )
        async with store._read() as conn:
            rows = (await conn.execute(q)).all()
        for document_id, expected, stored, *where in rows:
            verifier.report.documents_checked += 1
            data = None
            if stored is not None:
                # a row pointing into a segment file that lacks its bytes stays None
                with contextlib.suppress(StoreError):
                    data = store.packet_bytes(*where)
            if data is None:
                verifier.problem(
                    "packet-missing",
                    None,
                    f"The original bytes of document {document_id} are gone.",
                    document_id,
                )
            elif hashlib.sha256(data).hexdigest() != expected:
                verifier.problem(
                    "packet-mismatch",
                    None,
                    f"The stored bytes of document {document_id} no longer match their "
                    "SHA-256: the packet was altered.",
                    document_id,
                )
        if progress is not None and rows:
            progress(len(rows))
        if len(rows) < 200:
            return
        after = rows[-1][0]


async def count_documents(store: Store) -> int:
    async with store._read() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(t.documents))).scalar_one()
        )


def event_json_line(event: ChainEvent) -> str:
    return json.dumps(event.to_json(), ensure_ascii=False, separators=(",", ":"))


def heads_json(heads: Sequence[SignedHead]) -> list[Mapping[str, Any]]:
    return [h.to_json() for h in heads]


# --------------------------------------------------------------------- re-verification


@dataclass(frozen=True, slots=True)
class StoredPacket:
    document_id: str
    sender_code: str
    received_at: datetime
    verdict: str
    signer_subject: str | None
    data: bytes


async def packets_between(
    store: Store,
    *,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[StoredPacket]:
    """Stored packets received in [since, until), in (received_at, id) order after the
    keyset ``after``: one short read transaction per call."""
    d, p = t.documents.c, t.packets.c
    q = (
        sa.select(
            d.id, d.sender_code, d.received_at, d.verdict, d.signer_subject, *store.PACKET_COLUMNS
        )
        .select_from(t.documents.join(t.packets, p.document_id == d.id))
        .order_by(d.received_at, d.id)
        .limit(limit)
    )
    if since is not None:
        q = q.where(d.received_at >= since)
    if until is not None:
        q = q.where(d.received_at < until)
    if after is not None:
        q = q.where(
            sa.or_(d.received_at > after[0], sa.and_(d.received_at == after[0], d.id > after[1]))
        )
    async with store._read() as conn:
        rows = (await conn.execute(q)).all()
    return [StoredPacket(r[0], r[1], r[2], r[3], r[4], store.packet_bytes(*r[5:9])) for r in rows]


async def load_cursor(store: Store, name: str) -> dict[str, Any] | None:
    """The saved state of a resumable job, if any."""
    c = t.job_cursors.c
    async with store._read() as conn:
        text = (await conn.execute(sa.select(c.state).where(c.name == name))).scalar()
    return None if text is None else dict(json.loads(text))


async def save_cursor(store: Store, name: str, state: Mapping[str, Any] | None) -> None:
    """Save (or, with None, forget) a job's state: one tiny write transaction."""
    c = t.job_cursors.c
    async with store._write() as conn:
        await conn.execute(t.job_cursors.delete().where(c.name == name))
        if state is not None:
            await conn.execute(
                t.job_cursors.insert(),
                {
                    "name": name,
                    "state": json.dumps(state, ensure_ascii=False, default=str),
                    "updated_at": datetime.now(UTC),
                },
            )
