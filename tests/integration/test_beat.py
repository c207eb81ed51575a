"""One beat only: with Redis, RedBeat's lock lets a second beat wait instead of doubling ticks;
a beat whose lock Redis lost takes it back, and waits while another beat holds it."""

from __future__ import annotations

import re
from pathlib import Path

import redis

from tests.conftest import REDIS_URL, make_settings, settings_env
from tests.support.processes import Processes
from tests.support.wait import wait_for

SENT = re.compile(r"Sending due task poll-due-sources")


def test_a_second_beat_on_redis_sends_nothing_while_the_first_runs(
    tmp_path: Path, pg_url: str, redis_prefix: str, procs: Processes
) -> None:
    settings = make_settings(
        tmp_path / "var",
        database_url=pg_url,
        broker_url=REDIS_URL,
        redis_prefix=redis_prefix,
        poll_sweep_seconds=1,
    )
    env = settings_env(settings)
    first = procs.start("beat-1", ["beat"], env)
    wait_for(lambda: SENT.search(first.output()), timeout=30, what="the first beat to tick")
    second = procs.start("beat-2", ["beat"], env)
    wait_for(lambda: len(SENT.findall(first.output())) >= 8, timeout=30, what="8 more ticks")
    assert "scheduler -> shared.beat.Scheduler" in second.output()
    assert SENT.findall(second.output()) == []

    # When the first beat goes away, the second takes over once the lock expires.
    first.kill()
    wait_for(lambda: SENT.search(second.output()), timeout=60, what="the second beat to take over")


def test_a_beat_whose_lock_redis_lost_takes_it_back_and_never_sends_beside_another(
    tmp_path: Path, pg_url: str, redis_prefix: str, procs: Processes
) -> None:
    settings = make_settings(
        tmp_path / "var", database_url=pg_url, broker_url=REDIS_URL, redis_prefix=redis_prefix,
        poll_sweep_seconds=1,
    )  # fmt: skip
    beat = procs.start("beat", ["beat"], settings_env(settings))
    wait_for(lambda: SENT.search(beat.output()), timeout=30, what="beat to tick")
    client = redis.Redis.from_url(REDIS_URL)
    lock = f"{redis_prefix}redbeat::lock"
    assert client.exists(lock)

    # Redis loses everything of ours (a flush): the lock and the schedule's entries.
    client.delete(*client.scan_iter(match=f"{redis_prefix}*"))
    wait_for(lambda: "beat_lock_retaken" in beat.output(), timeout=30, what="the lock retaken")
    sent = len(SENT.findall(beat.output()))
    wait_for(lambda: len(SENT.findall(beat.output())) >= sent + 3, timeout=30,
             what="the schedule sent again")  # fmt: skip

    # Another beat holds the lock (this one stalled past its timeout): this one sends nothing
    # until that lock is gone.
    client.set(lock, "another-beat", px=4000)
    wait_for(lambda: beat.output().count("beat_lock_lost") == 2, timeout=30, what="lock lost")
    wait_for(lambda: beat.output().count("beat_lock_retaken") == 2, timeout=30,
             what="the lock taken back after the other beat's expired")  # fmt: skip
    log = beat.output()
    lost, retaken = log.rindex("beat_lock_lost"), log.rindex("beat_lock_retaken")
    assert SENT.findall(log[lost:retaken]) == []
    assert beat.alive()
    client.close()
