"""The circuit breaker of a delivery destination: a pure state machine.

A destination is a push endpoint (its URL's origin) or the national axis. While its
attempts fail, sending it more packets only piles up timeouts; the breaker pauses it::

    closed --(N consecutive failures, or failing for T)--> open
    open --(cool-down elapsed)--> half-open          (one probe at a time)
    half-open --success--> closed
    half-open --failure--> open                      (the cool-down starts again)
    any --success--> closed

``paused`` (open or half-open) is what admins see. The engine asks :func:`current`
before claiming work for a destination (how many attempts it may run: all, one probe,
none) and feeds every outcome to :func:`on_success` / :func:`on_failure`. Times are
arguments; nothing here reads a clock. The state is persisted by the store so that
every node and the dashboard see it, and a restart keeps a destination paused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from axis_errors import ConfigError

__all__ = [
    "BreakerPolicy",
    "BreakerState",
    "State",
    "allowed",
    "current",
    "on_failure",
    "on_success",
]

State = Literal["closed", "open", "half-open"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int = 5  # consecutive failures that open the breaker
    failing_for: timedelta = timedelta(minutes=5)  # ...or failing without a success this long
    cooldown: timedelta = timedelta(seconds=60)  # open this long before a probe

    def __post_init__(self) -> None:
        if self.failures < 1 or self.cooldown < timedelta(0) or self.failing_for <= timedelta(0):
            raise ConfigError(
                "Invalid circuit breaker policy: failures must be at least 1, the "
                "cool-down must not be negative and failing_for must be positive.",
                code="config.bad-breaker-policy",
            )


@dataclass(frozen=True, slots=True)
class BreakerState:
    """The breaker of one destination. ``updated_at`` orders versions between nodes."""

    destination: str
    state: State = "closed"
    failures: int = 0  # consecutive failures
    failing_since: datetime | None = None  # first failure of the current streak
    opened_at: datetime | None = None
    last_error: str | None = None
    updated_at: datetime | None = None

    @property
    def paused(self) -> bool:
        """True while the destination is not sent its normal load (open or probing)."""
        return self.state != "closed"


def current(s: BreakerState, now: datetime, policy: BreakerPolicy) -> BreakerState:
    """The state at ``now``: an open breaker whose cool-down has passed is half-open."""
    if s.state == "open" and s.opened_at is not None and now >= s.opened_at + policy.cooldown:
        return replace(s, state="half-open", updated_at=now)
    return s


def allowed(s: BreakerState, limit: int) -> int:
    """How many attempts may run at once for a destination in this state."""
    if s.state == "closed":
        return limit
    return min(1, limit) if s.state == "half-open" else 0


def on_success(s: BreakerState, now: datetime) -> BreakerState:
    """An attempt succeeded (or the peer answered sensibly): the breaker closes."""
    if s.state == "closed" and s.failures == 0 and s.failing_since is None:
        return s
    return BreakerState(s.destination, "closed", 0, None, None, None, now)


def on_failure(
    s: BreakerState, now: datetime, policy: BreakerPolicy, error: str | None = None
) -> BreakerState:
    """An attempt failed in a way that says the destination is unwell."""
    failures = s.failures + 1
    since = s.failing_since or now
    if s.state == "half-open":  # the probe failed: open again, a new cool-down
        return replace(
            s, state="open", failures=failures, failing_since=since, opened_at=now,
            last_error=error, updated_at=now,
        )  # fmt: skip
    if s.state == "open":  # a late answer to an attempt started before it opened
        return replace(s, failures=failures, failing_since=since, last_error=error, updated_at=now)
    trips = failures >= policy.failures or now - since >= policy.failing_for
    return replace(
        s,
        state="open" if trips else "closed",
        failures=failures,
        failing_since=since,
        opened_at=now if trips else None,
        last_error=error,
        updated_at=now,
    )
