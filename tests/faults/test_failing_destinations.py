"""Destinations that fail, with the real publisher worker, relay and beat: the newsroom's
WordPress down for minutes, a webhook answering 500 before 200, a partner's endpoint answering
410. Deliveries wait, retry, resume, or stop, as the rules in docs/architecture.md say.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.admin.destinations import DestinationCreate, add_destination
from shared.db import Database
from shared.domain.states import DeliveryState
from shared.models import Delivery, Destination
from shared.uow import UnitOfWork
from tests.conftest import REDIS_URL, make_settings
from tests.faults.harness import (
    FAULT_TIMERS,
    WEBHOOK_SECRET,
    Stack,
    remove_posts,
    wordpress_posts,
)
from tests.support.factories import Newsroom, make_article, make_source
from tests.support.httpserver import LocalServer, Reply, Request
from tests.support.processes import Processes
from tests.support.proxy import TcpProxy
from tests.support.wait import wait_for
from tests.support.wordpress import WordPressSite

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

ARTICLES = 8
OUTAGE_SECONDS = 180  # "several minutes"
FAILURES_BEFORE_SUCCESS = 2  # the flaky webhook's 500s for each message, then 200


class FlakyReceiver:
    """Answers 500 to the first tries of each message (by webhook-id), then 204."""

    def __init__(self) -> None:
        self.tries: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Reply:
        with self.lock:
            self.tries[request.headers["webhook-id"]] += 1
            failing = self.tries[request.headers["webhook-id"]] <= FAILURES_BEFORE_SUCCESS
        return Reply(500, b"upstream error") if failing else Reply(204)


def test_failing_destinations_wait_retry_resume_or_stop_as_the_rules_say(
    tmp_path: Path, pg_url: str, pg_database: Database, redis_prefix: str, server: LocalServer,
    procs: Processes, site: WordPressSite,
) -> None:  # fmt: skip
    host, port = site.host_port.split(":")
    proxy = TcpProxy(host, int(port)).up()
    settings = make_settings(
        tmp_path / "var", database_url=pg_url, broker_url=REDIS_URL, redis_prefix=redis_prefix,
        fetch_allowed_hosts=[server.host_port, proxy.host_port],
        **{**FAULT_TIMERS, "delivery_backoff_seconds": 2, "delivery_backoff_max_seconds": 20,
           "delivery_max_attempts": 20},
    )  # fmt: skip
    flaky = FlakyReceiver()
    server.route("/flaky", flaky)
    server.route("/gone", Reply(410, b"this endpoint was removed"))
    mark = f"outage{time.monotonic_ns() % 10**9}"
    wanted = (
        DestinationCreate(name="site", kind="wordpress", url=proxy.url, secret=site.secret),
        DestinationCreate(name="flaky", kind="webhook", url=server.url("/flaky"),
                          secret=WEBHOOK_SECRET),
        DestinationCreate(name="gone", kind="webhook", url=server.url("/gone"),
                          secret=WEBHOOK_SECRET),
    )  # fmt: skip
    with UnitOfWork(pg_database) as uow:
        ids = {d.name: add_destination(uow, settings, d).id for d in wanted}
        uow.commit()
    stack = Stack(procs, settings).start("relay", "beat", "publisher")
    newsroom = Newsroom(pg_database, settings)
    source = make_source(pg_database, name=f"Enab Baladi {mark}")
    articles = [make_article(pg_database, source) for _ in range(ARTICLES)]
    try:
        proxy.down()  # WordPress goes away before anything is published
        outage_ends = time.monotonic() + OUTAGE_SECONDS
        for n, article_id in enumerate(articles):
            newsroom.publish(article_id, title=f"Water cut in Jasim {n} [{mark}]")

        # The flaky webhook gets every article after its 500s; the gone one is switched off at
        # its first 410 and is not called again.
        wait_for(lambda: _states(pg_database, ids["flaky"]) == {DeliveryState.DELIVERED: ARTICLES},
                 timeout=120, what="the flaky webhook's deliveries")  # fmt: skip
        wait_for(lambda: not _enabled(pg_database, ids["gone"]), timeout=60, what="410 obeyed")
        gone_calls = len(server.hits("/gone"))

        # Meanwhile WordPress is still down: its deliveries are retried, and none gives up.
        wait_for(lambda: time.monotonic() >= outage_ends, timeout=OUTAGE_SECONDS + 10,
                 interval=1, what="the end of the outage")  # fmt: skip
        during = _deliveries(pg_database, ids["site"])
        proxy.up()
        wait_for(lambda: _states(pg_database, ids["site"]) == {DeliveryState.DELIVERED: ARTICLES},
                 timeout=120, what="WordPress deliveries to resume")  # fmt: skip
        posts = list(wordpress_posts(site, mark))
    finally:
        stack.stop()
        proxy.down()
        remove_posts(site, mark)

    assert proxy.connections > 0
    assert {d.state for d in during} <= {DeliveryState.FAILED, DeliveryState.PENDING,
                                         DeliveryState.SENDING}  # fmt: skip
    assert all(d.attempts >= 3 for d in during), [(d.id, d.attempts) for d in during]
    assert all("connect" in (d.last_error or "") for d in during if d.attempts), during[0]
    assert len(posts) == ARTICLES  # one post each, however many tries it took

    # Every message of the flaky webhook kept its id through its 500s.
    by_article: dict[int, set[str]] = collections.defaultdict(set)
    for request in server.hits("/flaky"):
        by_article[json.loads(request.body)["data"]["article_id"]].add(
            request.headers["webhook-id"]
        )
    assert {a: len(i) for a, i in by_article.items()} == dict.fromkeys(articles, 1)
    assert set(flaky.tries.values()) == {FAILURES_BEFORE_SUCCESS + 1}

    # The gone endpoint: called only by the deliveries already on their way when the first 410
    # came back (one per publisher process), never after; the rest wait for an operator.
    assert 1 <= gone_calls <= settings.worker_concurrency
    assert len(server.hits("/gone")) == gone_calls
    gone = _deliveries(pg_database, ids["gone"])
    assert {d.state for d in gone} <= {DeliveryState.DEAD, DeliveryState.PENDING}
    assert sum(d.state == DeliveryState.DEAD for d in gone) == gone_calls
    with pg_database.session() as session:
        reason = session.get_one(Destination, ids["gone"]).disabled_reason
    assert reason is not None and "410" in reason
    assert not stack.crashes, stack.crashes


def _deliveries(database: Database, destination_id: int) -> list[Delivery]:
    with database.session() as session:
        rows = list(session.scalars(
            select(Delivery).where(Delivery.destination_id == destination_id)
        ))  # fmt: skip
        session.expunge_all()
        return rows


def _states(database: Database, destination_id: int) -> dict[str, int]:
    return dict(collections.Counter(d.state for d in _deliveries(database, destination_id)))


def _enabled(database: Database, destination_id: int) -> bool:
    with database.session() as session:
        return session.get_one(Destination, destination_id).enabled
