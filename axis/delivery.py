"""The delivery engine: claims due deliveries and hands each to its route's transport.

    tick():  breakers of the destinations (persisted; merged with ours)
             -> claim due rows (lease; SKIP LOCKED on PostgreSQL), skipping destinations
                that are paused (breaker open) or already at their concurrency limit
             -> one task per claim: transport.deliver(job, bytes) under a timeout
             -> retry decision (axis.retry, pure) + breaker transition (axis.breaker, pure)
             -> store.record_attempt(...) in one transaction

The durable truth (what is due, when, how often tried) lives in the database; the
engine holds only what is in flight. Ticks come from the scheduler's sweep
(``delivery.sweep_interval``), from :meth:`DeliveryEngine.wake` (intake after a commit,
an attempt that finished, a retry coming due) and never overlap. A tick only claims
and launches: attempts run as tasks, so a slow destination never delays another one;
per destination at most ``per_destination`` attempts run at once (one probe while its
breaker is half-open, none while open), and at most ``max_in_flight`` overall.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.webhook import PushClient
from axis.api.common import SERVICES
from axis.breaker import BreakerPolicy, BreakerState, allowed, current, on_failure, on_success
from axis.config import Config, DeliveryConfig
from axis.push import PushTransport
from axis.retry import Retry, RetryPolicy, decide
from axis.store import Store
from axis.store.deliveries import NATIONAL, Claim
from axis.transport import DeliveryOutcome, Transport
from axis_errors import AxisError, ConfigError

__all__ = ["DeliveryEngine", "EngineSettings", "delivery_ctx", "engine_from_config"]

log = logging.getLogger("axis.delivery")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Limits of the engine (from the ``[delivery]`` configuration)."""

    per_destination: int = 4
    destination_limits: Mapping[str, int] | None = None  # e.g. {"national": 16}
    max_in_flight: int = 64
    attempt_timeout: float = 60.0  # a guard above the transports' own timeouts
    lease_seconds: float = 180.0  # must exceed attempt_timeout

    def limit(self, destination: str) -> int:
        limits = self.destination_limits or {}
        return limits.get(destination, self.per_destination)


