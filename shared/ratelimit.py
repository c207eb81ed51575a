"""Rate limits, with the `limits` library: sign-in failures and partner feed requests.

Sign-in failures are counted where every web process sees them: in Redis when the broker is
Redis (production), in the process otherwise (`crossfeed up` runs one web process). A moving
window: ten failures in five minutes lock that username, and that client address, until the
oldest failure leaves the window; a successful sign-in is never counted.

Partner feed requests are counted by each web process in its memory (a fixed window,
`LocalWindow`): a Redis round trip would cost more than the cached answer itself, and a partner
polling too fast is stopped by any process it reaches, which is the point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse, storage, strategies

from shared.settings import Settings


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int  # seconds, when not allowed


class Limiter:
    def __init__(self, rate: str, store: storage.Storage, moving: bool) -> None:
        self.rate: RateLimitItem = parse(rate)
        self.strategy: strategies.RateLimiter = (
            strategies.MovingWindowRateLimiter(store)
            if moving
            else strategies.FixedWindowRateLimiter(store)
        )

    def hit(self, *key: str) -> Verdict:
        """Count one request (or failure) for `key`; refused once over the rate."""
        if self.strategy.hit(self.rate, *key):
            return Verdict(True, 0)
        return self.refused(*key)

    def check(self, *key: str) -> Verdict:
        """Whether `key` is over the rate now, without counting anything."""
        if self.strategy.test(self.rate, *key):
            return Verdict(True, 0)
        return self.refused(*key)

    def refused(self, *key: str) -> Verdict:
        reset = self.strategy.get_window_stats(self.rate, *key).reset_time
        return Verdict(False, max(1, math.ceil(reset - time.time())))


def login_limiter(settings: Settings) -> Limiter:
    if settings.broker_url.startswith(("redis://", "rediss://")):
        store: storage.Storage = storage.RedisStorage(
            settings.broker_url, key_prefix=f"{settings.redis_prefix}limits"
        )
    else:
        store = storage.MemoryStorage()
    return Limiter(settings.login_rate_limit, store, moving=True)


class LocalWindow:
    """A fixed-window count in this process's memory, for the feed path.

    Written here rather than taken from `limits`: its memory storage keeps a background timer
    thread that expires keys and costs about 4 us a hit, which on a feed answer of about 5 us
    cut the served rate by a third (bench/feeds.py); this is a dictionary update.
    """

    def __init__(self, rate: str) -> None:
        item = parse(rate)
        self.amount = item.amount
        self.seconds = item.get_expiry()
        self.windows: dict[str, tuple[float, int]] = {}

    def hit(self, *key: str) -> Verdict:
        now = time.monotonic()
        name = ":".join(key)
        start, count = self.windows.get(name, (now, 0))
        if now - start >= self.seconds:
            start, count = now, 0
        if count >= self.amount:
            return Verdict(False, max(1, math.ceil(start + self.seconds - now)))
        if len(self.windows) > 100_000:  # one entry per partner: never reached but by a bug
            self.windows.clear()
        self.windows[name] = (start, count + 1)
        return Verdict(True, 0)


def feeds_limiter(settings: Settings) -> LocalWindow | None:
    if not settings.feeds_rate_limit:
        return None
    return LocalWindow(settings.feeds_rate_limit)
