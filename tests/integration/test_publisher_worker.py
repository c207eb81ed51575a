"""The publisher as deployed: relay, a real Celery worker and beat, PostgreSQL and Redis; a
webhook receiver on 127.0.0.1. A publication reaches the receiver; a worker killed mid-send
loses nothing, and the repeat carries the same webhook-id."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from sqlalchemy import select

from shared.admin.destinations import DestinationCreate, add_destination
from shared.db import Database
from shared.domain.states import DeliveryState
from shared.models import Delivery
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import REDIS_URL, make_settings, settings_env
from tests.support.factories import Newsroom, make_article, make_source
from tests.support.httpserver import LocalServer, Reply, Request
from tests.support.processes import Processes
from tests.support.wait import wait_for

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _settings(tmp_path: Path, pg_url: str, redis_prefix: str, server: LocalServer) -> Settings:
    return make_settings(
        tmp_path / "var", database_url=pg_url, broker_url=REDIS_URL, redis_prefix=redis_prefix,
        fetch_allowed_hosts=[server.host_port], relay_interval_seconds=0.1,
        publish_sweep_seconds=0.5, task_soft_time_limit=20, task_time_limit=25,
        delivery_lease_seconds=30,
    )  # fmt: skip


def _hook(database: Database, settings: Settings, server: LocalServer) -> None:
    with UnitOfWork(database) as uow:
        add_destination(uow, settings, DestinationCreate(
            name="partner", kind="webhook", url=server.url("/hook"), secret=SECRET,
        ))  # fmt: skip
        uow.commit()


def _deliveries(database: Database) -> list[Delivery]:
    with UnitOfWork(database, read_only=True) as uow:
        rows = list(uow.session.scalars(select(Delivery).order_by(Delivery.id)))
        uow.session.expunge_all()
        return rows


def test_a_publication_reaches_the_webhook_through_the_real_pipeline(
    tmp_path: Path, pg_url: str, pg_database: Database, redis_prefix: str,
    server: LocalServer, procs: Processes,
) -> None:  # fmt: skip
    server.route("/hook", Reply(204))
    settings = _settings(tmp_path, pg_url, redis_prefix, server)
    _hook(pg_database, settings, server)
    env = settings_env(settings)
    procs.start("worker", ["worker", "--queues", "publish"], env)
    procs.start("relay", ["relay"], env)
    newsroom = Newsroom(pg_database, settings)
    article_id = make_article(pg_database, make_source(pg_database, name="Enab Baladi"))
    newsroom.publish(article_id, title="Bread prices rise in Idlib")
    wait_for(lambda: server.hits("/hook"), timeout=60, what="the webhook to be called")
    newsroom.withdraw(article_id)
    wait_for(lambda: len(server.hits("/hook")) == 2, timeout=60, what="the withdrawal")
    types = [json.loads(r.body)["type"] for r in server.hits("/hook")]
    assert types == ["article.published", "article.withdrawn"]
    # The receiver has its answer before the worker records it: wait for the record.
    wait_for(lambda: [d.state for d in _deliveries(pg_database)] == [DeliveryState.DELIVERED] * 2,
             timeout=30, what="both deliveries recorded as delivered")  # fmt: skip


def test_a_publisher_killed_mid_send_loses_nothing(
    tmp_path: Path, pg_url: str, pg_database: Database, redis_prefix: str,
    server: LocalServer, procs: Processes,
) -> None:  # fmt: skip
    """The receiver holds the first request until the worker is killed; the delivery stays
    `sending` until its lease runs out, then beat's sweep sends it again, with the same id."""
    arrived, killed = threading.Event(), threading.Event()

    def receiver(request: Request) -> Reply:
        if not arrived.is_set():
            arrived.set()
            killed.wait(60)
        return Reply(204)

    server.route("/hook", receiver)
    settings = _settings(tmp_path, pg_url, redis_prefix, server)
    _hook(pg_database, settings, server)
    env = settings_env(settings)
    worker = procs.start("worker", ["worker", "--queues", "publish"], env)
    procs.start("relay", ["relay"], env)
    procs.start("beat", ["beat"], env)
    article_id = make_article(pg_database, make_source(pg_database))
    Newsroom(pg_database, settings).publish(article_id)
    assert arrived.wait(60), "the webhook was never called"
    worker.kill()
    killed.set()
    [delivery] = _deliveries(pg_database)
    assert delivery.state == DeliveryState.SENDING  # the worker died before recording anything
    procs.start("worker2", ["worker", "--queues", "publish"], env)
    wait_for(
        lambda: _deliveries(pg_database)[0].state == DeliveryState.DELIVERED,
        timeout=120, what="the delivery to be sent again after its lease",
    )  # fmt: skip
    first, *rest = server.hits("/hook")
    assert rest, "the delivery was not sent again"
    assert {r.headers["webhook-id"] for r in rest} == {first.headers["webhook-id"]}
    assert len(_deliveries(pg_database)) == 1
