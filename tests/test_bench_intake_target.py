"""The intake benchmark's verdict on issue 3's target: both halves, at their bounds."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from bench.bench_intake import TARGET_P99, TARGET_RATE, ms, target_verdict


def test_both_halves_met() -> None:
    assert target_verdict(1283.0, 0.0163) == (
        "met: 1283 packets/s ≥ 800, p99 at 400/s 16.3 ms < 50.0 ms"
    )


def test_the_bounds() -> None:
    assert target_verdict(TARGET_RATE, 0.0499).startswith("met:")
    assert target_verdict(TARGET_RATE - 0.1, 0.010).startswith("not met: 799.9 packets/s < 800")
    assert "p99 at 400/s 49.99 ms < 50.0 ms" in target_verdict(TARGET_RATE, 0.04999)
    assert target_verdict(900.0, TARGET_P99) == (
        "not met: 900 packets/s ≥ 800, p99 at 400/s 50.0 ms ≥ 50.0 ms"
    )


def test_rounded_as_the_other_lines_are_away_from_the_bounds() -> None:
    assert target_verdict(1277.0, 0.01918) == (
        "met: 1277 packets/s ≥ 800, p99 at 400/s 19.2 ms < 50.0 ms"
    )
    # halfway figures, where rounding the float and rounding its decimal differ
    for p99 in (0.01705, 0.03095, 0.04985):
        assert f"p99 at 400/s {ms(p99)} < 50.0 ms" in target_verdict(900.0, p99)


@given(st.floats(0, 5000), st.floats(0, 1))
@example(799.9999999999999, 0.049999999999999996)  # the floats just below the bounds
@example(799.96, 0.04996)
@example(800.0, 0.05)
def test_met_exactly_when_both_halves_hold(rate: float, p99: float) -> None:
    verdict = target_verdict(rate, p99)
    assert verdict.startswith("met:") == (rate >= TARGET_RATE and p99 < TARGET_P99)
    # the figures printed agree with the comparison printed beside them
    shown_rate = float(verdict.split(": ", 1)[1].split(" packets/s")[0])
    shown_p99 = float(verdict.split("/s ")[-1].split(" ms")[0])
    assert (shown_rate >= TARGET_RATE) == (rate >= TARGET_RATE)
    assert (shown_p99 < TARGET_P99 * 1000) == (p99 < TARGET_P99)
