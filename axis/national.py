"""The national axis link of a provincial axis: forwarding, polling, directory sync.

Outbound — :class:`NationalTransport`, the delivery engine's ``Transport`` for the route
``national``: sendEdoc (documents and statuses alike, attachments or none) and the
national DocId as ``remote_id``; a peer's failure becomes a retryable or final outcome
(``adapters.vxp.national.failure_of``). Never inside an agency's request: intake only
writes the delivery row.

Inbound — :class:`NationalPoller`. ``poll_once()``: getReceivedEdocList for ``edoc`` and
``status``; for each item getEdoc, then the SAME intake as every other channel
(``channel="national"``, caller :class:`NationalCaller`), then updateStatus:

- accepted, or already here (the duplicate rule: a packet committed before a crash and
  fetched again is found by its dedup key) -> ``done``, only AFTER the commit;
- refused for the packet's own fault (signature, schema, content, routing, a sender
  that is not the national axis's to claim) -> ``fail`` with ``[code] sentence``;
- one of our own packets handed back (its sender is ours and these exact bytes are
  stored) -> ``done``: it was delivered here already;
- our own trouble (store, configuration) or the peer's -> nothing: the item stays on the
  national axis's list and the next poll takes it again.

A crash between getEdoc and updateStatus therefore loses nothing (the item is still
listed) and duplicates nothing (the re-fetched packet is a duplicate). Several daemons
on one database may poll at once for the same reason.

The national axis may speak for every code that this axis routes ``national`` and for
none that it routes ``local``: a packet from the national axis claiming one of our own
agencies as its sender is refused (``auth.forged-from``).

Health (for the dashboard and ``GET /api/v1/admin/national``) is kept in the store
(``node_state`` key ``national.poll``): last poll, last success, backlog, counts, last
error. :class:`NationalLink` (``axis.national.NationalRuntime``) schedules the poll
(``national.poll_interval``) and the directory sync (``national.directory_sync_interval``)
with apscheduler; both also run on demand (``axis national poll``, ``axis directory
sync``, ``POST /api/v1/admin/national/poll``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.vxp.client import MessageType, VxpClient
from adapters.vxp.national import NationalLink, PacketKind, failure_of
from adapters.vxp.protocol import ReceivedItem
from axis.config import Config
from axis.directory import Agency, RouteRule, match_route
from axis.directory_changes import (
    DirectoryChanges,
    ReorgRow,
    plan_reorganization,
    plan_sync,
)
from axis.hops import Hop, hops_from_json, hops_of_answer, hops_to_json
from axis.intake import Caller, Intake, claimed_sender
from axis.store import VN_TZ, Store
from axis.store.national import NationalStore
from axis.transport import DeliveryJob, DeliveryOutcome
from axis_errors import AuthError, AxisError, ConfigError, InputError, PeerError, SignatureError

__all__ = [
    "NATIONAL_SYSTEM_ID",
    "NationalCaller",
    "NationalPoller",
    "NationalRuntime",
    "NationalTransport",
    "PollReport",
    "apply_reorganization",
    "build_national_client",
    "sync_directory",
]

log = logging.getLogger("axis.national")

#: The system id packets from the national axis are recorded under (not a real system:
#: nobody can log in with it).
NATIONAL_SYSTEM_ID: Final = "national-axis"
POLL_STATE: Final = "national.poll"
SYNC_STATE: Final = "national.directory-sync"


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --- who the national axis may speak for ---------------------------------------------


@dataclass(frozen=True)
class NationalCaller(Caller):
    """The national axis as a caller of intake: it speaks for every code this axis routes
    ``national``, and for none it routes ``local`` (our own agencies)."""

    system_id: str = NATIONAL_SYSTEM_ID
    role: Literal["agency", "auditor", "admin"] = "agency"
    patterns: tuple[str, ...] = ("*",)
    routes: tuple[RouteRule, ...] = ()

    def may_act_for(self, code: str) -> bool:
        return match_route(code, self.routes) == "national"


def is_local(code: str, routes: Sequence[RouteRule]) -> bool:
    """True when ``routes`` deliver ``code`` here (the default route is local)."""
    return (match_route(code, routes) or "local") == "local"


# --- outbound ------------------------------------------------------------------------


HopsOf = Callable[[str], Awaitable[Sequence[Hop]]]


class NationalTransport:
    """The ``Transport`` of the route ``national`` (see ``axis.transport``).

    ``hops_of(document_id)`` gives the hops recorded for a document (this axis's own at
    least); they ride along as the signed ``trace`` parameter of sendEdoc.
    """

    def __init__(self, client: VxpClient, *, hops_of: HopsOf | None = None) -> None:
        self.link = NationalLink(client)
        self._hops_of = hops_of

    async def deliver(self, job: DeliveryJob, data: bytes) -> DeliveryOutcome:
        trace: str | None = None
        if self._hops_of is not None:
            trace = hops_to_json(await self._hops_of(job.document_id)) or None
        kind: PacketKind = "status" if job.kind == "status" else "document"
        try:
            doc_id = await self.link.forward(data, sender=job.sender_code, kind=kind, trace=trace)
        except PeerError as exc:
            failure = failure_of(exc)
            return DeliveryOutcome(
                ok=False,
                error_code=failure.code,
                error=failure.message,
                retryable=failure.retryable,
            )
        return DeliveryOutcome(ok=True, remote_id=doc_id)


def store_hops_of(store: Store) -> HopsOf:
    """``hops_of`` reading a document's hops from its stored intake answer."""

    async def hops_of(document_id: str) -> Sequence[Hop]:
        return hops_of_answer((await store.get_document(document_id)).answer)

    return hops_of


