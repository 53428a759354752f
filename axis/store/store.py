"""The store: every durable fact of the axis, behind async methods on plain values.

SQLAlchemy (Core) and all dialect-specific SQL stay in this package. Two engines:

- **SQLite** (embedded default): WAL journal, ``synchronous=FULL`` (a commit survives a
  power cut), foreign keys on, ``busy_timeout``, case-sensitive ``LIKE``. Writes go
  through ONE connection opened with ``BEGIN IMMEDIATE`` and an ``asyncio.Lock`` (SQLite
  has one writer anyway; taking the write lock up front avoids upgrade deadlocks with
  other processes such as the CLI). Reads use a pool of connections and see a snapshot.
- **PostgreSQL** (asyncpg): one pool for both; the duplicate race between nodes is
  settled by ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING``.

Counters are incremented by ``INSERT ... ON CONFLICT DO UPDATE SET count = count + n``
in the same transaction as the event they count. Their ``day`` is the date in
Asia/Ho_Chi_Minh (UTC+7) of the event's time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from axis.credentials import SecretBox, hash_token, validate_system_id
from axis.directory import TIERS, Agency, is_valid_code, normalize_code, validate_pattern
from axis.jsontext import dumps_sorted
from axis.store import deliveries as _dq
from axis.store import schema as t
from axis.store.attachments import record_attachments
from axis.store.audit import install_audit_chain
from axis.store.models import (
    AgencyCert,
    Committed,
    CounterRow,
    DeliveryInfo,
    Direction,
    DocumentRecord,
    InboxItem,
    NewDelivery,
    NewPacket,
    NewSystem,
    Refusal,
    Scope,
    System,
    TraceEvent,
    counter_day,
    utcnow,
)
from axis.store.once import built_once
from axis.store.packetfiles import PacketFiles, packet_dir
from axis.store.sigcounts import count_signatures
from axis.store.syncconn import SyncAsAsync, insert_rows, run_without_loop
from axis.store.upserts import add_counts_upsert
from axis_errors import AxisError, ConfigError, InputError, NotFoundError, StoreError

if TYPE_CHECKING:
    from axis.breaker import BreakerState
    from axis.retry import Decision
    from axis.store.deliveries import Attempt, Claim, PushTarget, QueuedDelivery, QueueStats
    from axis.store.users import UserStore
    from axis.transport import DeliveryJob, DeliveryOutcome

__all__ = ["Store", "open_store"]

_SCHEMA_NAME_RE: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_OPEN_STATES: Final = ("pending", "fetched")
_ROLES: Final = ("agency", "auditor", "admin")
CounterKey = tuple[date, str, str, Direction, str, Scope]
T = TypeVar("T")


def _like(pattern: str) -> str:
    out = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return out.replace("*", "%").replace("?", "_")


def _codes_clause(column: sa.ColumnElement[Any], patterns: Sequence[str]) -> sa.ColumnElement[bool]:
    """SQL for "column matches one of these codes or globs" (never true for none)."""
    exact: list[str] = []
    clauses: list[sa.ColumnElement[bool]] = []
    for raw in patterns:
        p = normalize_code(raw)
        if "*" in p or "?" in p:
            clauses.append(column.like(_like(p), escape="\\"))
        else:
            exact.append(p)
    if exact:
        clauses.append(column.in_(exact))
    return sa.or_(*clauses) if clauses else sa.false()


def _fingerprint(value: str) -> str:
    """A SHA-256 fingerprint as stored: lowercase hex, colons and blanks removed."""
    return value.replace(":", "").replace(" ", "").lower()


def _none_if_empty(value: str) -> str | None:
    return value or None


class Store:
    """The axis's database. Create with :func:`open_store`; close with :meth:`close`."""

    def __init__(
        self,
        *,
        read_engine: AsyncEngine,
        write_engine: AsyncEngine,
        box: SecretBox | None,
        node: str | None,
        now: Callable[[], datetime],
        group_commit: bool = True,
        quick: _QuickReads | None = None,
        batch_writer: sa.Engine | None = None,
        packet_files: PacketFiles | None = None,
    ) -> None:
        self._read_engine = read_engine
        # SQLite: the original bytes go to segment files (axis.store.packetfiles)
        self._packet_files = packet_files
        # SQLite: group commits run in ONE thread hop on this synchronous connection
        # (see _commit_batch) instead of one aiosqlite round trip per statement.
        self._batch_writer = batch_writer
        self._lean_inserts: dict[Any, Any] = {}  # SyncAsAsync's compiled INSERTs
        #: rows the group commits sent through SyncAsAsync's lean path, and reads it
        #: answered there (tests)
        self.lean_rows = 0
        self.lean_reads = 0
        self._quick = quick
        self._write_engine = write_engine
        self._dialect = write_engine.dialect.name
        self._box = box
        self._node = node
        self._now = now
        self._write_lock: asyncio.Lock | None = (
            asyncio.Lock() if self._dialect == "sqlite" else None
        )
        # SQLite has one writer and each commit waits for an fsync: packets arriving
        # while a commit is in flight are committed together in the next transaction.
        self._batcher: _GroupCommit | None = (
            _GroupCommit(self._commit_batch) if group_commit and self._dialect == "sqlite" else None
        )

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._dialect

    @property
    def users(self) -> UserStore:
        """Dashboard users and their web sessions (:mod:`axis.store.users`)."""
        from axis.store.users import UserStore  # noqa: PLC0415 - users imports this module

        return UserStore(self)

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.drain()
        await self._write_engine.dispose()
        if self._read_engine is not self._write_engine:
            await self._read_engine.dispose()
        if self._quick is not None:
            self._quick.dispose()
        if self._batch_writer is not None:
            self._batch_writer.dispose()
        if self._packet_files is not None:
            self._packet_files.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- plumbing ----------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (committed on normal exit). The request's directory
        generation is forgotten: its next lookups read what it wrote."""
        try:
            if self._write_lock is not None:
                async with self._write_lock, self._write_engine.begin() as conn:
                    yield conn
            else:
                async with self._write_engine.begin() as conn:
                    yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc) from exc
        finally:
            _forget_request_generation()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        """One read-only transaction (a consistent snapshot)."""
        try:
            async with self._read_engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc) from exc

    async def _lookup(
        self, key: Hashable, queries: Callable[[], Sequence[sa.Select[Any]]]
    ) -> list[list[Any]]:
        """The rows of each query, all from one snapshot: small reads by an indexed key
        of the directory tables (an agency, a system, its patterns or certificates) that
        intake and authentication make for every request. ``key`` names the lookup
        with its parameters; ``queries`` builds the statements (only when they run).
        On SQLite they are answered by :class:`_QuickReads`; elsewhere through the
        async read engine."""
        if self._quick is not None:
            return self._quick.read(key, queries)
        async with self._read() as conn:
            return [list((await conn.execute(q)).all()) for q in queries()]

    def _insert(self, table: sa.Table) -> Any:
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def _count(self, conn: AsyncConnection, increments: Mapping[CounterKey, int]) -> None:
        """Upsert counter increments (keys unique, so one statement per batch is safe)."""
        if not increments:
            return
        rows = [
            {
                "day": k[0],
                "agency_code": k[1],
                "tier": k[2],
                "direction": k[3],
                "verdict": k[4],
                "scope": k[5],
                "count": n,
            }
            for k, n in sorted(increments.items())
        ]
        stmt = add_counts_upsert(
            self._dialect,
            self._insert,
            t.counters,
            ("day", "agency_code", "tier", "direction", "verdict", "scope"),
        )
        await conn.execute(stmt, rows)

    def _event_row(
        self,
        kind: str,
        at: datetime,
        *,
        document_id: str | None = None,
        agency_code: str | None = None,
        actor: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "at": at,
            "kind": kind,
            "node": self._node,
            "document_id": document_id,
            "agency_code": agency_code,
            "actor": actor,
            "detail": dumps_sorted(dict(detail or {})),
        }

    async def record_event(
        self,
        kind: str,
        *,
        document_id: str | None = None,
        agency_code: str | None = None,
        actor: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Append an audit event of its own (admin actions: imports, new systems...).

        ``detail`` must never hold a secret.
        """
        async with self._write() as conn:
            await conn.execute(
                t.events.insert(),
                self._event_row(
                    kind,
                    self._now(),
                    document_id=document_id,
                    agency_code=agency_code,
                    actor=actor,
                    detail=detail,
                ),
            )

    # --- agencies ----------------------------------------------------------------------

    def _agency_row(self, agency: Agency, now: datetime) -> dict[str, Any]:
        code = normalize_code(agency.code)
        if not is_valid_code(code) or agency.tier not in TIERS:
            raise InputError(
                f"Agency {agency.code!r} has an invalid code or tier.",
                code="agencies.invalid",
                details={"code": agency.code},
            )
        return {
            "code": code,
            "name": agency.name,
            "tier": agency.tier,
            "parent_code": agency.parent,
            "status": agency.status,
            "successor_code": agency.successor,
            "delivery_mode": agency.delivery_mode,
            "push_url": agency.push_url,
            "created_at": now,
            "updated_at": now,
        }

    async def upsert_agencies(self, agencies: Iterable[Agency]) -> int:
        """Insert or update agencies in one transaction; returns how many were written."""
        now = self._now()
        rows = [self._agency_row(a, now) for a in agencies]
        if not rows:
            return 0
        stmt = self._insert(t.agencies)
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
        stmt = stmt.on_conflict_do_update(index_elements=[t.agencies.c.code], set_=updated)
        async with self._write() as conn:
            await conn.execute(stmt, rows)
        return len(rows)

    async def upsert_agency(self, agency: Agency) -> None:
        """Insert or update one agency (its certificates are kept)."""
        await self.upsert_agencies([agency])

    @staticmethod
    def _agency(row: sa.Row[Any]) -> Agency:
        m = row._mapping
        return Agency(
            code=m["code"],
            name=m["name"],
            tier=m["tier"],
            parent=m["parent_code"],
            status=m["status"],
            successor=m["successor_code"],
            delivery_mode=m["delivery_mode"],
            push_url=m["push_url"],
        )

    async def get_agency(self, code: str) -> Agency | None:
        code = normalize_code(code)
        (rows,) = await self._lookup(
            ("agency", code), lambda: [sa.select(t.agencies).where(t.agencies.c.code == code)]
        )
        return self._agency(rows[0]) if rows else None

    async def list_agencies(
        self,
        *,
        tier: str | None = None,
        status: str | None = None,
        parent: str | None = None,
        codes: Sequence[str] | None = None,
    ) -> list[Agency]:
        """Agencies ordered by code, optionally filtered (``codes`` may hold globs)."""
        q = sa.select(t.agencies).order_by(t.agencies.c.code)
        if tier is not None:
            q = q.where(t.agencies.c.tier == tier)
        if status is not None:
            q = q.where(t.agencies.c.status == status)
        if parent is not None:
            q = q.where(t.agencies.c.parent_code == normalize_code(parent))
        if codes is not None:
            q = q.where(_codes_clause(t.agencies.c.code, codes))
        async with self._read() as conn:
            rows = (await conn.execute(q)).all()
        return [self._agency(r) for r in rows]

    async def add_agency_cert(self, code: str, cert: bytes | str) -> AgencyCert:
        """Register a signing certificate (PEM or DER) for an agency.

        Adding the same certificate twice to the same agency is harmless; a certificate
        already registered to another agency is refused (``agencies.cert-taken``).
        """
        code = normalize_code(code)
        data = cert.encode("ascii", "replace") if isinstance(cert, str) else cert
        try:
            if b"-----BEGIN" in data:
                parsed = x509.load_pem_x509_certificate(data)
            else:
                parsed = x509.load_der_x509_certificate(data)
        except ValueError:
            raise InputError(
                f"The certificate given for agency {code} is not a PEM or DER X.509 certificate.",
                code="agencies.bad-cert",
                details={"code": code},
            ) from None
        info = AgencyCert(
            agency_code=code,
            sha256=parsed.fingerprint(hashes.SHA256()).hex(),
            subject=parsed.subject.rfc4514_string(),
            not_after=parsed.not_valid_after_utc,
        )
        pem = parsed.public_bytes(serialization.Encoding.PEM).decode("ascii")
        async with self._write() as conn:
            if (
                await conn.execute(sa.select(t.agencies.c.code).where(t.agencies.c.code == code))
            ).first() is None:
                raise NotFoundError(
                    f"Agency {code} is not in the directory.",
                    code="agencies.not-found",
                    details={"code": code},
                )
            owner = (
                await conn.execute(
                    sa.select(t.agency_certs.c.agency_code).where(
                        t.agency_certs.c.sha256 == info.sha256
                    )
                )
            ).scalar()
            if owner == code:
                return info
            if owner is not None:
                raise InputError(
                    f"This certificate is already registered to agency {owner}.",
                    code="agencies.cert-taken",
                    details={"code": code, "owner": owner, "sha256": info.sha256},
                )
            now = self._now()
            await conn.execute(
                t.agency_certs.insert(),
                {
                    "agency_code": code,
                    "sha256": info.sha256,
                    "subject": info.subject,
                    "not_after": info.not_after,
                    "pem": pem,
                    "added_at": now,
                },
            )
            await conn.execute(
                t.events.insert(),
                self._event_row(
                    "agency.cert-added",
                    now,
                    agency_code=code,
                    detail={"sha256": info.sha256, "subject": info.subject},
                ),
            )
        return info

    async def list_agency_certs(self, code: str) -> list[AgencyCert]:
        c = t.agency_certs.c
        code = normalize_code(code)
        (rows,) = await self._lookup(
            ("agency-certs", code),
            lambda: [
                sa.select(c.agency_code, c.sha256, c.subject, c.not_after)
                .where(c.agency_code == code)
                .order_by(c.id)
            ],
        )
        return [AgencyCert(r[0], r[1], r[2], r[3]) for r in rows]

    async def agency_cert_fingerprints(self, code: str) -> frozenset[str]:
        """SHA-256 (lowercase hex) of every certificate registered to the agency."""
        return frozenset(c.sha256 for c in await self.list_agency_certs(code))

    async def agency_for_cert(self, sha256: str) -> str | None:
        """The agency a certificate is registered to, if any."""
        async with self._read() as conn:
            return cast(
                "str | None",
                (
                    await conn.execute(
                        sa.select(t.agency_certs.c.agency_code).where(
                            t.agency_certs.c.sha256 == _fingerprint(sha256)
                        )
                    )
                ).scalar(),
            )

    # --- systems -----------------------------------------------------------------------

    async def add_system(self, new: NewSystem) -> System:
        """Create a system: secret encrypted, token hashed. ``systems.exists`` if taken."""
        if self._box is None:
            raise ConfigError(
                "The store was opened without a security key: systems cannot be added.",
                code="config.no-secret-key",
            )
        system_id = validate_system_id(new.id)
        if new.role not in _ROLES:
            raise InputError(
                f"Role {new.role!r} is not one of {', '.join(_ROLES)}.",
                code="systems.bad-role",
            )
        patterns = tuple(dict.fromkeys(validate_pattern(p) for p in new.patterns))
        if not patterns and new.role == "agency":
            raise InputError(
                "An agency system must act for at least one agency.",
                code="systems.no-agency",
            )
        now = self._now()
        async with self._write() as conn:
            exists = (
                await conn.execute(sa.select(t.systems.c.id).where(t.systems.c.id == system_id))
            ).first()
            if exists is not None:
                raise InputError(
                    f"System {system_id} already exists.",
                    code="systems.exists",
                    details={"systemid": system_id},
                )
            await conn.execute(
                t.systems.insert(),
                {
                    "id": system_id,
                    "name": new.name,
                    "role": new.role,
                    "secret_enc": self._box.seal(new.secret, context=system_id),
                    "token_sha256": hash_token(new.token),
                    "client_cert_sha256": (
                        _fingerprint(new.client_cert_sha256) if new.client_cert_sha256 else None
                    ),
                    "created_at": now,
                    "disabled": False,
                },
            )
            if patterns:
                await conn.execute(
                    t.system_agencies.insert(),
                    [{"system_id": system_id, "pattern": p} for p in patterns],
                )
            await conn.execute(
                t.events.insert(),
                self._event_row(
                    "system.added",
                    now,
                    actor="admin",
                    detail={"systemid": system_id, "role": new.role, "patterns": list(patterns)},
                ),
            )
        return System(
            id=system_id,
            name=new.name,
            role=new.role,
            patterns=patterns,
            client_cert_sha256=new.client_cert_sha256,
            created_at=now,
            disabled=False,
        )

    async def _systems(
        self, key: Hashable, where: Callable[[], sa.ColumnElement[bool]] | None = None
    ) -> list[System]:
        """The systems ``where`` selects (built only when the lookup runs)."""

        def queries() -> list[sa.Select[Any]]:
            s = t.systems.c
            q = sa.select(
                s.id, s.name, s.role, s.client_cert_sha256, s.created_at, s.disabled
            ).order_by(s.id)
            a = t.system_agencies.c
            pq = sa.select(a.system_id, a.pattern).order_by(a.system_id, a.pattern)
            if where is not None:
                q = q.where(where())
                pq = pq.where(a.system_id.in_(sa.select(s.id).where(where())))
            return [q, pq]

        rows, pats = await self._lookup(key, queries)
        by_system: dict[str, list[str]] = {}
        for sid, pat in pats:
            by_system.setdefault(sid, []).append(pat)
        return [
            System(
                id=r[0],
                name=r[1],
                role=r[2],
                patterns=tuple(by_system.get(r[0], ())),
                client_cert_sha256=r[3],
                created_at=r[4],
                disabled=bool(r[5]),
            )
            for r in rows
        ]

    async def get_system(self, system_id: str) -> System | None:
        found = await self._systems(("system", system_id), lambda: t.systems.c.id == system_id)
        return found[0] if found else None

    async def list_systems(self) -> list[System]:
        return await self._systems(("systems",))

    async def find_system_by_token(self, token: str) -> System | None:
        """The enabled system whose bearer token this is (lookup by its SHA-256)."""
        digest = hash_token(token)
        found = await self._systems(
            ("token", digest),
            lambda: sa.and_(t.systems.c.token_sha256 == digest, t.systems.c.disabled.is_(False)),
        )
        return found[0] if found else None

    async def find_system_by_client_cert(self, sha256: str) -> System | None:
        """The enabled system registered with this client certificate (mTLS)."""
        fingerprint = _fingerprint(sha256)
        found = await self._systems(
            ("client-cert", fingerprint),
            lambda: sa.and_(
                t.systems.c.client_cert_sha256 == fingerprint,
                t.systems.c.disabled.is_(False),
            ),
        )
        return found[0] if found else None

    async def get_system_secret(self, system_id: str) -> str | None:
        """The HMAC secret of an enabled system (decrypted), or None."""
        if self._box is None:
            raise ConfigError(
                "The store was opened without a security key: secrets cannot be read.",
                code="config.no-secret-key",
            )
        (rows,) = await self._lookup(
            ("secret", system_id),
            lambda: [
                sa.select(t.systems.c.secret_enc).where(
                    t.systems.c.id == system_id, t.systems.c.disabled.is_(False)
                )
            ],
        )
        return self._box.open(bytes(rows[0][0]), context=system_id) if rows else None

    async def set_system_disabled(self, system_id: str, disabled: bool = True) -> None:
        async with self._write() as conn:
            res = await conn.execute(
                t.systems.update().where(t.systems.c.id == system_id).values(disabled=disabled)
            )
            if res.rowcount == 0:
                raise NotFoundError(
                    f"System {system_id} does not exist.",
                    code="systems.not-found",
                    details={"systemid": system_id},
                )
            await conn.execute(
                t.events.insert(),
                self._event_row(
                    "system.disabled" if disabled else "system.enabled",
                    self._now(),
                    actor="admin",
                    detail={"systemid": system_id},
                ),
            )

    # --- packets -----------------------------------------------------------------------

    #: what a reader selects from ``packets`` to get a packet's bytes (:meth:`packet_bytes`)
    PACKET_COLUMNS: Final = (
        t.packets.c.data,
        t.packets.c.file_segment,
        t.packets.c.file_offset,
        t.packets.c.file_length,
    )

    def packet_bytes(
        self, data: bytes | None, segment: int | None, offset: int | None, length: int | None
    ) -> bytes:
        """A packet's original bytes from its ``PACKET_COLUMNS`` (in the row, or in a
        segment file). ``StoreError`` ``store.packet-missing`` if the file lacks them."""
        if segment is None:
            return bytes(data or b"")
        if self._packet_files is None or offset is None or length is None:
            raise StoreError(
                "A packet's bytes are in a segment file this store does not keep.",
                code="store.packet-missing",
            )
        return self._packet_files.read(segment, offset, length)

    async def _find_dups(self, conn: AsyncConnection, keys: Sequence[str]) -> dict[str, Committed]:
        """The stored packets among these dedup keys, by key."""
        found: dict[str, Committed] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), _DUP_PROBE_MAX):
            chunk = unique[i : i + _DUP_PROBE_MAX]
            stmt, params = _dup_probe(chunk)
            rows = await conn.execute(stmt, params)
            for key, doc_id, answer in rows:
                found[key] = Committed(document_id=doc_id, answer=json.loads(answer), created=False)
        return found

    async def commit_packet(self, p: NewPacket) -> Committed:
        """Store an accepted packet in ONE transaction, or find it already there.

        A packet whose ``dedup_key`` is known writes nothing and returns the original
        answer with ``created=False`` (also when two commits of the same key race).
        Otherwise: the document, its bytes, one delivery per distinct target (later
        duplicates of a target are dropped), the counters (one ``sent`` for the sender,
        scope ``national`` if any recipient goes national; one ``received`` per local
        target) and the event ``packet.accepted``. Returns only after the commit.

        On SQLite, packets committed concurrently share one transaction (group commit);
        each caller still gets its own result or its own exception.
        """
        if self._batcher is not None:
            return await self._batcher.submit(p)
        if self._batch_writer is not None:  # SQLite without group commit: a batch of one
            result = (await self._commit_batch([p]))[0]
            if isinstance(result, BaseException):
                raise result
            return result
        async with self._write() as conn:
            return await self._commit_one(conn, p)

    async def _commit_one(self, conn: AsyncConnection, p: NewPacket) -> Committed:
        dup = (await self._find_dups(conn, [p.dedup_key])).get(p.dedup_key)
        if dup is not None:
            return dup
        related = await self._related(conn, p)
        stmt = (
            self._insert(t.documents)
            .values(self._document_row(p, related))
            .on_conflict_do_nothing(index_elements=[t.documents.c.dedup_key])
            .returning(t.documents.c.id)
        )
        if (await conn.execute(stmt)).first() is None:
            # Lost a race (PostgreSQL: another node committed the same key while we
            # waited on its row lock). Nothing was written; in READ COMMITTED this
            # new statement sees the winner's row.
            dup = (await self._find_dups(conn, [p.dedup_key])).get(p.dedup_key)
            if dup is None:  # pragma: no cover - the other side rolled back
                raise StoreError(
                    "A concurrent commit of the same packet neither won nor lost.",
                    code="store.conflict",
                )
            return dup
        await self._write_packet_rest(conn, [(p, related)])
        return Committed(document_id=p.document_id, answer=dict(p.answer), created=True)

    async def _commit_batch(self, packets: Sequence[NewPacket]) -> list[Committed | BaseException]:
        """Commit several packets in ONE transaction (SQLite, under the write lock).

        Fast path: a handful of multi-row statements for the whole batch. If it fails,
        its savepoint is rolled back and each packet is tried in a savepoint of its own,
        so that a failing packet fails alone with its own exception.

        With a batch writer (SQLite) the whole transaction, COMMIT and fsync included,
        runs in one worker thread: a handful of thread hops per statement through
        aiosqlite, each waiting for a CPU on a busy machine, made a batch take tens of
        milliseconds of wall time for a few of CPU. The write lock is held meanwhile.
        """
        if self._batch_writer is not None and self._write_lock is not None:
            async with self._write_lock:
                return await asyncio.to_thread(self._commit_batch_sync, packets)
        async with self._write() as conn:
            return await self._commit_batch_in(conn, packets)

    def _commit_batch_sync(self, packets: Sequence[NewPacket]) -> list[Committed | BaseException]:
        """:meth:`_commit_batch_in` in one synchronous transaction (a worker thread)."""
        assert self._batch_writer is not None
        try:
            with self._batch_writer.begin() as sync_conn:  # BEGIN IMMEDIATE ... COMMIT
                lean = SyncAsAsync(sync_conn, self._lean_inserts)
                results = run_without_loop(
                    self._commit_batch_in(cast(AsyncConnection, lean), packets)
                )
                self.lean_rows += lean.lean_rows
                self.lean_reads += lean.lean_reads
                if self._packet_files is not None:
                    # the bytes are durable before the rows that point at them commit
                    self._packet_files.sync()
                return results
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc) from exc

    async def _commit_batch_in(
        self, conn: AsyncConnection, packets: Sequence[NewPacket]
    ) -> list[Committed | BaseException]:
        try:
            async with conn.begin_nested():
                return list(await self._commit_bulk(conn, packets))
        except Exception:  # noqa: S110 - retried one by one below, errors kept
            pass
        out: list[Committed | BaseException] = []
        for p in packets:
            try:
                async with conn.begin_nested():
                    out.append(await self._commit_one(conn, p))
            except sa.exc.SQLAlchemyError as exc:
                out.append(_store_error(exc))
            except Exception as exc:
                out.append(exc)
        return out

    async def _commit_bulk(
        self, conn: AsyncConnection, packets: Sequence[NewPacket]
    ) -> list[Committed]:
        # The write lock is held (BEGIN IMMEDIATE): what we read cannot change under us.
        known = await self._find_dups(conn, [p.dedup_key for p in packets])
        results: list[Committed] = []
        first: dict[str, Committed] = {}
        new: list[tuple[NewPacket, str | None]] = []
        for p in packets:
            if p.dedup_key in known:
                results.append(known[p.dedup_key])
            elif p.dedup_key in first:  # the same packet twice in this batch
                results.append(dataclasses.replace(first[p.dedup_key], created=False))
            else:
                done = Committed(document_id=p.document_id, answer=dict(p.answer), created=True)
                first[p.dedup_key] = done
                results.append(done)
                new.append((p, await self._related(conn, p)))
        if new:
            await insert_rows(conn, t.documents, [self._document_row(p, rel) for p, rel in new])
            await self._write_packet_rest(conn, new)
        return results

    async def _related(self, conn: AsyncConnection, p: NewPacket) -> str | None:
        """The axis id of the document a status/revocation names (ResponseFor), if stored."""
        if not p.response_for:
            return None
        q = (
            sa.select(t.documents.c.id)
            .where(
                t.documents.c.edxml_document_id == p.response_for,
                t.documents.c.kind == "document",
            )
            .order_by(t.documents.c.received_at.desc())
            .limit(1)
        )
        if p.response_for_organ:
            q = q.where(t.documents.c.sender_code == normalize_code(p.response_for_organ))
        return cast("str | None", (await conn.execute(q)).scalar())

    @staticmethod
    def _document_row(p: NewPacket, related: str | None) -> dict[str, Any]:
        return {
            "id": p.document_id,
            "kind": p.kind,
            "sender_code": p.sender_code,
            "system_id": p.system_id,
            "edxml_document_id": p.edxml_document_id,
            "business_type": p.business_type,
            "status_code": p.status_code,
            "response_for": p.response_for,
            "response_for_organ": p.response_for_organ,
            "related_document_id": related,
            "subject": p.subject,
            "code_number": p.code_number,
            "code_notation": p.code_notation,
            "dedup_key": p.dedup_key,
            "received_at": p.received_at,
            "verdict": p.verdict,
            "verdict_reasons": dumps_sorted(list(p.verdict_reasons)),
            "signer_sha256": p.signer_sha256,
            "signer_subject": p.signer_subject,
            "signer_organ_id": p.signer_organ_id,
            "issuer": p.issuer,
            "algorithm": p.algorithm,
            "packet_sha256": p.sha256(),
            "size": len(p.data),
            "answer": dumps_sorted(dict(p.answer)),
            "request_id": p.request_id,
        }

    async def _write_packet_rest(
        self, conn: AsyncConnection, new: Sequence[tuple[NewPacket, str | None]]
    ) -> None:
        """Bytes, deliveries, counters and events of packets whose documents rows exist."""
        if self._packet_files is not None:  # SQLite: appended to a segment file, one write
            places = self._packet_files.append([p.data for p, _ in new])
            packet_rows = [
                {
                    "document_id": p.document_id,
                    "data": b"",
                    "file_segment": segment,
                    "file_offset": offset,
                    "file_length": len(p.data),
                }
                for (p, _), (segment, offset) in zip(new, places, strict=True)
            ]
        else:
            packet_rows = [{"document_id": p.document_id, "data": p.data} for p, _ in new]
        await insert_rows(conn, t.packets, packet_rows)
        wanted: list[list[NewDelivery]] = []
        delivery_rows: list[dict[str, Any]] = []
        for p, _ in new:
            seen: set[str] = set()
            mine = []
            for d in p.deliveries:
                if d.target_code not in seen:
                    seen.add(d.target_code)
                    mine.append(d)
            wanted.append(mine)
            delivery_rows.extend(
                {
                    "document_id": p.document_id,
                    "recipient_code": d.recipient_code,
                    "target_code": d.target_code,
                    "target_tier": d.target_tier,
                    "route": d.route,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": p.received_at,
                    "created_at": p.received_at,
                }
                for d in mine
            )
        ids: list[int] = []
        if delivery_rows and self._dialect == "sqlite":
            # The write lock is held (BEGIN IMMEDIATE, one writer): number the rows here
            # and insert them in ONE statement; RETURNING in parameter order would make
            # SQLAlchemy send one INSERT per row (each an aiosqlite round trip).
            top = (await conn.execute(_last_delivery_id())).scalar()
            ids = list(range((top or 0) + 1, (top or 0) + 1 + len(delivery_rows)))
            await insert_rows(
                conn,
                t.deliveries,
                [row | {"id": i} for row, i in zip(delivery_rows, ids, strict=True)],
            )
        elif delivery_rows:
            res = await conn.execute(
                t.deliveries.insert().returning(t.deliveries.c.id, sort_by_parameter_order=True),
                delivery_rows,
            )
            ids = [r[0] for r in res.all()]
        inc: Counter[CounterKey] = Counter()
        events = []
        pos = 0
        recipient_tiers = await count_signatures(
            conn, self._insert, [(p, mine) for (p, _), mine in zip(new, wanted, strict=True)]
        )
        await record_attachments(  # PDF attachment verdicts and their counters
            conn, self._insert, [(p, rt) for (p, _), rt in zip(new, recipient_tiers, strict=True)]
        )
        for (p, related), mine, rtiers in zip(new, wanted, recipient_tiers, strict=True):
            my_ids = ids[pos : pos + len(mine)]
            pos += len(mine)
            day = counter_day(p.received_at)
            scope: Scope = "national" if any(d.route == "national" for d in mine) else "internal"
            receipts = [(d.target_code, d.target_tier or "") for d in mine if d.route == "local"]
            inc[(day, p.sender_code, p.sender_tier or "", "sent", p.verdict, scope)] += 1
            for code, tier in receipts:
                inc[(day, code, tier, "received", p.verdict, "internal")] += 1
            detail: dict[str, Any] = {
                "kind": p.kind,
                "edxml_document_id": p.edxml_document_id,
                "business_type": p.business_type,
                "status_code": p.status_code,
                "response_for": p.response_for,
                "related_document_id": related,
                "sender_tier": p.sender_tier,
                "verdict": p.verdict,
                "scope": scope,
                "receipts": [list(r) for r in receipts],
                "deliveries": [
                    {
                        "id": i,
                        "recipient": d.recipient_code,
                        "target": d.target_code,
                        "route": d.route,
                        "via_successor": list(d.via_successor),
                    }
                    for i, d in zip(my_ids, mine, strict=True)
                ],
                "size": len(p.data),
                "sha256": p.sha256(),
                "notes": list(p.notes),
                "recipient_tiers": list(rtiers),
                "signer_sha256": p.signer_sha256,
            }
            if p.attachment_verdicts:  # in the chain: what each PDF's signature was found
                detail["attachments"] = [
                    {"name": v.name, "sha256": v.sha256, "verdict": v.verdict}
                    for v in p.attachment_verdicts
                ]
            row = self._event_row(
                "packet.accepted",
                p.received_at,
                document_id=p.document_id,
                agency_code=p.sender_code,
                actor=p.system_id,
                detail=detail,
            )
            events.append(row | {"packet_sha256": detail["sha256"]})
        await self._count(conn, inc)
        await insert_rows(conn, t.events, events)

    async def record_refusal(self, r: Refusal) -> None:
        """Count a refused packet (direction ``refused``) and audit it, in one transaction."""
        inc: Counter[CounterKey] = Counter()
        key: CounterKey = (
            counter_day(r.at),
            r.sender_code or "",
            r.sender_tier or "",
            "refused",
            r.verdict or "",
            "internal",
        )
        inc[key] += 1
        async with self._write() as conn:
            await self._count(conn, inc)
            await conn.execute(
                t.events.insert(),
                self._event_row(
                    "packet.refused",
                    r.at,
                    agency_code=r.sender_code,
                    actor=r.system_id,
                    detail={
                        "code": r.code,
                        "message": r.message,
                        "sender_tier": r.sender_tier,
                        "verdict": r.verdict,
                    },
                ),
            )

    # --- inbox -------------------------------------------------------------------------

    _INBOX_COLUMNS: Final = (
        t.deliveries.c.id,
        t.deliveries.c.document_id,
        t.documents.c.kind,
        t.documents.c.sender_code,
        t.deliveries.c.recipient_code,
        t.deliveries.c.target_code,
        t.deliveries.c.state,
        t.documents.c.edxml_document_id,
        t.documents.c.business_type,
        t.documents.c.status_code,
        t.documents.c.response_for,
        t.documents.c.subject,
        t.documents.c.code_number,
        t.documents.c.code_notation,
        t.documents.c.verdict,
        t.documents.c.size,
        t.documents.c.packet_sha256,
        t.documents.c.received_at,
        t.deliveries.c.created_at,
        t.deliveries.c.fetched_at,
        t.deliveries.c.acked_at,
    )

    @staticmethod
    def _inbox_item(row: Any) -> InboxItem:
        values: tuple[Any, ...] = tuple(row)
        return InboxItem(*values)

    def _addressed(self, agency_codes: Sequence[str]) -> sa.ColumnElement[bool]:
        return sa.and_(
            t.deliveries.c.route == "local",
            _codes_clause(t.deliveries.c.target_code, agency_codes),
        )

    def _inbox_query(
        self, agency_codes: Sequence[str], kind: str | None, include_fetched: bool
    ) -> sa.Select[Any]:
        states = _OPEN_STATES if include_fetched else ("pending",)
        q = (
            sa.select(*self._INBOX_COLUMNS)
            .select_from(
                t.deliveries.join(t.documents, t.documents.c.id == t.deliveries.c.document_id)
            )
            .where(self._addressed(agency_codes), t.deliveries.c.state.in_(states))
        )
        if kind is not None:
            q = q.where(t.documents.c.kind == kind)
        return q

    async def list_inbox(
        self,
        agency_codes: Sequence[str],
        *,
        kind: str | None = None,
        include_fetched: bool = True,
        limit: int = 100,
        after_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[InboxItem]:
        """Deliveries waiting for these agencies (codes or globs), oldest first.

        Pending, and also fetched-but-not-acknowledged unless ``include_fetched`` is
        False. Page with ``after_id`` (the last ``delivery_id`` seen); ``since``/``until``
        bound the delivery's creation time.
        """
        q = self._inbox_query(agency_codes, kind, include_fetched)
        if after_id is not None:
            q = q.where(t.deliveries.c.id > after_id)
        if since is not None:
            q = q.where(t.deliveries.c.created_at >= since)
        if until is not None:
            q = q.where(t.deliveries.c.created_at <= until)
        q = q.order_by(t.deliveries.c.id).limit(max(1, min(limit, 10_000)))
        async with self._read() as conn:
            rows = (await conn.execute(q)).all()
        return [self._inbox_item(r) for r in rows]

    async def count_inbox(
        self, agency_codes: Sequence[str], *, kind: str | None = None, include_fetched: bool = True
    ) -> int:
        q = self._inbox_query(agency_codes, kind, include_fetched).with_only_columns(
            sa.func.count()
        )
        async with self._read() as conn:
            return int((await conn.execute(q)).scalar_one())

    async def _addressed_item(
        self, conn: AsyncConnection, delivery_id: int, agency_codes: Sequence[str]
    ) -> InboxItem:
        row = (
            await conn.execute(
                sa.select(*self._INBOX_COLUMNS)
                .select_from(
                    t.deliveries.join(t.documents, t.documents.c.id == t.deliveries.c.document_id)
                )
                .where(t.deliveries.c.id == delivery_id, self._addressed(agency_codes))
            )
        ).first()
        if row is None:
            # Same answer for "no such delivery" and "not yours": reveal nothing.
            raise NotFoundError(
                f"No delivery {delivery_id} is addressed to your agencies.",
                code="inbox.not-found",
                details={"delivery_id": delivery_id},
            )
        return self._inbox_item(row)

    async def fetch_delivery(
        self, delivery_id: int, agency_codes: Sequence[str], *, actor: str | None = None
    ) -> tuple[InboxItem, bytes]:
        """The delivery and the packet's original bytes; a pending delivery becomes
        ``fetched`` (event ``delivery.fetched``). ``NotFoundError`` when it is not
        addressed to these agencies."""
        async with self._write() as conn:
            item = await self._addressed_item(conn, delivery_id, agency_codes)
            stored = (
                await conn.execute(
                    sa.select(*self.PACKET_COLUMNS).where(
                        t.packets.c.document_id == item.document_id
                    )
                )
            ).one()
            data = self.packet_bytes(*stored)
            if item.state == "pending":
                now = self._now()
                await conn.execute(
                    t.deliveries.update()
                    .where(t.deliveries.c.id == delivery_id, t.deliveries.c.state == "pending")
                    .values(state="fetched", fetched_at=now)
                )
                await conn.execute(
                    t.events.insert(),
                    self._event_row(
                        "delivery.fetched",
                        now,
                        document_id=item.document_id,
                        agency_code=item.target_code,
                        actor=actor,
                        detail={"delivery_id": delivery_id},
                    ),
                )
                item = dataclasses.replace(item, state="fetched", fetched_at=now)
        return item, bytes(data)

    async def ack_delivery(
        self, delivery_id: int, agency_codes: Sequence[str], *, actor: str | None = None
    ) -> bool:
        """Acknowledge a delivery. The first acknowledgement marks it ``acked``, counts
        ``acknowledged`` for the target agency and records ``delivery.acked``; it
        returns True. Any later one changes nothing and returns False."""
        async with self._write() as conn:
            item = await self._addressed_item(conn, delivery_id, agency_codes)
            now = self._now()
            res = await conn.execute(
                t.deliveries.update()
                .where(t.deliveries.c.id == delivery_id, t.deliveries.c.state.in_(_OPEN_STATES))
                .values(state="acked", acked_at=now)
            )
            if res.rowcount == 0:
                return False
            tier = (
                await conn.execute(
                    sa.select(t.deliveries.c.target_tier).where(t.deliveries.c.id == delivery_id)
                )
            ).scalar()
            inc: Counter[CounterKey] = Counter()
            key: CounterKey = (
                counter_day(now),
                item.target_code,
                tier or "",
                "acknowledged",
                item.verdict,
                "internal",
            )
            inc[key] += 1
            await self._count(conn, inc)
            await conn.execute(
                t.events.insert(),
                self._event_row(
                    "delivery.acked",
                    now,
                    document_id=item.document_id,
                    agency_code=item.target_code,
                    actor=actor,
                    detail={"delivery_id": delivery_id, "tier": tier, "verdict": item.verdict},
                ),
            )
        return True

    async def fail_delivery(
        self,
        delivery_id: int,
        agency_codes: Sequence[str],
        reason: str,
        *,
        actor: str | None = None,
    ) -> bool:
        """The recipient refuses a delivery (VXP ``updateStatus`` ``fail``).

        The first call marks it ``failed`` with ``reason`` (it leaves the inbox; nothing
        is counted) and records ``delivery.failed``; it returns True. A delivery already
        acknowledged or failed is left as it is: False. ``NotFoundError`` when it is not
        addressed to these agencies.
        """
        async with self._write() as conn:
            item = await self._addressed_item(conn, delivery_id, agency_codes)
            now = self._now()
            res = await conn.execute(
                t.deliveries.update()
                .where(t.deliveries.c.id == delivery_id, t.deliveries.c.state.in_(_OPEN_STATES))
                .values(state="failed", last_error=reason[:2000])
            )
            if res.rowcount == 0:
                return False
            await conn.execute(
                t.events.insert(),
                self._event_row(
                    "delivery.failed",
                    now,
                    document_id=item.document_id,
                    agency_code=item.target_code,
                    actor=actor,
                    detail={"delivery_id": delivery_id, "reason": reason[:2000]},
                ),
            )
        return True

    # --- documents ---------------------------------------------------------------------

    @staticmethod
    def _delivery_info(row: sa.Row[Any]) -> DeliveryInfo:
        m = row._mapping
        return DeliveryInfo(
            delivery_id=m["id"],
            recipient_code=m["recipient_code"],
            target_code=m["target_code"],
            target_tier=m["target_tier"],
            route=m["route"],
            state=m["state"],
            attempts=m["attempts"],
            created_at=m["created_at"],
            fetched_at=m["fetched_at"],
            acked_at=m["acked_at"],
            last_error=m["last_error"],
            remote_id=m["remote_id"],
        )

    async def _documents(self, conn: AsyncConnection, q: sa.Select[Any]) -> list[DocumentRecord]:
        docs = (await conn.execute(q)).all()
        if not docs:
            return []
        ids = [d._mapping["id"] for d in docs]
        drows = (
            await conn.execute(
                sa.select(t.deliveries)
                .where(t.deliveries.c.document_id.in_(ids))
                .order_by(t.deliveries.c.id)
            )
        ).all()
        return self._records(docs, drows)

    def _records(self, docs: Sequence[Any], drows: Sequence[Any]) -> list[DocumentRecord]:
        """Documents rows and their deliveries' rows as records."""
        by_doc: dict[str, list[DeliveryInfo]] = {}
        for r in drows:
            by_doc.setdefault(r._mapping["document_id"], []).append(self._delivery_info(r))
        out = []
        for d in docs:
            m = dict(d._mapping)
            m["verdict_reasons"] = tuple(json.loads(m["verdict_reasons"]))
            m["answer"] = json.loads(m["answer"])
            m.pop("dedup_key", None)
            m["deliveries"] = tuple(by_doc.get(m["id"], ()))
            out.append(DocumentRecord(**m))
        return out

    async def get_document(self, document_id: str) -> DocumentRecord:
        """A document's metadata and deliveries; ``NotFoundError`` if unknown.

        No access check here: the API layer decides who may see it. On SQLite this
        point read (asked for every accepted packet's receipt) runs synchronously, like
        the directory lookups (:class:`_QuickReads`), without their memory.
        """
        by_id = sa.select(t.documents).where(t.documents.c.id == document_id)
        if self._quick is not None:
            docs, drows = self._quick.snapshot(
                [
                    by_id,
                    sa.select(t.deliveries)
                    .where(t.deliveries.c.document_id == document_id)
                    .order_by(t.deliveries.c.id),
                ]
            )
            found = self._records(docs, drows)
        else:
            async with self._read() as conn:
                found = await self._documents(conn, by_id)
        if not found:
            raise NotFoundError(
                f"Document {document_id} does not exist.",
                code="documents.not-found",
                details={"document_id": document_id},
            )
        return found[0]

    async def get_packet(self, document_id: str) -> bytes:
        """The original bytes of a stored packet (no access check)."""
        async with self._read() as conn:
            stored = (
                await conn.execute(
                    sa.select(*self.PACKET_COLUMNS).where(t.packets.c.document_id == document_id)
                )
            ).first()
        if stored is None:
            raise NotFoundError(
                f"Document {document_id} does not exist.",
                code="documents.not-found",
                details={"document_id": document_id},
            )
        return self.packet_bytes(*stored)

    async def find_document(
        self, sender_code: str, edxml_document_id: str, *, kind: str = "document"
    ) -> DocumentRecord | None:
        """The latest stored packet of ``sender_code`` with this edXML DocumentId."""
        q = (
            sa.select(t.documents)
            .where(
                t.documents.c.sender_code == normalize_code(sender_code),
                t.documents.c.edxml_document_id == edxml_document_id,
                t.documents.c.kind == kind,
            )
            .order_by(t.documents.c.received_at.desc())
            .limit(1)
        )
        async with self._read() as conn:
            found = await self._documents(conn, q)
        return found[0] if found else None

    async def sent_by(
        self,
        agency_codes: Sequence[str],
        *,
        kind: str | None = None,
        edxml_document_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[DocumentRecord]:
        """Packets sent by these agencies (codes or globs), newest first, with the
        state of every delivery."""
        q = sa.select(t.documents).where(_codes_clause(t.documents.c.sender_code, agency_codes))
        if kind is not None:
            q = q.where(t.documents.c.kind == kind)
        if edxml_document_id is not None:
            q = q.where(t.documents.c.edxml_document_id == edxml_document_id)
        if since is not None:
            q = q.where(t.documents.c.received_at >= since)
        if until is not None:
            q = q.where(t.documents.c.received_at <= until)
        q = q.order_by(t.documents.c.received_at.desc(), t.documents.c.id.desc()).limit(
            max(1, min(limit, 10_000))
        )
        async with self._read() as conn:
            return await self._documents(conn, q)

    async def document_trace(self, document_id: str) -> list[TraceEvent]:
        """Every event of a document and of the statuses naming it, in order.

        ``NotFoundError`` when the document is unknown.
        """
        e, d = t.events.c, t.documents.c
        related = sa.select(d.id).where(d.related_document_id == document_id)
        q = (
            sa.select(
                e.id,
                e.at,
                e.kind,
                e.node,
                e.document_id,
                e.agency_code,
                e.actor,
                d.status_code,
                e.detail,
            )
            .select_from(t.events.outerjoin(t.documents, d.id == e.document_id))
            .where(sa.or_(e.document_id == document_id, e.document_id.in_(related)))
            .order_by(e.id)
        )
        async with self._read() as conn:
            exists = (await conn.execute(sa.select(d.id).where(d.id == document_id))).first()
            if exists is None:
                raise NotFoundError(
                    f"Document {document_id} does not exist.",
                    code="documents.not-found",
                    details={"document_id": document_id},
                )
            rows = (await conn.execute(q)).all()
        return [
            TraceEvent(
                id=r[0],
                at=r[1],
                kind=r[2],
                node=r[3],
                document_id=r[4],
                agency_code=r[5],
                actor=r[6],
                status_code=r[7],
                detail=json.loads(r[8]),
            )
            for r in rows
        ]

    # --- delivery queue (axis.store.deliveries: push, national, dead letters) ----------

    async def claim_due(self, now: datetime, **kw: Any) -> list[Claim]:
        """Claim due push/national deliveries (see :func:`axis.store._dq.claim_due`)."""
        return await _dq.claim_due(self, now, **kw)

    async def release_claims(self, delivery_ids: Sequence[int]) -> None:
        await _dq.release(self, delivery_ids)

    async def record_attempt(
        self,
        job: DeliveryJob,
        outcome: DeliveryOutcome,
        decision: Decision,
        now: datetime,
        **kw: Any,
    ) -> str:
        """One attempt, its history row and its consequence, in one transaction."""
        return await _dq.record_attempt(self, job, outcome, decision, now, **kw)

    async def requeue(self, delivery_id: int, *, actor: str | None = None) -> bool:
        return await _dq.requeue(self, delivery_id, actor=actor)

    async def requeue_destination(self, destination: str, *, actor: str | None = None) -> int:
        return await _dq.requeue_destination(self, destination, actor=actor)

    async def queue_stats(self, now: datetime, *, include_pull: bool = False) -> list[QueueStats]:
        return await _dq.queue_stats(self, now, include_pull=include_pull)

    async def list_deliveries(self, **kw: Any) -> list[QueuedDelivery]:
        return await _dq.list_deliveries(self, **kw)

    async def get_delivery(self, delivery_id: int) -> QueuedDelivery:
        return await _dq.get_delivery(self, delivery_id)

    async def delivery_history(self, delivery_id: int) -> list[Attempt]:
        return await _dq.delivery_history(self, delivery_id)

    async def breaker_states(self) -> dict[str, BreakerState]:
        return await _dq.breaker_states(self)

    async def set_push_delivery(
        self, code: str, url: str, secret: str | None, *, actor: str | None = None
    ) -> None:
        await _dq.set_push_delivery(self, code, url, secret, actor=actor)

    async def set_pull_delivery(self, code: str, *, actor: str | None = None) -> None:
        await _dq.set_pull_delivery(self, code, actor=actor)

    async def push_target(self, code: str) -> PushTarget | None:
        return await _dq.push_target(self, code)

    # --- counters ----------------------------------------------------------------------

    async def counter_rows(
        self,
        day_from: date | None = None,
        day_to: date | None = None,
        *,
        agency_codes: Sequence[str] | None = None,
        tier: str | None = None,
        direction: str | None = None,
    ) -> list[CounterRow]:
        """Counter rows between two reporting days (inclusive), sorted."""
        c = t.counters.c
        q = sa.select(c.day, c.agency_code, c.tier, c.direction, c.verdict, c.scope, c.count)
        if day_from is not None:
            q = q.where(c.day >= day_from)
        if day_to is not None:
            q = q.where(c.day <= day_to)
        if agency_codes is not None:
            q = q.where(_codes_clause(c.agency_code, agency_codes))
        if tier is not None:
            q = q.where(c.tier == tier)
        if direction is not None:
            q = q.where(c.direction == direction)
        async with self._read() as conn:
            rows = (await conn.execute(q)).all()
        return sorted(
            [
                CounterRow(
                    day=r[0],
                    agency_code=_none_if_empty(r[1]),
                    tier=cast(Any, _none_if_empty(r[2])),
                    direction=r[3],
                    verdict=_none_if_empty(r[4]),
                    scope=r[5],
                    count=int(r[6]),
                )
                for r in rows
            ],
            key=CounterRow.sort_key,
        )

    async def recount_from_events(self) -> list[CounterRow]:
        """The counters recomputed from the audit events alone (a consistency check:
        it must equal ``counter_rows()``)."""
        e = t.events.c
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    sa.select(e.at, e.kind, e.agency_code, e.detail)
                    .where(e.kind.in_(("packet.accepted", "packet.refused", "delivery.acked")))
                    .order_by(e.id)
                )
            ).all()
        inc: Counter[CounterKey] = Counter()
        for at, kind, agency, detail_text in rows:
            detail = json.loads(detail_text)
            day = counter_day(at)
            if kind == "packet.accepted":
                verdict = detail["verdict"]
                inc[
                    (day, agency, detail["sender_tier"] or "", "sent", verdict, detail["scope"])
                ] += 1
                for code, tier in detail["receipts"]:
                    inc[(day, code, tier, "received", verdict, "internal")] += 1
            elif kind == "packet.refused":
                key: CounterKey = (
                    day,
                    agency or "",
                    detail["sender_tier"] or "",
                    "refused",
                    detail["verdict"] or "",
                    "internal",
                )
                inc[key] += 1
            else:
                inc[
                    (
                        day,
                        agency,
                        detail["tier"] or "",
                        "acknowledged",
                        detail["verdict"],
                        "internal",
                    )
                ] += 1
        return sorted(
            [
                CounterRow(
                    day=k[0],
                    agency_code=_none_if_empty(k[1]),
                    tier=cast(Any, _none_if_empty(k[2])),
                    direction=k[3],
                    verdict=_none_if_empty(k[4]),
                    scope=k[5],
                    count=n,
                )
                for k, n in inc.items()
            ],
            key=CounterRow.sort_key,
        )


