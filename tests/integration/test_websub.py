"""WebSub against a hub speaking the protocol, with our web app answering its callbacks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from services.poller import handlers, websub
from shared.admin.sources import SourceCreate, add_source, request_poll
from shared.db import Database
from shared.domain.events import SourceContentPushed
from shared.http import SafeClient
from shared.models import Article, ArticleRevision, OutboxEvent, PushedDocument, Source, utcnow
from shared.outbox import row_envelope
from shared.settings import Settings
from shared.tasks import consume
from shared.uow import UnitOfWork
from tests.conftest import make_settings, settings_env
from tests.support.api import Api
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply
from tests.support.processes import Processes
from tests.support.wait import wait_for
from tests.support.web import WebServer, listening_socket
from tests.support.websub_hub import Hub


def hub_feed(hub: Hub, topic: str, items: list[Item]) -> bytes:
    links = (
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="{hub.url}"/>'
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="{topic}"/>'
    )
    return rss(items, extra_channel=links)


@dataclass
class World:
    settings: Settings
    database: Database
    web: WebServer
    hub: Hub
    feeds: LocalServer
    source_id: int

    @property
    def topic(self) -> str:
        return self.feeds.url("/feed")

    def source(self) -> Source:
        with self.database.session() as session:
            return session.get_one(Source, self.source_id)

    def poll(self) -> handlers.PollReport | None:
        with self.database.session() as session:
            session.execute(update(Source).values(next_poll_at=utcnow()))
            session.commit()
        with UnitOfWork(self.database) as uow:
            [lease] = handlers.take_due_sources(uow, utcnow(), 600, per_host=2)
            uow.commit()
        return handlers.poll_source(self.database, self.client(), self.settings, lease)

    def client(self) -> SafeClient:
        return SafeClient(self.settings)

    def subscribe(self) -> str:
        return websub.subscribe(self.database, self.client(), self.settings, self.source_id)

    def articles(self) -> int:
        with self.database.session() as session:
            return int(session.scalar(select(func.count()).select_from(Article)) or 0)

    def deliver_pushes(self) -> None:
        """Run the poller's consumer on every pushed-content event, as the worker would."""
        with self.database.session() as session:
            rows = session.scalars(
                select(OutboxEvent).where(OutboxEvent.type == SourceContentPushed.type)
            ).all()

        def handler(uow: UnitOfWork, event: SourceContentPushed) -> None:
            websub.ingest_pushed(uow, self.settings, event.document_id)

        for row in rows:
            consume("poller.content_pushed", SourceContentPushed, handler, row_envelope(row),
                    self.database)  # fmt: skip


@pytest.fixture
def world(database: Database, tmp_path: Path, server: LocalServer) -> Iterator[World]:
    hub = Hub().start()
    sock = listening_socket()
    public = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = make_settings(
        tmp_path / "var", database_url=database.url, public_url=public,
        fetch_allowed_hosts=[server.host_port, hub.host_port],
    )  # fmt: skip
    web = WebServer(settings, sock).start()
    with UnitOfWork(database) as uow:
        source = Source(name="Pushed", url=server.url("/feed"), language="ar")
        uow.session.add(source)
        uow.commit()
        source_id = source.id
    server.route("/feed", Reply(200, hub_feed(hub, server.url("/feed"), [Item("urn:1", "أول")])))
    yield World(settings, database, web, hub, server, source_id)
    web.stop()
    hub.stop()


def subscribed(world: World) -> None:
    report = world.poll()
    assert report is not None and report.subscribe
    assert world.source().websub_state == "subscribing"
    world.subscribe()
    wait_for(lambda: world.source().websub_state == "active", timeout=15, what="verification")
    # The hub records the subscription once our answer to its check reaches it, a moment later.
    wait_for(lambda: world.topic in world.hub.subscriptions, timeout=15, what="the hub's record")


def test_a_feed_naming_a_hub_is_subscribed_and_verified(world: World) -> None:
    subscribed(world)
    source = world.source()
    assert (source.websub_hub, source.websub_topic) == (world.hub.url, world.topic)
    assert source.websub_lease_until is not None
    assert source.websub_lease_until > utcnow() + dt.timedelta(days=6)
    [request] = world.hub.requests
    assert request["hub.callback"] == f"{world.settings.public_url}/websub/{source.websub_token}"
    assert request["hub.lease_seconds"] == str(world.settings.websub_lease_seconds)
    assert (
        source.websub_secret_encrypted
        and request["hub.secret"] not in source.websub_secret_encrypted
    )
    # Polled again, nothing new is requested of the hub.
    report = world.poll()
    assert report is not None and not report.subscribe


def test_pushed_content_is_ingested(world: World) -> None:
    subscribed(world)
    assert world.articles() == 1
    pushed = hub_feed(world.hub, world.topic, [Item("urn:2", "ثان"), Item("urn:1", "أول")])
    assert world.hub.publish(world.topic, pushed) == 202
    world.deliver_pushes()
    assert world.articles() == 2
    with world.database.session() as session:
        document = session.scalars(select(PushedDocument)).one()
        assert document.processed_at is not None


