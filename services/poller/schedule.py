"""When to poll a source next. Pure functions of the source's state and the server's hints."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

MAX_BACKOFF_DOUBLINGS = 10
MINUTES_PER_WEEK = 7 * 24 * 60
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)


@dataclass(frozen=True)
class IntervalPolicy:
    default_minutes: int
    min_minutes: int
    max_minutes: int
    # Poll this many times more often than stories arrive on average (Miniflux's
    # entry-frequency rule): a news desk wants a story within a fraction of the gap.
    frequency_factor: float = 3.0


def adaptive_minutes(policy: IntervalPolicy, stories_last_week: int | None) -> int:
    """The interval the source's own rhythm suggests, within [min, max].

    None (no history yet) gives the default; a quiet week gives the maximum.
    """
    if stories_last_week is None:
        minutes = policy.default_minutes
    elif stories_last_week == 0:
        minutes = policy.max_minutes
    else:
        minutes = round(MINUTES_PER_WEEK / (stories_last_week * policy.frequency_factor))
    return max(policy.min_minutes, min(minutes, policy.max_minutes))


def cache_max_age(cache_control: str | None) -> dt.timedelta | None:
    """max-age (or s-maxage) from a Cache-Control header; None without one."""
    if not cache_control or "no-cache" in cache_control.lower():
        return None
    ages = [int(value) for value in _MAX_AGE.findall(cache_control)]
    return dt.timedelta(seconds=max(ages)) if ages else None


def next_poll_delay(
    policy: IntervalPolicy,
    *,
    pinned_minutes: int | None = None,
    stories_last_week: int | None = None,
    failures: int = 0,
    ttl_minutes: int | None = None,
    max_age: dt.timedelta | None = None,
    retry_after: dt.timedelta | None = None,
    at_least_minutes: int | None = None,
) -> dt.timedelta:
    """The wait before the next poll.

    An operator's pinned interval wins over the adaptive one; failures double the wait (capped
    at the maximum); the feed's `ttl`, Cache-Control max-age and the server's Retry-After are
    floors we never poll sooner than (capped at the maximum too, so a feed asking for a week
    is still polled daily); `at_least_minutes` is a floor of our own (the WebSub safety poll).
    """
    if pinned_minutes is not None:
        minutes = max(1, min(pinned_minutes, policy.max_minutes))
    else:
        minutes = adaptive_minutes(policy, stories_last_week)
    if failures > 0:
        minutes = min(minutes * 2 ** min(failures, MAX_BACKOFF_DOUBLINGS), policy.max_minutes)
    if at_least_minutes:
        minutes = max(minutes, at_least_minutes)
    delay = dt.timedelta(minutes=minutes)
    ceiling = dt.timedelta(minutes=policy.max_minutes)
    for floor in (
        dt.timedelta(minutes=ttl_minutes) if ttl_minutes else None,
        max_age,
        retry_after,
    ):
        if floor is not None:
            delay = max(delay, min(floor, ceiling))
    return delay
