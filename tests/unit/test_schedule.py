from __future__ import annotations

import datetime as dt

from services.poller.schedule import IntervalPolicy, next_poll_delay

POLICY = IntervalPolicy(default_minutes=15, min_minutes=5, max_minutes=24 * 60)


def minutes(delay: dt.timedelta) -> float:
    return delay.total_seconds() / 60


def test_default_interval() -> None:
    assert minutes(next_poll_delay(POLICY)) == 15


def test_default_is_clamped_to_the_bounds() -> None:
    assert minutes(next_poll_delay(IntervalPolicy(1, 5, 60))) == 5
    assert minutes(next_poll_delay(IntervalPolicy(500, 5, 60))) == 60


def test_pinned_interval_wins_even_below_the_minimum() -> None:
    assert minutes(next_poll_delay(POLICY, pinned_minutes=1)) == 1
    assert minutes(next_poll_delay(POLICY, pinned_minutes=10_000)) == 24 * 60


def test_failures_back_off_exponentially_up_to_the_maximum() -> None:
    delays = [minutes(next_poll_delay(POLICY, failures=n)) for n in range(1, 9)]
    assert delays[:4] == [30, 60, 120, 240]
    assert delays[-1] == 24 * 60
    assert delays == sorted(delays)


def test_ttl_and_retry_after_are_floors() -> None:
    assert minutes(next_poll_delay(POLICY, ttl_minutes=60)) == 60
    assert minutes(next_poll_delay(POLICY, ttl_minutes=5)) == 15
    assert minutes(next_poll_delay(POLICY, retry_after=dt.timedelta(hours=2))) == 120
    # A server asking for a week still gets polled within the maximum.
    assert minutes(next_poll_delay(POLICY, retry_after=dt.timedelta(days=7))) == 24 * 60