def test_content_with_a_wrong_signature_is_dropped(world: World) -> None:
    subscribed(world)
    pushed = hub_feed(world.hub, world.topic, [Item("urn:evil", "مزور")])
    assert world.hub.publish(world.topic, pushed, secret="guessed") == 202
    with world.database.session() as session:
        assert session.scalar(select(func.count()).select_from(PushedDocument)) == 0
    assert world.articles() == 1


def test_callbacks_refuse_what_was_not_asked(world: World) -> None:
    subscribed(world)
    token = world.source().websub_token
    base = f"/websub/{token}"
    challenge = {"hub.challenge": "c", "hub.lease_seconds": "60"}
    wrong_topic = world.web.get(
        base, params={"hub.mode": "subscribe", "hub.topic": "x", **challenge}
    )
    assert wrong_topic.status_code == 404
    unsubscribe = world.web.get(
        base, params={"hub.mode": "unsubscribe", "hub.topic": world.topic, **challenge}
    )
    assert unsubscribe.status_code == 404  # we never asked to unsubscribe
    assert (
        world.web.get("/websub/unknown-token", params={"hub.topic": world.topic}).status_code == 404
    )
    assert world.web.post("/websub/unknown-token", data=b"x").status_code == 404
    assert world.source().websub_state == "active"


def test_an_oversized_push_is_refused(world: World, tmp_path: Path) -> None:
    subscribed(world)
    token = world.source().websub_token
    huge = b"x" * (world.settings.fetch_max_bytes + 1)
    assert world.web.post(f"/websub/{token}", data=huge).status_code == 413


def test_a_denial_is_recorded(world: World) -> None:
    subscribed(world)
    source = world.source()
    assert source.websub_token is not None
    callback = f"{world.settings.public_url}/websub/{source.websub_token}"
    assert world.hub.deny(world.topic, callback, "topic not allowed") == 200
    denied = world.source()
    assert (denied.websub_state, denied.websub_error) == (
        "denied",
        "the hub refused: topic not allowed",
    )


def test_an_active_subscription_slows_polling_to_the_safety_poll(world: World) -> None:
    subscribed(world)
    before = utcnow()
    world.poll()
    assert world.source().next_poll_at >= before + dt.timedelta(
        minutes=world.settings.websub_safety_poll_minutes
    )


def test_a_hub_that_refuses_marks_the_subscription_failed(world: World) -> None:
    world.hub.refuse_with = 400
    world.poll()
    assert world.subscribe() == "failed"
    assert world.source().websub_error == "the hub answered HTTP 400: b'no'"


def test_the_sweep_renews_and_retries(world: World) -> None:
    subscribed(world)
    now = utcnow()
    with UnitOfWork(world.database) as uow:
        assert websub.due_subscriptions(uow, world.settings, now) == []
    with world.database.session() as session:
        session.execute(update(Source).values(websub_lease_until=now + dt.timedelta(minutes=30)))
        session.commit()
    with UnitOfWork(world.database) as uow:
        assert websub.due_subscriptions(uow, world.settings, now) == [world.source_id]
    with world.database.session() as session:
        session.execute(
            update(Source).values(
                websub_state="failed", websub_requested_at=now - dt.timedelta(hours=1)
            )
        )
        session.commit()
    with UnitOfWork(world.database) as uow:
        assert websub.due_subscriptions(uow, world.settings, now) == []  # too soon to retry
        assert websub.due_subscriptions(uow, world.settings, now + dt.timedelta(hours=6)) == [
            world.source_id
        ]


def test_push_end_to_end_through_real_processes(
    tmp_path: Path, sqlite_url: str, server: LocalServer, procs: Processes
) -> None:
    hub = Hub().start()
    try:
        port = listening_socket()
        public = f"http://127.0.0.1:{port.getsockname()[1]}"
        port.close()
        settings = make_settings(
            tmp_path / "var", database_url=sqlite_url, public_url=public,
            fetch_allowed_hosts=[server.host_port, hub.host_port], relay_interval_seconds=0.1,
        )  # fmt: skip
        env = settings_env(settings)
        topic = server.url("/feed")
        server.route("/feed", Reply(200, hub_feed(hub, topic, [Item("urn:1", "أول")])))
        procs.start("web", ["web", "--port", public.rsplit(":", 1)[1]], env)
        procs.start("relay", ["relay"], env)
        procs.start("worker", ["worker"], env)
        # The hub checks intent at once: the callback must be listening by then.
        wait_for(Api(public).ready, timeout=60, what="the web to answer")
        database = Database(settings.database_url)
        with UnitOfWork(database) as uow:
            source = add_source(uow, SourceCreate(name="Pushed", url=topic))
            request_poll(uow, source.id)
            uow.commit()
        wait_for(lambda: topic in hub.subscriptions, timeout=60, what="a verified subscription")
        assert hub.publish(topic, hub_feed(hub, topic, [Item("urn:2", "ثان")])) == 202

        def titles() -> set[str]:

            with database.session() as session:
                return set(session.scalars(select(ArticleRevision.title)))

        wait_for(lambda: titles() == {"أول", "ثان"}, timeout=60, what="the pushed story")
        database.dispose()
    finally:
        hub.stop()