# --- inbound -------------------------------------------------------------------------

#: Refusals that are the packet's fault: answered ``fail`` (retrying cannot help).
_PACKET_FAULTS: Final = (InputError, AuthError, SignatureError)


@dataclass
class PollReport:
    """What one poll did (also kept as the national link's health)."""

    started_at: datetime
    finished_at: datetime | None = None
    listed: int = 0
    accepted: int = 0
    duplicates: int = 0
    echoes: int = 0
    refused: int = 0
    deferred: int = 0
    error: str | None = None
    refusals: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.deferred == 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "listed": self.listed,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "echoes": self.echoes,
            "refused": self.refused,
            "deferred": self.deferred,
            "ok": self.ok,
            "error": self.error,
            "refusals": self.refusals[:20],
        }


class NationalPoller:
    """Takes what the national axis holds for this province (see the module docstring).

    ``concurrency`` items are handled at once; polls never overlap (a lock), so the
    scheduler's poll and an admin's poll on demand queue behind each other.
    """

    def __init__(
        self,
        store: Store,
        intake: Intake,
        client: VxpClient,
        *,
        routes: Sequence[RouteRule],
        concurrency: int = 8,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.intake = intake
        self.link = NationalLink(client)
        self.routes = tuple(routes)
        self.caller = NationalCaller(routes=self.routes)
        self.state = NationalStore(store)
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._lock = asyncio.Lock()

    async def poll_once(self) -> PollReport:
        """One poll: list, fetch, take in, answer. Never raises for the peer's failures
        (they are in the report and in the health state)."""
        async with self._lock:
            report = PollReport(started_at=self._clock())
            try:
                items = await self.link.received()
            except PeerError as exc:
                report.error = f"[{exc.code}] {exc.message}"
                items = []
            report.listed = len(items)
            gate = asyncio.Semaphore(self._concurrency)

            async def one(kind: MessageType, item: ReceivedItem) -> None:
                async with gate:
                    await self._take(kind, item, report)

            await asyncio.gather(*(one(kind, item) for kind, item in items))
            report.finished_at = self._clock()
            await self._save(report)
            return report

    async def _take(self, kind: MessageType, item: ReceivedItem, report: PollReport) -> None:
        doc_id = item.doc_id
        try:
            data, trace = await self.link.fetch(doc_id)
        except PeerError as exc:
            self._defer(report, doc_id, exc)
            return
        try:
            hops = hops_from_json(trace) if trace is not None else ()
        except InputError:
            log.warning("national item %s: its trace is unreadable; kept without it", doc_id)
            hops = ()
        try:
            if await self._is_echo(data):
                report.echoes += 1
                await self.link.done(doc_id)
                return
            try:
                accepted = await self.intake.submit(
                    data, self.caller, channel="national", hops=hops
                )
            except _PACKET_FAULTS as exc:
                reason = f"[{exc.code}] {exc.message}"
                await self.link.fail(doc_id, reason)
                report.refused += 1
                report.refusals.append({"docId": doc_id, "code": exc.code})
                log.info("national item %s (%s) refused: %s", doc_id, kind, reason)
                return
            await self.link.done(doc_id)
        except AxisError as exc:
            self._defer(report, doc_id, exc)
            return
        if accepted.created:
            report.accepted += 1
        else:
            report.duplicates += 1

    async def _is_echo(self, data: bytes) -> bool:
        """One of our own agencies' packets, handed back: these bytes are stored here."""
        sender = await asyncio.to_thread(claimed_sender, data, self.intake.settings.limits)
        if sender is None or not is_local(sender, self.routes):
            return False
        digest = hashlib.sha256(data).hexdigest()
        return await self.state.own_packet(sender, digest) is not None

    @staticmethod
    def _defer(report: PollReport, doc_id: str, exc: AxisError) -> None:
        report.deferred += 1
        report.error = f"item {doc_id}: [{exc.code}] {exc.message}"
        log.warning("national item %s left for the next poll: [%s] %s", doc_id, exc.code, exc)

    async def _save(self, report: PollReport) -> None:
        previous = await self.state.get_state(POLL_STATE) or {}
        done = report.accepted + report.duplicates + report.echoes + report.refused
        state = {
            "last_poll": report.started_at.isoformat(),
            "last_success": report.started_at.isoformat()
            if report.ok
            else previous.get("last_success"),
            "backlog": max(0, report.listed - done) if report.error is None else None,
            "last_error": report.error or previous.get("last_error"),
            "last_error_at": (report.finished_at or report.started_at).isoformat()
            if report.error
            else previous.get("last_error_at"),
            "last_report": report.as_dict(),
            "taken_total": int(previous.get("taken_total", 0)) + report.accepted,
        }
        try:
            await self.state.put_state(POLL_STATE, state)
        except AxisError as exc:
            log.error("cannot record the national poll's health: %s", exc)


async def national_health(store: Store) -> dict[str, Any]:
    """The national link's health as last recorded (empty when it never polled)."""
    state = NationalStore(store)
    return {
        "poll": await state.get_state(POLL_STATE) or {},
        "directory_sync": await state.get_state(SYNC_STATE) or {},
    }


# --- directory ---------------------------------------------------------------------------


def _today(clock: Callable[[], datetime]) -> date:
    return clock().astimezone(VN_TZ).date()


async def sync_directory(
    store: Store,
    client: VxpClient,
    routes: Sequence[RouteRule],
    *,
    actor: str | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> DirectoryChanges:
    """Sync the remote part of the directory from getAgenciesList (one transaction,
    audited as ``directory.synced`` when something changed)."""
    state = NationalStore(store)
    started = clock()
    try:
        items = await client.get_agencies_list()
        local = await store.list_agencies()
        changes = plan_sync(
            local,
            items,
            is_remote=lambda code: not is_local(code, routes),
            today=_today(clock),
        )
        if not changes.empty:
            await state.apply_directory_changes(
                changes,
                event="directory.synced",
                actor=actor,
                detail={"source": client.endpoint, **changes.summary()},
            )
    except AxisError as exc:
        previous = await state.get_state(SYNC_STATE) or {}
        await state.put_state(
            SYNC_STATE,
            {**previous, "last_sync": started.isoformat(), "last_error": f"[{exc.code}] {exc}"},
        )
        raise
    summary = changes.summary()
    await state.put_state(
        SYNC_STATE,
        {
            "last_sync": started.isoformat(),
            "last_success": started.isoformat(),
            "listed": len(items),
            "added": len(summary["added"]),
            "updated": len(summary["updated"]),
            "closed": len(summary["closed"]),
            "last_error": None,
        },
    )
    return changes


async def apply_reorganization(
    store: Store,
    rows: Sequence[ReorgRow],
    *,
    actor: str | None = None,
    clock: Callable[[], datetime] = _utcnow,
    source: str | None = None,
) -> DirectoryChanges:
    """Apply a reorganization file in one transaction, audited as
    ``directory.reorganized`` (the rows, what was created, renamed and closed)."""
    local: Mapping[str, Agency] = {a.code: a for a in await store.list_agencies()}
    changes = plan_reorganization(local, rows, today=_today(clock))
    await NationalStore(store).apply_directory_changes(
        changes,
        event="directory.reorganized",
        actor=actor,
        detail={
            "source": source,
            "rows": [
                {"old_code": r.old_code, "new_code": r.new_code, "date": r.on.isoformat()}
                for r in rows
            ],
            **changes.summary(),
        },
    )
    return changes


# --- composition -------------------------------------------------------------------------


def build_national_client(config: Config) -> VxpClient:
    """The VXP client of ``national.*`` (``ConfigError`` when it is incomplete)."""
    n = config.national
    if n.endpoint is None:
        raise ConfigError(
            "national.endpoint is not set: this axis has no national axis.",
            code="config.national-missing",
        )
    if not n.systemid or not n.secret:
        raise ConfigError(
            "national.endpoint needs national.systemid and national.secret.",
            code="config.national-incomplete",
        )
    ctx: ssl.SSLContext | None = None
    if n.tls_ca is not None:
        ctx = ssl.create_default_context(cafile=str(n.tls_ca))
    return VxpClient(
        n.endpoint,
        n.systemid,
        n.secret,
        timeout=n.timeout,
        connect_timeout=min(10.0, n.timeout),
        limit=n.connections,
        ssl=ctx,
    )


class NationalRuntime:
    """The national link of a running daemon: client, transport, poller and their
    schedule. Built by the composition root when ``national.endpoint`` is set."""

    def __init__(
        self,
        config: Config,
        store: Store,
        intake: Intake,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.config = config
        self.store = store
        self.client = build_national_client(config)
        self.transport = NationalTransport(self.client, hops_of=store_hops_of(store))
        self.poller = NationalPoller(store, intake, self.client, routes=config.routes, clock=clock)
        self._clock = clock
        self._scheduler: Any = None
        self._sync_lock = asyncio.Lock()
        self._poll_task: asyncio.Task[None] | None = None
        self._again = False

    async def poll(self) -> PollReport:
        return await self.poller.poll_once()

    async def sync_directory(self, *, actor: str | None = None) -> DirectoryChanges:
        async with self._sync_lock:
            return await sync_directory(
                self.store, self.client, self.config.routes, actor=actor, clock=self._clock
            )

    def start(self) -> None:
        """Schedule the poll and the sync with apscheduler (an interval of 0 leaves that
        job out; both still run on demand).

        The poll job only *ticks*: it starts a poll unless one is running, in which case
        that poll is followed by another at once. Polls thus start every
        ``poll_interval`` seconds, never overlap, and a slow one delays nothing but itself.
        """
        scheduler = AsyncIOScheduler(timezone=UTC)
        n = self.config.national
        now = datetime.now(UTC)
        if n.poll_interval > 0:
            scheduler.add_job(
                self._tick,
                "interval",
                seconds=n.poll_interval,
                next_run_time=now,
                id="national-poll",
                coalesce=True,
                misfire_grace_time=None,
            )
        if n.directory_sync_interval > 0:
            scheduler.add_job(
                self._scheduled_sync,
                "interval",
                seconds=n.directory_sync_interval,
                next_run_time=now + timedelta(seconds=min(5.0, n.directory_sync_interval)),
                id="national-directory-sync",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        scheduler.start()
        self._scheduler = scheduler

    async def _tick(self) -> None:
        if self._poll_task is not None and not self._poll_task.done():
            self._again = True
            return
        self._poll_task = asyncio.create_task(self._polls(), name="national-poll")

    async def _polls(self) -> None:
        while True:
            self._again = False
            try:
                await self.poll()
            except Exception:  # a bug of ours: logged, and the link keeps polling
                log.exception("national poll failed")
            if not self._again:
                return

    async def _scheduled_sync(self) -> None:
        try:
            await self.sync_directory(actor="scheduler")
        except AxisError as exc:
            log.warning("directory sync failed: [%s] %s", exc.code, exc)
        except Exception:
            log.exception("directory sync failed")

    async def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        task, self._poll_task = self._poll_task, None
        if task is not None and not task.done():
            task.cancel()  # an interrupted poll is taken again: the duplicate rule
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.close()
