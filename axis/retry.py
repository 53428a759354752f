"""The retry policy of deliveries: a pure decision, no clock, no randomness of its own.

After every attempt the delivery engine asks :func:`decide` what happens next:

- the attempt succeeded                                  -> :class:`Done`
- the peer refused the packet for good (not retryable)   -> :class:`Dead` at once
- ``max_attempts`` attempts have been made                -> :class:`Dead`
- the delivery is ``max_age`` old (counted from ``since``) -> :class:`Dead`
- otherwise                                              -> :class:`Retry` at ``now + delay``

The delay of the *n*-th retry (n = attempts made, 1-based) is exponential with a cap
and a symmetric jitter drawn by the caller::

    raw   = min(max_delay, base_delay * factor ** (n - 1))
    delay = min(max_delay, raw * (1 + jitter * (2 * rand - 1)))     rand in [0, 1)

so for a fixed ``rand`` the delay never decreases from one attempt to the next and
never exceeds ``max_delay``; the jitter spreads retries of many deliveries that failed
together (a receiver coming back is not hit by all of them in the same second). A
retry never lands after the deadline ``since + max_age``: the last one is scheduled at
the deadline itself, and a failure at or after the deadline is final.

Like procrastinate's ``RetryStrategy``, this module knows nothing about storage: the
durable state (attempts, next attempt time) lives in the database and is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from axis.transport import DeliveryOutcome
from axis_errors import ConfigError

__all__ = ["Dead", "Decision", "Done", "Retry", "RetryPolicy", "decide", "retry_delay"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and for how long a delivery is tried. Frozen; checked on creation."""

    max_attempts: int = 8
    base_delay: float = 2.0  # seconds before the first retry
    factor: float = 2.0
    max_delay: float = 600.0  # seconds
    jitter: float = 0.2  # 0 <= jitter <= 1: +-20 % around the exponential delay
    max_age: timedelta = timedelta(days=3)

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            problems.append("delays must not be negative")
        if self.factor < 1:
            problems.append("factor must be at least 1")
        if not 0 <= self.jitter <= 1:
            problems.append("jitter must be between 0 and 1")
        if self.max_age <= timedelta(0):
            problems.append("max_age must be positive")
        if problems:
            raise ConfigError(
                "Invalid retry policy: " + "; ".join(problems) + ".",
                code="config.bad-retry-policy",
            )


@dataclass(frozen=True, slots=True)
class Retry:
    """Try again at ``at`` (aware UTC)."""

    at: datetime


@dataclass(frozen=True, slots=True)
class Dead:
    """Give up: the delivery becomes a dead letter; ``reason`` is one sentence for admins."""

    reason: str


@dataclass(frozen=True, slots=True)
class Done:
    """Delivered: the receiver took responsibility."""


Decision = Retry | Dead | Done


def retry_delay(policy: RetryPolicy, attempts_made: int, rand: float) -> float:
    """Seconds to wait after the ``attempts_made``-th failed attempt (see the module doc)."""
    n = max(1, attempts_made)
    exponent = min(n - 1, 1024)  # large enough to reach any cap, small enough for floats
    try:
        raw = min(policy.max_delay, policy.base_delay * policy.factor**exponent)
    except OverflowError:
        raw = policy.max_delay
    r = min(max(rand, 0.0), 1.0)
    return max(0.0, min(policy.max_delay, raw * (1 + policy.jitter * (2 * r - 1))))


def decide(
    policy: RetryPolicy,
    *,
    attempts_made: int,
    since: datetime,
    now: datetime,
    outcome: DeliveryOutcome,
    rand: float,
) -> Decision:
    """What follows an attempt.

    ``attempts_made`` counts the attempt just finished (1 after the first one).
    ``since`` is when the delivery's current round began: its creation, or the moment
    an admin requeued it. ``rand`` is a uniform draw in [0, 1) made by the caller.
    """
    if outcome.ok:
        return Done()
    what = outcome.error_code or "failed"
    if not outcome.retryable:
        return Dead(f"The receiver refused the packet ({what}); retrying cannot help.")
    if attempts_made >= policy.max_attempts:
        return Dead(f"Gave up after {attempts_made} attempts; the last one: {what}.")
    deadline = since + policy.max_age
    if now >= deadline:
        return Dead(f"Gave up: still failing ({what}) after {policy.max_age} of attempts.")
    at = now + timedelta(seconds=retry_delay(policy, attempts_made, rand))
    return Retry(min(at, deadline))