class DeliveryEngine:
    """Runs deliveries. Build it in the composition root; ``start()``/``stop()`` with the
    daemon. ``tick()`` and ``drain()`` are public so that tests and tools can drive it."""

    def __init__(
        self,
        store: Store,
        transports: Mapping[str, Transport],
        policy: RetryPolicy | None = None,
        *,
        breaker: BreakerPolicy | None = None,
        settings: EngineSettings | None = None,
        clock: Callable[[], datetime] = _utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.transports = dict(transports)
        self.policy = policy or RetryPolicy()
        self.breaker_policy = breaker or BreakerPolicy()
        self.settings = settings or EngineSettings()
        if self.settings.lease_seconds <= self.settings.attempt_timeout:
            raise ValueError("lease_seconds must exceed attempt_timeout")
        self._clock = clock
        self._rand = rand
        self._in_flight: Counter[str] = Counter()
        self._tasks: dict[asyncio.Task[None], int] = {}
        self._breakers: dict[str, BreakerState] = {}
        self._tick_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._running = False
        self._scheduler: Any = None

    def add_transport(self, route: str, transport: Transport) -> None:
        """Plug the transport of a route (e.g. the national adapter's, for ``national``)."""
        self.transports[route] = transport

    # --- observation ---------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def in_flight(self, destination: str | None = None) -> int:
        """Attempts running now (for one destination, or in all)."""
        if destination is None:
            return sum(self._in_flight.values())
        return self._in_flight[destination]

    def breaker(self, destination: str) -> BreakerState:
        """This engine's view of a destination's breaker at the clock's now."""
        state = self._breakers.get(destination, BreakerState(destination))
        return current(state, self._clock(), self.breaker_policy)

    # --- one sweep -----------------------------------------------------------------

    async def _refresh_breakers(self) -> None:
        """Take the persisted breaker of a destination when it is newer than ours (another
        node's view, or an admin's reset)."""
        for dest, stored in (await self.store.breaker_states()).items():
            mine = self._breakers.get(dest)
            if (
                mine is None
                or mine.updated_at is None
                or (stored.updated_at is not None and stored.updated_at > mine.updated_at)
            ):
                self._breakers[dest] = stored

    async def tick(self) -> int:
        """Claim due deliveries and launch their attempts; returns how many were launched.
        Does not wait for them (see :meth:`drain`)."""
        async with self._tick_lock:
            now = self._clock()
            await self._refresh_breakers()
            free = self.settings.max_in_flight - self.in_flight()
            if free <= 0 or not self.transports:
                return 0
            skip: set[str] = set()
            for dest in set(self._breakers) | set(self._in_flight):
                if self._capacity(dest, now) <= 0:
                    skip.add(dest)
            claims = await self.store.claim_due(
                now,
                limit=free,
                lease_seconds=self.settings.lease_seconds,
                per_destination=self.settings.per_destination,
                national_limit=self.settings.limit(NATIONAL),
                routes=tuple(self.transports),
                skip=skip,
            )
            extra: list[int] = []
            launched = 0
            for claim in claims:
                dest = claim.job.destination
                if self._capacity(dest, now) <= 0:
                    extra.append(claim.job.delivery_id)  # more than its share: next time
                    continue
                self._in_flight[dest] += 1
                task = asyncio.create_task(self._attempt(claim), name=f"delivery-{dest}")
                self._tasks[task] = claim.job.delivery_id
                task.add_done_callback(self._tasks.pop)
                launched += 1
            if extra:
                await self.store.release_claims(extra)
            return launched

    def _capacity(self, destination: str, now: datetime) -> int:
        state = current(
            self._breakers.get(destination, BreakerState(destination)), now, self.breaker_policy
        )
        if state is not self._breakers.get(destination) and destination in self._breakers:
            self._breakers[destination] = state  # open -> half-open after the cool-down
        return allowed(state, self.settings.limit(destination)) - self._in_flight[destination]

    async def _attempt(self, claim: Claim) -> None:
        job, data = claim.job, claim.data
        dest = job.destination
        started = time.monotonic()
        try:
            try:
                transport = self.transports[job.route]
                async with asyncio.timeout(self.settings.attempt_timeout):
                    outcome = await transport.deliver(job, data)
            except TimeoutError:
                outcome = DeliveryOutcome(
                    ok=False,
                    error_code="delivery.timeout",
                    error=f"The attempt took longer than {self.settings.attempt_timeout} s.",
                )
            except Exception as exc:  # a bug of ours: record it, retry later
                log.exception("delivery %s: the %s transport failed", job.delivery_id, job.route)
                outcome = DeliveryOutcome(
                    ok=False,
                    error_code="delivery.internal",
                    error=f"The {job.route} transport failed ({type(exc).__name__}).",
                )
            duration_ms = int((time.monotonic() - started) * 1000)
            now = self._clock()
            decision = decide(
                self.policy,
                attempts_made=job.attempts + 1,
                since=claim.since,
                now=now,
                outcome=outcome,
                rand=self._rand(),
            )
            before = current(self._breakers.get(dest, BreakerState(dest)), now, self.breaker_policy)
            if outcome.ok or not outcome.retryable:  # the destination answered sensibly
                after = on_success(before, now)
            else:
                after = on_failure(before, now, self.breaker_policy, outcome.error_code)
            if after.state != before.state:
                log.warning("destination %s: breaker %s -> %s", dest, before.state, after.state)
            self._breakers[dest] = after
            try:
                await self.store.record_attempt(
                    job,
                    outcome,
                    decision,
                    now,
                    duration_ms=duration_ms,
                    breaker=after if after != before else None,
                )
            except AxisError as exc:  # the lease expires and the row is tried again
                log.error("delivery %s: cannot record the attempt: %s", job.delivery_id, exc)
                return
            if isinstance(decision, Retry):
                self._wake_at(decision.at, now)
            elif not outcome.ok:
                log.warning("delivery %s is a dead letter: %s", job.delivery_id, decision)
        finally:
            self._in_flight[dest] -= 1
            if self._in_flight[dest] <= 0:
                del self._in_flight[dest]
            self.wake()  # a slot is free: the destination may have more waiting

    def _wake_at(self, at: datetime, now: datetime) -> None:
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, (at - now).total_seconds())
        handle: asyncio.TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            self.wake()

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    async def drain(self) -> None:
        """Wait until every launched attempt has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- running -------------------------------------------------------------------

    def wake(self) -> None:
        """Ask for a tick soon (coalesced; a no-op unless started)."""
        if self._running:
            self._wake.set()

    async def _loop(self) -> None:
        while self._running:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.tick()
            except Exception:
                log.exception("delivery sweep failed")
                await asyncio.sleep(0.5)

    @property
    def scheduler_running(self) -> bool:
        return self._scheduler is not None and bool(self._scheduler.running)

    def start(self, sweep_interval: float | None = 1.0) -> None:
        """Start ticking on :meth:`wake`, and (unless ``sweep_interval`` is None) an
        apscheduler job that sweeps every ``sweep_interval`` seconds."""
        if self._running:
            return
        self._running = True
        self._runner = asyncio.create_task(self._loop(), name="delivery-engine")
        if sweep_interval is not None:
            scheduler = AsyncIOScheduler(timezone=UTC)
            scheduler.add_job(
                self.sweep,
                "interval",
                seconds=sweep_interval,
                id="delivery-sweep",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
            scheduler.start()
            self._scheduler = scheduler
        self.wake()

    async def sweep(self) -> None:
        """The scheduler's periodic job: a tick, to pick up retries that came due."""
        self.wake()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop ticking; let running attempts finish for ``grace`` seconds, cancel the
        rest and give their deliveries back (no lease left behind)."""
        self._running = False
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            unfinished = [self._tasks[t] for t in pending if t in self._tasks]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if unfinished:
                with contextlib.suppress(AxisError):
                    await self.store.release_claims(unfinished)

    async def close(self) -> None:
        """Stop, then close the transports that hold connections."""
        await self.stop()
        for transport in self.transports.values():
            closer = getattr(transport, "close", None)
            if closer is not None:
                await closer()


# --- the composition root's part ---------------------------------------------------------


def push_ssl_context(d: DeliveryConfig) -> ssl.SSLContext | None:
    """TLS settings of push requests: our client certificate (mTLS) and the endpoints'
    CAs; None means the system's defaults."""
    if (d.client_cert is None) != (d.client_key is None):
        raise ConfigError(
            "delivery.client_cert and delivery.client_key must be given together.",
            code="config.bad-value",
            details={"key": "delivery.client_key"},
        )
    if d.client_cert is None and d.ca_file is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    try:
        if d.ca_file is not None:
            ctx.load_verify_locations(d.ca_file)
        if d.client_cert is not None and d.client_key is not None:
            ctx.load_cert_chain(d.client_cert, d.client_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"Cannot load the push TLS files ({type(exc).__name__}).",
            code="config.tls-unreadable",
        ) from None
    return ctx


