"""The circuit breaker of a destination: a pure state machine, property-tested."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from axis.breaker import BreakerPolicy, BreakerState, allowed, current, on_failure, on_success

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
POLICY = BreakerPolicy(failures=3, failing_for=timedelta(minutes=5), cooldown=timedelta(seconds=60))

# a run of events: (seconds since the previous event, succeeded?)
runs = st.lists(st.tuples(st.integers(0, 400), st.booleans()), max_size=40)


def replay(events: list[tuple[int, bool]]) -> list[tuple[datetime, BreakerState]]:
    s = BreakerState("https://agency.example")
    now = T0
    out = []
    for gap, ok in events:
        now += timedelta(seconds=gap)
        s = current(s, now, POLICY)
        s = on_success(s, now) if ok else on_failure(s, now, POLICY, "push.timeout")
        out.append((now, s))
    return out


@given(runs)
def test_success_always_closes(events: list[tuple[int, bool]]) -> None:
    for (_, s), (_, ok) in zip(replay(events), events, strict=True):
        if ok:
            assert s.state == "closed" and s.failures == 0 and not s.paused


@given(runs)
def test_opens_only_after_enough_failures_or_long_enough(events: list[tuple[int, bool]]) -> None:
    prev = BreakerState("https://agency.example")
    for now, s in replay(events):
        if s.state == "open" and prev.state == "closed":
            assert s.failures >= POLICY.failures or (
                s.failing_since is not None and now - s.failing_since >= POLICY.failing_for
            )
        prev = s


@given(runs)
def test_a_streak_of_failures_opens(events: list[tuple[int, bool]]) -> None:
    states = replay([*events, *[(0, False)] * POLICY.failures])
    assert states[-1][1].paused


@given(st.integers(0, 120))
def test_half_open_only_after_the_cooldown(wait: int) -> None:
    s = BreakerState("d")
    for _ in range(POLICY.failures):
        s = on_failure(s, T0, POLICY)
    assert s.state == "open" and allowed(s, 4) == 0
    later = current(s, T0 + timedelta(seconds=wait), POLICY)
    if wait >= 60:
        assert later.state == "half-open" and allowed(later, 4) == 1
    else:
        assert later.state == "open" and allowed(later, 4) == 0


def test_failed_probe_reopens_with_a_new_cooldown() -> None:
    s = BreakerState("d")
    for _ in range(3):
        s = on_failure(s, T0, POLICY)
    probe_at = T0 + timedelta(seconds=61)
    s = current(s, probe_at, POLICY)
    assert s.state == "half-open"
    s = on_failure(s, probe_at, POLICY, "push.http-503")
    assert s.state == "open" and s.opened_at == probe_at and s.last_error == "push.http-503"
    assert current(s, probe_at + timedelta(seconds=59), POLICY).state == "open"
    assert current(s, probe_at + timedelta(seconds=60), POLICY).state == "half-open"
    s = on_success(current(s, probe_at + timedelta(seconds=60), POLICY), probe_at)
    assert s.state == "closed" and allowed(s, 4) == 4


def test_failing_for_long_enough_opens_with_few_failures() -> None:
    s = on_failure(BreakerState("d"), T0, POLICY)
    assert s.state == "closed"
    s = on_failure(s, T0 + timedelta(minutes=5), POLICY)
    assert s.state == "open" and s.failures == 2