def _last_delivery_id() -> sa.Select[Any]:
    """The highest delivery id (built once: run on every group commit)."""
    return built_once("deliveries.last-id", lambda: sa.select(sa.func.max(t.deliveries.c.id)))


#: the most dedup keys one probe names (the probes are built for powers of two up to it)
_DUP_PROBE_MAX: Final = 512


def _dup_probe(keys: Sequence[str]) -> tuple[sa.Select[Any], dict[str, str]]:
    """The stored (dedup_key, id, answer) of these keys (1 to ``_DUP_PROBE_MAX``): one
    statement built once for each power of two, ``k0``... bound to the keys and the rest
    to the last key again (a key twice in IN changes nothing)."""
    size = 1 << (len(keys) - 1).bit_length()
    d = t.documents.c

    def build() -> sa.Select[Any]:
        names = [sa.bindparam(f"k{i}", type_=d.dedup_key.type) for i in range(size)]
        return sa.select(d.dedup_key, d.id, d.answer).where(d.dedup_key.in_(names))

    stmt = built_once(("documents.dup-probe", size), build)
    return stmt, {f"k{i}": keys[min(i, len(keys) - 1)] for i in range(size)}


class _GroupCommit:
    """Group commit: callers queue packets; one task commits whatever is queued in one
    transaction, then wakes each caller with its own result. A caller is answered only
    after the COMMIT of the transaction holding its packet. At most ``max_batch`` per
    transaction, to bound the time a batch holds the write lock."""

    def __init__(
        self,
        commit: Callable[[Sequence[NewPacket]], Awaitable[list[Committed | BaseException]]],
        max_batch: int = 256,
    ) -> None:
        self._commit = commit
        self._max_batch = max_batch
        self._queue: list[tuple[NewPacket, asyncio.Future[Committed]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, packet: NewPacket) -> Committed:
        future: asyncio.Future[Committed] = asyncio.get_running_loop().create_future()
        self._queue.append((packet, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        # The commit goes on even if this caller is cancelled: shield the future.
        return await asyncio.shield(future)

    async def drain(self) -> None:
        if self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            try:
                results = await self._commit([p for p, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)


def _store_error(exc: sa.exc.SQLAlchemyError) -> AxisError:
    """Map a database failure at the boundary (never leak SQL text or parameters)."""
    if isinstance(exc, sa.exc.IntegrityError):
        return StoreError(
            "The database refused a write that breaks an integrity rule.",
            code="store.integrity",
        )
    if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.TimeoutError):
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        return StoreError(
            f"The database is unavailable ({type(orig).__name__}).",
            code="store.unavailable",
        )
    return StoreError(
        f"The database failed ({type(exc).__name__}).",
        code="store.error",
    )


# --- opening -------------------------------------------------------------------------------


#: The tables :meth:`Store._lookup` reads; a trigger on each bumps the generation.
_DIRECTORY_TABLES: Final = ("agencies", "agency_certs", "systems", "system_agencies")
_GENERATION_DDL: Final = (
    "CREATE TABLE IF NOT EXISTS directory_generation "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), gen INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO directory_generation (id, gen) VALUES (1, 0)",
    *(
        f"CREATE TRIGGER IF NOT EXISTS directory_generation_{table}_{op.lower()} "  # noqa: S608
        f"AFTER {op} ON {table} FOR EACH ROW BEGIN "
        "UPDATE directory_generation SET gen = gen + 1 WHERE id = 1; END"
        for table in _DIRECTORY_TABLES
        for op in ("INSERT", "UPDATE", "DELETE")
    ),
)


class _GenerationMemo:
    """The directory generation one request has read (see :func:`request_scope`)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: int | None = None


_REQUEST_GENERATION: ContextVar[_GenerationMemo | None] = ContextVar(
    "axis_directory_generation", default=None
)


@contextmanager
def request_scope() -> Iterator[None]:
    """Within it (one HTTP request), the directory generation is read once.

    The lookups of a request (its caller's token, the sender, each recipient) then see
    the directory as it was at one moment between the request's arrival and its first
    lookup (requests starting in the same turn of the event loop share that read), or
    as the request's own writes left it (:meth:`Store._write` forgets the generation
    read); a change that another request or process commits meanwhile is seen from the
    next request on. Outside a scope every lookup reads the generation, as before.
    """
    token = _REQUEST_GENERATION.set(_GenerationMemo())
    try:
        yield
    finally:
        _REQUEST_GENERATION.reset(token)


def _forget_request_generation() -> None:
    memo = _REQUEST_GENERATION.get()
    if memo is not None:
        memo.value = None


class _QuickReads:
    """The directory lookups of every request on SQLite: remembered, and exact.

    Through the async engine a one-row SELECT makes about eight round trips between
    the event loop and aiosqlite's thread: over a millisecond of CPU under load, for a
    lookup SQLite answers in microseconds. Intake and authentication make several per
    request (the caller's token, the sender, each recipient and its successors).

    So the answers are kept in memory, keyed by the lookup, together with the
    *directory generation* they were read at: a counter in ``directory_generation``
    that a trigger on each table of :data:`_DIRECTORY_TABLES` bumps in the same
    transaction as any change to it, whoever makes it (this daemon, ``axis agencies``
    in another process...). Before answering from memory the current generation is
    read (one autocommit statement on a plain ``sqlite3`` connection, microseconds):
    if it moved, the lookup is read again, with the generation, in one snapshot. An
    answer is therefore always what the database holds at the time of the call; within
    a :func:`request_scope`, at a moment between the request's arrival and its first
    lookup (the generation is read once a request, and once for all the requests
    starting in one turn of the loop: :meth:`_QuickReads._turn_generation`).

    Reads run synchronously on the calling thread (the event loop): in WAL mode a
    reader does not wait for the writer, and these reads are by an indexed key.
    """

    MAX_ENTRIES: Final = 4096

    def __init__(self, url: sa.URL) -> None:
        self._path = url.database or ""
        self._engine = sa.create_engine(
            url.set(drivername="sqlite"),
            poolclass=sa.pool.QueuePool,
            pool_size=2,
            max_overflow=8,
            connect_args={"check_same_thread": False},
        )
        sa.event.listen(self._engine, "connect", self._on_connect)
        self._cache: dict[Hashable, tuple[int, list[list[Any]]]] = {}
        self._gen_conn: sqlite3.Connection | None = None
        self._gen_lock = threading.Lock()
        #: the generation read in the current turn of a loop (:meth:`_turn_generation`)
        self._turn: tuple[asyncio.AbstractEventLoop, int] | None = None
        #: how many first lookups of a request took the turn's read (tests)
        self.turn_reuses = 0

    @staticmethod
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # autocommit; BEGIN only in read()
        for pragma in (
            "PRAGMA query_only=ON",
            "PRAGMA busy_timeout=5000",
            "PRAGMA case_sensitive_like=ON",
        ):
            dbapi_conn.execute(pragma)

    def install(self) -> None:
        """Create the generation counter and its triggers (idempotent; at open)."""
        conn = sqlite3.connect(self._path, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for ddl in _GENERATION_DDL:
                conn.execute(ddl)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _generation(self) -> int:
        with self._gen_lock:
            if self._gen_conn is None:
                self._gen_conn = sqlite3.connect(
                    self._path, isolation_level=None, check_same_thread=False, timeout=5
                )
                self._gen_conn.execute("PRAGMA query_only=ON")
            row = self._gen_conn.execute(
                "SELECT gen FROM directory_generation WHERE id = 1"
            ).fetchone()
        return int(row[0])

    def _current_generation(self, memo: _GenerationMemo | None) -> int:
        """The generation to check a remembered answer against: read now, or once a
        request within a :func:`request_scope` (:meth:`_turn_generation`)."""
        if memo is None:
            return self._generation()
        if memo.value is None:
            memo.value = self._turn_generation()
        return memo.value

    def _turn_generation(self) -> int:
        """The generation read once for every request that makes its first lookup in
        this turn of the running event loop.

        Under load several requests start in one turn, and each read is a statement
        (~30 µs: every commit makes SQLite's connection drop its page cache). Sharing
        it changes nothing a request can see. The read asks the loop to forget it
        (``call_soon``), and the loop runs its callbacks in the order they were queued;
        so every step that reuses the read was queued before the read was made, and
        whatever happened before that queueing (the request's arrival, the commit of a
        write it awaited) is in what the read saw. Outside a running loop (a worker
        thread) the generation is read each time.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self._generation()
        turn = self._turn
        if turn is not None and turn[0] is loop:
            self.turn_reuses += 1
            return turn[1]
        gen = self._generation()
        self._turn = (loop, gen)
        loop.call_soon(self._end_turn, loop)
        return gen

    def _end_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        turn = self._turn
        if turn is not None and turn[0] is loop:
            self._turn = None

    def read(self, key: Hashable, build: Callable[[], Sequence[sa.Select[Any]]]) -> list[list[Any]]:
        """The rows of each query ``build`` makes (do not modify them: they are shared)."""
        memo = _REQUEST_GENERATION.get()
        try:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == self._current_generation(memo):
                return hit[1]
            queries = build()
            with self._engine.connect() as conn:
                conn.exec_driver_sql("BEGIN")  # one snapshot; rolled back on close
                gen = int(
                    conn.exec_driver_sql(
                        "SELECT gen FROM directory_generation WHERE id = 1"
                    ).scalar_one()
                )
                rows = [list(conn.execute(q).all()) for q in queries]
        except (sa.exc.SQLAlchemyError, sqlite3.Error) as exc:
            if isinstance(exc, sa.exc.SQLAlchemyError):
                raise _store_error(exc) from exc
            raise StoreError("The database could not be read.", code="store.unavailable") from exc
        for q in queries:
            tables = {getattr(f, "name", None) for f in q.get_final_froms()}
            assert tables <= set(_DIRECTORY_TABLES), f"lookup outside the directory: {tables}"
        if len(self._cache) >= self.MAX_ENTRIES:
            self._cache.clear()
        self._cache[key] = (gen, rows)
        if memo is not None:
            memo.value = gen  # the newest generation this request has seen
        return rows

    def snapshot(self, queries: Sequence[sa.Select[Any]]) -> list[list[Any]]:
        """The rows of each query from one snapshot, not remembered (any table; for
        point reads by an indexed key only)."""
        try:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("BEGIN")  # rolled back on close
                return [list(conn.execute(q).all()) for q in queries]
        except sa.exc.SQLAlchemyError as exc:
            raise _store_error(exc) from exc

    def dispose(self) -> None:
        self._cache.clear()
        with self._gen_lock:
            if self._gen_conn is not None:
                self._gen_conn.close()
                self._gen_conn = None
        self._engine.dispose()


def _sqlite_events(engine: sa.Engine, *, writer: bool) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=FULL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
            "PRAGMA case_sensitive_like=ON",
        ):
            cur.execute(pragma)
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


async def open_store(
    url: str,
    *,
    secret_key: bytes | None = None,
    schema: str | None = None,
    node: str | None = None,
    now: Callable[[], datetime] = utcnow,
    pool_size: int = 5,
    max_overflow: int = 10,
    pool_timeout: float = 30.0,
    group_commit: bool = True,
) -> Store:
    """Open (and create if absent) the store at a SQLAlchemy async URL.

    ``sqlite+aiosqlite:///path/axis.db`` (the directory is created) or
    ``postgresql+asyncpg://user@host/db``. ``schema`` (PostgreSQL only) puts every table
    in that schema, created if missing (tests use one fresh schema each).
    ``secret_key`` (32 bytes) encrypts the systems' HMAC secrets; without it systems can
    be read but not added and their secrets not read. ``node`` names this daemon in the
    audit events. ``now`` is the clock (aware UTC datetimes). ``group_commit`` (SQLite)
    commits packets that arrive together in one transaction (one fsync).
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(
            "database.url is not a valid SQLAlchemy URL.", code="config.bad-database-url"
        ) from None
    backend = parsed.get_backend_name()
    box = SecretBox(secret_key) if secret_key is not None else None
    if backend == "sqlite":
        db = parsed.database
        if not db or db == ":memory:" or db.startswith("file:"):
            raise ConfigError(
                "database.url must name an SQLite file (in-memory databases are not durable).",
                code="config.bad-database-url",
            )
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        write_engine = create_async_engine(
            parsed, pool_size=1, max_overflow=0, pool_timeout=pool_timeout
        )
        # Readers are kept open (no overflow): each aiosqlite connection is a thread,
        # and opening and closing one per read under load costs more than the read.
        read_engine = create_async_engine(
            parsed, pool_size=pool_size + max_overflow, max_overflow=0, pool_timeout=pool_timeout
        )
        _sqlite_events(write_engine.sync_engine, writer=True)
        _sqlite_events(read_engine.sync_engine, writer=False)
        quick = _QuickReads(parsed)
        batch_writer = sa.create_engine(
            parsed.set(drivername="sqlite"),
            poolclass=sa.pool.QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=pool_timeout,
            # its multi-row INSERTs are one statement for each table and row count
            # (syncconn): room for them in sqlite3's cache of prepared statements
            connect_args={"check_same_thread": False, "cached_statements": 1024},
        )
        _sqlite_events(batch_writer, writer=True)
        install_audit_chain(batch_writer)
        packet_files: PacketFiles | None = PacketFiles(packet_dir(Path(db)))
    elif backend == "postgresql":
        connect_args: dict[str, Any] = {}
        if schema is not None:
            if _SCHEMA_NAME_RE.fullmatch(schema) is None:
                raise ConfigError(
                    f"Schema name {schema!r} must be lowercase letters, digits and '_'.",
                    code="config.bad-schema",
                )
            boot = create_async_engine(parsed, poolclass=sa.pool.NullPool)
            try:
                async with boot.begin() as conn:
                    await conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            except sa.exc.SQLAlchemyError as exc:
                raise _store_error(exc) from exc
            finally:
                await boot.dispose()
            connect_args["server_settings"] = {"search_path": schema}
        write_engine = create_async_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
        read_engine = write_engine
        quick = None
        batch_writer = None
        packet_files = None
    else:
        raise ConfigError(
            f"database.url uses {backend!r}; Axis supports sqlite+aiosqlite and "
            "postgresql+asyncpg.",
            code="config.bad-database-url",
        )
    install_audit_chain(write_engine)  # every events INSERT is hash-chained
    store = Store(
        read_engine=read_engine,
        write_engine=write_engine,
        box=box,
        node=node,
        now=now,
        group_commit=group_commit,
        quick=quick,
        batch_writer=batch_writer,
        packet_files=packet_files,
    )
    try:
        await _create_schema(store, write_engine, now())
        if quick is not None:
            await asyncio.to_thread(quick.install)
    except BaseException:
        await store.close()
        raise
    return store


async def _create_schema(store: Store, engine: AsyncEngine, now: datetime) -> None:
    try:
        async with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Serialize schema creation between nodes starting at once.
                await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7271001)")
            await conn.run_sync(t.metadata.create_all)
            version = (
                await conn.execute(sa.select(sa.func.max(t.schema_version.c.version)))
            ).scalar()
            if version is None:
                await conn.execute(
                    t.schema_version.insert(),
                    {"version": t.SCHEMA_VERSION, "applied_at": now},
                )
            elif version < t.SCHEMA_VERSION:
                await _upgrade(conn, version)
                await conn.execute(
                    t.schema_version.insert(),
                    {"version": t.SCHEMA_VERSION, "applied_at": now},
                )
            elif version > t.SCHEMA_VERSION:
                raise StoreError(
                    f"The database schema is version {version}; this Axis knows "
                    f"up to {t.SCHEMA_VERSION}. Upgrade Axis.",
                    code="store.schema-too-new",
                )
    except sa.exc.SQLAlchemyError as exc:
        raise _store_error(exc) from exc


async def _upgrade(conn: AsyncConnection, version: int) -> None:
    """Bring a database of an older schema version to this one (in the caller's
    transaction; nothing stored is rewritten)."""
    if version < 2:  # 2: where a packet's bytes are when they are in a segment file
        for name, sql_type in t.PACKET_FILE_COLUMNS:
            await conn.exec_driver_sql(f"ALTER TABLE packets ADD COLUMN {name} {sql_type}")
