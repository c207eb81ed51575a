"""The pipeline through real processes: relay, beat and Celery workers, on both stacks.

embedded: SQLite and the filesystem broker (what `crossfeed up` runs).
redis:    PostgreSQL and Redis (what docker-compose runs).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import func, select

from shared.admin.sources import SourceCreate, add_source
from shared.db import Database
from shared.domain.events import SourcePollRequested
from shared.models import Article, Enrichment, EventReceipt, OutboxEvent
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import (
    REDIS_URL,
    make_settings,
    replace_settings,
    settings_env,
    truncate_all,
)
from tests.support.api import Api
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply
from tests.support.processes import Processes
from tests.support.wait import wait_for

ITEMS = [Item(f"g{n}", f"خبر {n}", f"<p>نص الخبر رقم {n} من درعا</p>") for n in range(3)]
# Short timers so that recovery happens within a test; the relations between them are the
# production ones (visibility > time limit, redelivery > time limit).
FAST = {
    "poll_sweep_seconds": 1,
    "poll_lease_seconds": 10,
    "fetch_deadline": 5,
    "relay_interval_seconds": 0.1,
    "relay_housekeeping_seconds": 1,
    "task_soft_time_limit": 40,
    "task_time_limit": 45,
    "broker_visibility_timeout": 60,
    "redelivery_after_seconds": 50,
    "worker_concurrency": 2,
}


@pytest.fixture(params=["embedded", "redis"])
def stack(
    request: pytest.FixtureRequest, tmp_path: Path, server: LocalServer
) -> Iterator[Settings]:
    common: dict[str, Any] = {**FAST, "fetch_allowed_hosts": [server.host_port]}
    if request.param == "embedded":
        url = request.getfixturevalue("sqlite_url")
        yield make_settings(tmp_path / "var", database_url=url, **common)
        return
    settings = make_settings(
        tmp_path / "var",
        database_url=request.getfixturevalue("pg_url"),
        broker_url=REDIS_URL,
        redis_prefix=request.getfixturevalue("redis_prefix"),
        **common,
    )
    yield settings
    database = Database(settings.database_url)
    truncate_all(database)
    database.dispose()


@pytest.fixture
def database(stack: Settings) -> Iterator[Database]:
    db = Database(stack.database_url)
    yield db
    db.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def count(database: Database, model: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def add(database: Database, server: LocalServer) -> int:
    with UnitOfWork(database) as uow:
        source = add_source(uow, SourceCreate(name="Horan", url=server.url("/feed")))
        uow.commit()
        return source.id


def fully_processed(database: Database, articles: int) -> bool:
    with database.session() as session:
        queued = session.scalar(select(func.count()).where(Article.queued_at.is_not(None)))
        enriched = session.scalar(select(func.count()).select_from(Enrichment))
        open_events = session.scalar(select(func.count()).where(OutboxEvent.completed_at.is_(None)))
    return queued == articles and enriched == articles and open_events == 0


def test_a_polled_article_is_enriched_and_queued_once(
    stack: Settings, database: Database, server: LocalServer, procs: Processes
) -> None:
    server.route("/feed", Reply(200, rss(ITEMS)))
    env = settings_env(stack)
    procs.start("relay", ["relay"], env)
    procs.start("beat", ["beat"], env)
    # The worker serves its own metrics, gathered from all its processes (prefork on Redis).
    metrics_dir = stack.data_dir / "metrics"
    metrics_dir.mkdir(parents=True)
    port = free_port()
    worker_env = {
        **env,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "CROSSFEED_METRICS_PORT": str(port),
    }
    procs.start("worker", ["worker"], worker_env)
    add(database, server)
    wait_for(
        lambda: fully_processed(database, 3), timeout=60, what="3 articles enriched and queued"
    )
    scrape = Api(f"http://127.0.0.1:{port}").get("/metrics").text
    assert 'crossfeed_tasks_total{outcome="ok",task="enricher.article_ingested"} 3.0' in scrape
    assert 'crossfeed_polls_total{outcome="ok"} 1.0' in scrape
    assert count(database, Article) == 3
    # 3 article.ingested x 2 consumers; and every article queued exactly once.
    assert count(database, EventReceipt) == 6
    with database.session() as session:
        kinds = session.execute(
            select(OutboxEvent.type, func.count()).group_by(OutboxEvent.type)
        ).all()
    assert dict(kinds) == {"article.ingested": 3, "article.queued": 3, "article.enriched": 3}

    # The outlet corrects a story: a new revision flows through the same way.
    server.route("/feed", Reply(200, rss([Item("g0", "خبر 0 محدث", "<p>نص جديد</p>"), *ITEMS[1:]])))
    with UnitOfWork(database) as uow:
        uow.emit(SourcePollRequested(source_id=1))
        uow.commit()
    wait_for(
        lambda: count(database, OutboxEvent) == 12 and fully_processed(database, 3),
        timeout=60,
        what="the revision to be enriched",
    )


def test_a_worker_killed_mid_poll_loses_nothing(
    stack: Settings, database: Database, server: LocalServer, procs: Processes
) -> None:
    # The first fetch hangs (a server dripping a byte a second); the worker dies during it,
    # well inside the 5 s fetch deadline.
    server.route("/feed", Reply(200, rss(ITEMS), chunk_size=1, chunk_delay=1.0))
    env = settings_env(stack)
    procs.start("relay", ["relay"], env)
    procs.start("beat", ["beat"], env)
    first = procs.start("worker", ["worker"], env)
    add(database, server)
    wait_for(lambda: server.hits("/feed"), timeout=30, what="the first poll to start")
    first.kill()

    if stack.embedded_broker:
        # The filesystem broker dropped the message when the worker took it: it is gone.
        assert not list((stack.broker_dir / "queue").glob("*.poll.msg"))
    server.route("/feed", Reply(200, rss(ITEMS)))
    procs.start("worker-2", ["worker"], env)
    # The lease runs out and the sweep polls again (and, on Redis, the unacknowledged message
    # also comes back; its stale lease token makes it a no-op).
    wait_for(lambda: fully_processed(database, 3), timeout=90, what="recovery after kill -9")
    assert count(database, Article) == 3
    assert count(database, EventReceipt) == 6


def lose_queued_messages(stack: Settings) -> None:
    if stack.embedded_broker:
        for message in (stack.broker_dir / "queue").glob("*.msg"):
            message.unlink()
    else:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(match=f"{stack.redis_prefix}*"):
            client.delete(key)
        client.close()


def test_events_lost_by_the_broker_are_redelivered(
    stack: Settings, database: Database, server: LocalServer, procs: Processes
) -> None:
    server.route("/feed", Reply(200, rss(ITEMS)))
    # Redelivery waits longer than the longest task may run; shorten both for the test.
    settings = replace_settings(
        stack, task_soft_time_limit=8, task_time_limit=10, redelivery_after_seconds=12
    )
    env = settings_env(settings)
    relay = procs.start("relay", ["relay"], env)
    add(database, server)
    with UnitOfWork(database) as uow:
        uow.emit(SourcePollRequested(source_id=1))
        uow.commit()
    # Dispatched to a queue nobody consumes yet, then lost (a flushed Redis, a crashed host).
    wait_for(lambda: _dispatched(database), timeout=20, what="the relay to dispatch")
    lose_queued_messages(stack)
    procs.start("worker", ["worker"], env)
    procs.start("beat", ["beat"], env)
    wait_for(lambda: fully_processed(database, 3), timeout=120, what="redelivery")
    assert relay.alive()
    with database.session() as session:
        event = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "source.poll_requested")
        ).one()
    # The poll request was sent again: nothing acknowledged the first copy.
    assert event.dispatch_count >= 2
    assert count(database, Article) == 3


def _dispatched(database: Database) -> bool:
    with database.session() as session:
        return bool(
            session.scalar(select(func.count()).where(OutboxEvent.dispatched_at.is_not(None)))
        )


def test_sources_waiting_behind_their_host_are_polled_one_after_another(
    stack: Settings, database: Database, server: LocalServer, procs: Processes
) -> None:
    # One poll per host at a time, and no sweep within the test: each poll must start the next.
    settings = replace_settings(stack, poll_per_host=1, poll_sweep_seconds=600)
    env = settings_env(settings)
    with UnitOfWork(database) as uow:
        for n in range(5):
            server.route(f"/feed/{n}", Reply(200, rss([Item(f"h{n}", f"خبر {n}")])))
            source = add_source(uow, SourceCreate(name=f"Outlet {n}", url=server.url(f"/feed/{n}")))
            uow.emit(SourcePollRequested(source_id=source.id))
        uow.commit()
    procs.start("relay", ["relay"], env)
    procs.start("worker", ["worker"], env)
    wait_for(lambda: count(database, Article) == 5, timeout=60, what="all five outlets polled")
