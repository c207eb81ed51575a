"""One beat only: with Redis, RedBeat's lock lets a second beat wait instead of doubling ticks."""

from __future__ import annotations

import re
from pathlib import Path

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
    assert "scheduler -> redbeat.schedulers.RedBeatScheduler" in second.output()
    assert SENT.findall(second.output()) == []

    # When the first beat goes away, the second takes over once the lock expires.
    first.kill()
    wait_for(lambda: SENT.search(second.output()), timeout=60, what="the second beat to take over")
