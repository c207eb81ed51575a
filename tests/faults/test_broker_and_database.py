"""The servers under the services fail mid-run: Redis restarted, Redis flushed (every queued
message lost), PostgreSQL restarted. Each test runs its own server (the machine's shared ones
carry the rest of the suite), injects the fault while stories flow, and then checks that every
story still came out once, with no operator action: the services stay up or are restarted by
compose's policy, and the outbox and the sweeps bring back what the broker lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from shared import migrate
from shared.domain.states import ArticleState
from shared.models import Article
from tests.conftest import REDIS_URL, make_settings
from tests.faults.harness import FAULT_TIMERS, Run
from tests.support.httpserver import LocalServer
from tests.support.processes import Processes
from tests.support.servers import PrivatePostgres, PrivateRedis
from tests.support.wait import wait_for
from tests.support.wordpress import WordPressSite

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SOURCES, PER_SOURCE = 4, 25  # 100 stories


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    yield server
    server.remove()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().start()
    yield server
    server.remove()


def published(run: Run) -> int:
    with run.database.session() as session:
        return int(
            session.scalar(select(func.count()).where(Article.state == ArticleState.PUBLISHED)) or 0
        )


def run_with_fault(
    run: Run, fault: Callable[[], None], when_published: int = SOURCES * PER_SOURCE // 4
) -> None:
    """Start the run, inject the fault once a quarter of the stories are out, let it settle
    and check every story came out once."""
    try:
        run.start()
        wait_for(lambda: published(run) >= when_published, timeout=300, interval=0.5,
                 what=f"{when_published} stories published")  # fmt: skip
        fault()
        print("progress after the fault:", run.progress())
        run.settle(timeout=400)
        result = run.audit()
    finally:
        run.close()
    print("audit:", result.summary(), "restarts:", dict(run.stack.starts))
    assert not result.problems, "\n".join(result.problems)
    # No service had to be started again, by hand or by compose: they waited it out.
    assert not run.stack.crashes, "\n".join(run.stack.crashes)


def _run(
    tmp_path: Path, procs: Processes, server: LocalServer, site: WordPressSite, database_url: str,
    broker_url: str, redis_prefix: str = "crossfeed:",
) -> Run:  # fmt: skip
    settings = make_settings(
        tmp_path / "var", database_url=database_url, broker_url=broker_url,
        redis_prefix=redis_prefix, fetch_allowed_hosts=[server.host_port, site.host_port],
        **FAULT_TIMERS,
    )  # fmt: skip
    return Run(settings, procs, server, site, SOURCES, PER_SOURCE, spread=20)


@pytest.fixture
def private_database(private_postgres: PrivatePostgres) -> str:
    migrate.upgrade(private_postgres.url)
    return private_postgres.url


def test_a_redis_restart_loses_nothing(
    tmp_path: Path, private_redis: PrivateRedis, private_database: str, server: LocalServer,
    procs: Processes, site: WordPressSite,
) -> None:  # fmt: skip
    run = _run(tmp_path, procs, server, site, private_database, private_redis.url)
    run_with_fault(run, lambda: private_redis.restart(down_for=3))


def test_a_flushed_redis_loses_nothing(
    tmp_path: Path, private_redis: PrivateRedis, private_database: str, server: LocalServer,
    procs: Processes, site: WordPressSite,
) -> None:  # fmt: skip
    run = _run(tmp_path, procs, server, site, private_database, private_redis.url)
    run_with_fault(run, private_redis.flush)


def test_a_postgres_restart_needs_no_operator(
    tmp_path: Path, private_postgres: PrivatePostgres, private_database: str,
    redis_prefix: str, server: LocalServer, procs: Processes, site: WordPressSite,
) -> None:  # fmt: skip
    run = _run(tmp_path, procs, server, site, private_database, REDIS_URL, redis_prefix)
    seen_down: dict[str, Any] = {}

    def outage() -> None:
        partner = run.stack.api.with_token(run.destinations.partner_token)
        feed = f"/feeds/{run.destinations.partner_slug}/feed.json"
        before = partner.get(feed)
        private_postgres.stop()
        # While it is down: editors are told to retry, partners still get the feed they had.
        seen_down["api"] = run.desk.editor.get("/api/v1/articles")
        seen_down["feed"] = partner.get(feed)
        seen_down["feed_before"] = before
        time.sleep(5)  # the outage
        private_postgres.start()

    run_with_fault(run, outage)
    api, feed = seen_down["api"], seen_down["feed"]
    assert api.status_code == 503 and api.headers["Retry-After"], api.text
    assert api.headers["Content-Type"] == "application/problem+json"
    assert (feed.status_code, feed.content) == (200, seen_down["feed_before"].content)
    # What the desk met meanwhile: "try again" (503) or a refused connection, never a 500.
    assert not [kind for kind in run.desk.errors if kind.endswith(" 500")], run.desk.samples
