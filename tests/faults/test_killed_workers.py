"""kill -9, again and again, while 500 stories flow from the outlets to WordPress, a webhook
and a partner's feeds: nothing is lost and nothing is done twice.

The services run as docker-compose.yml runs them (PostgreSQL, Redis, one process per service,
restarted by "compose" when they die). At random moments a random worker (poller, enricher,
review or publisher; every one of them several times) is killed with SIGKILL, either whole (the
container: the worker and its pool) or one of its pool processes mid-task. The seed is printed;
FAULT_SEED=<seed> replays the same choices.
"""

from __future__ import annotations

import collections
import functools
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, make_settings
from tests.faults.harness import FAULT_TIMERS, WORKERS, Run
from tests.support.httpserver import LocalServer
from tests.support.processes import Processes
from tests.support.wordpress import WordPressSite

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

SOURCES, PER_SOURCE = 10, 50  # 500 stories
ROUNDS = 6  # every worker killed this many times: 24 kills


def kill_plan(rng: random.Random) -> list[tuple[str, str, float]]:
    """(worker, how, pause before): each worker once a round, in a random order; killed whole
    or one pool process, after a random pause."""
    plan = []
    for _ in range(ROUNDS):
        for worker in rng.sample(WORKERS, len(WORKERS)):
            plan.append((worker, rng.choice(["whole", "pool"]), rng.uniform(1.0, 5.0)))
    return plan


@pytest.mark.usefixtures("pg_database")  # emptied afterwards
def test_workers_killed_at_random_lose_and_duplicate_nothing(
    tmp_path: Path, pg_url: str, redis_prefix: str, server: LocalServer,
    procs: Processes, site: WordPressSite,
) -> None:  # fmt: skip
    seed = int(os.environ.get("FAULT_SEED") or random.randrange(2**32))
    print(f"FAULT_SEED={seed}")
    rng = random.Random(seed)
    settings = make_settings(
        tmp_path / "var", database_url=pg_url,
        broker_url=REDIS_URL, redis_prefix=redis_prefix,
        fetch_allowed_hosts=[server.host_port, site.host_port], **FAULT_TIMERS,
    )  # fmt: skip
    run = Run(settings, procs, server, site, SOURCES, PER_SOURCE, spread=60)
    kills: collections.Counter[tuple[str, str, bool]] = collections.Counter()
    pause = threading.Event()
    try:
        run.start()
        for worker, how, wait in kill_plan(rng):
            pause.wait(wait)
            # Aim for the middle of a task: wait a little for the worker to hold one.
            mid_task = wait_until(functools.partial(run.stack.busy, worker), seconds=5)
            if how == "pool" and run.stack.kill_pool_process(worker):
                kills[(worker, how, mid_task)] += 1
            else:
                run.stack.kill(worker)
                kills[(worker, "whole", mid_task)] += 1
        print("kills (worker, how, mid-task):", dict(kills))
        print("progress when the last one fell:", run.progress())
        run.settle(timeout=900)
        result = run.audit()
    finally:
        run.close()
    print("audit:", result.summary())
    assert sum(kills.values()) >= 20
    assert {worker for worker, _, _ in kills} == set(WORKERS)
    assert not result.problems, "\n".join(result.problems)
    assert not run.stack.crashes, run.stack.crashes


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether `condition` came true within `seconds` (polled; not a failure if it did not)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
