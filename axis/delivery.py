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
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from axis.breaker import BreakerPolicy, BreakerState, allowed, current, on_failure, on_success
from axis.retry import Retry, RetryPolicy, decide
from axis.store import Store
from axis.store.deliveries import NATIONAL, Claim
from axis.transport import DeliveryOutcome, Transport
from axis_errors import AxisError

__all__ = ["DeliveryEngine", "EngineSettings"]

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

    def start(self) -> None:
        """Start ticking on :meth:`wake` (the scheduler's sweep calls :meth:`sweep`)."""
        if self._running:
            return
        self._running = True
        self._runner = asyncio.create_task(self._loop(), name="delivery-engine")
        self.wake()

    async def sweep(self) -> None:
        """The scheduler's periodic job: a tick, to pick up retries that came due."""
        self.wake()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop ticking; let running attempts finish for ``grace`` seconds, cancel the
        rest and give their deliveries back (no lease left behind)."""
        self._running = False
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