def engine_from_config(
    config: Config, store: Store, *, clock: Callable[[], datetime] | None = None
) -> DeliveryEngine:
    """The engine with the push transport for the route ``local``; the national
    adapter adds its own with :meth:`DeliveryEngine.add_transport`."""
    d = config.delivery
    policy = RetryPolicy(
        max_attempts=d.max_attempts,
        base_delay=d.base_delay,
        max_delay=d.max_delay,
        max_age=timedelta(hours=d.max_age_hours),
    )
    breaker = BreakerPolicy(
        failures=d.breaker_failures,
        failing_for=timedelta(seconds=d.breaker_failing_for),
        cooldown=timedelta(seconds=d.breaker_cooldown),
    )
    attempt_timeout = d.push_timeout + 10.0
    settings = EngineSettings(
        per_destination=d.per_destination_concurrency,
        max_in_flight=d.max_in_flight,
        attempt_timeout=attempt_timeout,
        lease_seconds=max(60.0, 2 * attempt_timeout),
    )
    client = PushClient(
        timeout=d.push_timeout,
        ssl_context=push_ssl_context(d),
        connections=max(d.max_in_flight, 10),
        per_host=d.per_destination_concurrency,
    )
    transports: dict[str, Transport] = {"local": PushTransport(store, client)}
    return DeliveryEngine(
        store,
        transports,
        policy,
        breaker=breaker,
        settings=settings,
        clock=clock or _utcnow,
    )


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the engine runs while the app does."""
    services = app[SERVICES]
    engine = services.delivery
    if engine is None:
        yield
        return
    engine.start(services.config.delivery.sweep_interval)
    try:
        yield
    finally:
        await engine.close()
