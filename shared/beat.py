"""Beat's scheduler on Redis: RedBeat, which keeps one beat sending the schedule, made to
survive losing its lock.

RedBeat extends its lock in Redis at every tick, and exits when Redis does not answer (its
retrying client does not cover the lock) or when the lock is no longer its own.
That happens when another beat took over (this one stalled past the lock's timeout), and
also when Redis lost the key: flushed, or restarted without the key on disk. Exiting leaves
the schedule unsent until a supervisor restarts beat, and a flush also removed the schedule's
entries, which RedBeat only installs at start. This scheduler instead waits for Redis; and
when the lock is gone it waits to take it again (behind another beat, if one holds it, so there
is never more than one sending) and installs the entries again, then goes on.
"""

from __future__ import annotations

from typing import Any

import structlog
from redbeat.schedulers import RedBeatScheduler, acquire_distributed_beat_lock
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockNotOwnedError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger(__name__)
RETRY_SECONDS = 1.0


class Scheduler(RedBeatScheduler):  # type: ignore[misc]  # RedBeat is untyped
    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            return float(super().tick(*args, **kwargs))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Nothing can be sent meanwhile either: the broker is this Redis.
            log.warning("beat_redis_unavailable", error=str(exc), retry_in=RETRY_SECONDS)
            return RETRY_SECONDS
        except LockNotOwnedError:
            log.warning(
                "beat_lock_lost", lock=self.lock_key, action="taking it again when it is free"
            )
            self.lock = None
            # Blocks while another beat holds the lock; RedBeat's own start-up step.
            acquire_distributed_beat_lock(_Sender(self))
            self.setup_schedule()  # entries keep their last run where they survived
            log.info("beat_lock_retaken", lock=self.lock_key)
            return 0.0  # tick again at once: whatever fell due meanwhile is sent now


class _Sender:
    """What `acquire_distributed_beat_lock` expects as its signal's sender: the beat service."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
