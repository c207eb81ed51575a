"""When to poll a source next. Pure functions of the source's state and the server's hints."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MAX_BACKOFF_DOUBLINGS = 10


@dataclass(frozen=True)
class IntervalPolicy:
    default_minutes: int
    min_minutes: int
    max_minutes: int


def next_poll_delay(
    policy: IntervalPolicy,
    *,
    pinned_minutes: int | None = None,
    failures: int = 0,
    ttl_minutes: int | None = None,
    retry_after: dt.timedelta | None = None,
) -> dt.timedelta:
    """The wait before the next poll.

    An operator's pinned interval wins over the default; failures double the wait (capped at the
    maximum); the feed's `ttl` and the server's Retry-After are floors we never poll sooner than.
    """
    if pinned_minutes is not None:
        minutes = max(1, min(pinned_minutes, policy.max_minutes))
    else:
        minutes = max(policy.min_minutes, min(policy.default_minutes, policy.max_minutes))
    if failures > 0:
        minutes = min(minutes * 2 ** min(failures, MAX_BACKOFF_DOUBLINGS), policy.max_minutes)
    delay = dt.timedelta(minutes=minutes)
    if ttl_minutes:
        delay = max(delay, dt.timedelta(minutes=min(ttl_minutes, policy.max_minutes)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, dt.timedelta(minutes=policy.max_minutes)))
    return delay
