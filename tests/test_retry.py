"""The retry policy: a pure decision, checked with property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from axis.retry import Dead, Done, Retry, RetryPolicy, decide, retry_delay
from axis.transport import DeliveryOutcome
from axis_errors import ConfigError

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
FAIL = DeliveryOutcome(ok=False, error_code="push.http-500", error="boom")
REFUSED = DeliveryOutcome(ok=False, error_code="push.http-400", error="no", retryable=False)

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 50),
    base_delay=st.floats(0, 100, allow_nan=False),
    factor=st.floats(1, 10, allow_nan=False),
    max_delay=st.floats(0, 10_000, allow_nan=False),
    jitter=st.floats(0, 1, allow_nan=False),
    max_age=st.timedeltas(timedelta(seconds=1), timedelta(days=30)),
)
rands = st.floats(0, 1, exclude_max=True, allow_nan=False)
attempts = st.integers(1, 200)


@given(policies, attempts, rands)
def test_delay_never_exceeds_max_delay(policy: RetryPolicy, n: int, rand: float) -> None:
    assert 0 <= retry_delay(policy, n, rand) <= policy.max_delay


@given(policies, attempts, rands)
def test_delay_does_not_decrease_with_attempts(policy: RetryPolicy, n: int, rand: float) -> None:
    # for every draw, hence also in expectation
    assert retry_delay(policy, n, rand) <= retry_delay(policy, n + 1, rand)


@given(policies, attempts)
def test_expected_delay_does_not_decrease(policy: RetryPolicy, n: int) -> None:
    grid = [i / 64 for i in range(64)]
    mean = sum(retry_delay(policy, n, r) for r in grid) / len(grid)
    mean_next = sum(retry_delay(policy, n + 1, r) for r in grid) / len(grid)
    assert mean <= mean_next + 1e-9


@given(rands)
def test_jitter_stays_within_its_band(rand: float) -> None:
    policy = RetryPolicy(base_delay=10, factor=2, max_delay=10_000, jitter=0.2)
    for n in range(1, 8):
        raw = 10 * 2 ** (n - 1)
        assert raw * 0.8 <= retry_delay(policy, n, rand) <= raw * 1.2


@given(policies, st.integers(0, 200), rands)
def test_dead_after_max_attempts(policy: RetryPolicy, extra: int, rand: float) -> None:
    n = policy.max_attempts + extra
    d = decide(policy, attempts_made=n, since=T0, now=T0, outcome=FAIL, rand=rand)
    assert isinstance(d, Dead) and "attempts" in d.reason


@given(policies, attempts, st.timedeltas(timedelta(0), timedelta(days=60)), rands)
def test_dead_after_max_age_and_no_retry_past_the_deadline(
    policy: RetryPolicy, n: int, age: timedelta, rand: float
) -> None:
    now = T0 + age
    d = decide(policy, attempts_made=n, since=T0, now=now, outcome=FAIL, rand=rand)
    if n >= policy.max_attempts or age >= policy.max_age:
        assert isinstance(d, Dead)
    else:
        assert isinstance(d, Retry)
        assert now <= d.at <= T0 + policy.max_age
        assert d.at - now <= timedelta(seconds=policy.max_delay)


@given(policies, attempts, rands)
def test_not_retryable_is_dead_at_once(policy: RetryPolicy, n: int, rand: float) -> None:
    d = decide(policy, attempts_made=n, since=T0, now=T0, outcome=REFUSED, rand=rand)
    assert isinstance(d, Dead) and "push.http-400" in d.reason


@given(policies, attempts, rands)
def test_success_is_done(policy: RetryPolicy, n: int, rand: float) -> None:
    ok = DeliveryOutcome(ok=True)
    assert decide(policy, attempts_made=n, since=T0, now=T0, outcome=ok, rand=rand) == Done()


@given(policies, attempts, rands)
def test_deterministic_given_rand(policy: RetryPolicy, n: int, rand: float) -> None:
    a = decide(policy, attempts_made=n, since=T0, now=T0, outcome=FAIL, rand=rand)
    b = decide(policy, attempts_made=n, since=T0, now=T0, outcome=FAIL, rand=rand)
    assert a == b


def test_default_schedule() -> None:
    policy = RetryPolicy(jitter=0)
    delays = [retry_delay(policy, n, 0.5) for n in range(1, 12)]
    assert delays[:4] == [2, 4, 8, 16]
    assert delays[-1] == 600
    d = decide(policy, attempts_made=1, since=T0, now=T0, outcome=FAIL, rand=0.5)
    assert d == Retry(T0 + timedelta(seconds=2))
    assert isinstance(
        decide(policy, attempts_made=8, since=T0, now=T0, outcome=FAIL, rand=0.5), Dead
    )


@pytest.mark.parametrize(
    "kw",
    [{"max_attempts": 0}, {"jitter": 1.5}, {"factor": 0.5}, {"max_age": timedelta(0)}],
)
def test_bad_policies_are_refused(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as err:
        RetryPolicy(**kw)  # type: ignore[arg-type]
    assert err.value.code == "config.bad-retry-policy"
