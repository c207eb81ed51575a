"""The relay sends each committed event to its consumers, and again if none acknowledged."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from sqlalchemy import select, update

from shared.db import Database
from shared.domain.events import ArticleIngested, ArticleQueued, SourcePollRequested
from shared.models import EventReceipt, OutboxEvent, utcnow
from shared.outbox import Relay, outbox_stats, retry_stuck, stuck_events
from shared.settings import Settings
from shared.subscriptions import Consumer
from shared.uow import UnitOfWork


class Recorder:
    """The relay's send port, recording what it was asked to send."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail_after = fail_after

    def __call__(self, consumer: Consumer, envelope: dict[str, Any]) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise ConnectionError("broker down")
        self.sent.append((consumer.task, consumer.queue, envelope["id"]))


def emit(database: Database, *events: Any) -> list[str]:
    with UnitOfWork(database) as uow:
        ids = uow.emit(*events)
        uow.commit()
    return ids


def age_dispatch(database: Database, seconds: int) -> None:
    with database.session() as session:
        session.execute(
            update(OutboxEvent).values(dispatched_at=utcnow() - dt.timedelta(seconds=seconds))
        )
        session.commit()


def test_dispatch_sends_to_every_consumer_once(database: Database, settings: Settings) -> None:
    [ingested, queued] = emit(
        database,
        ArticleIngested(article_id=1, source_id=1, revision_id=1),
        ArticleQueued(article_id=1),
    )
    send = Recorder()
    relay = Relay(database, send, settings)
    assert relay.dispatch_pending() == 2
    assert send.sent == [
        ("enricher.article_ingested", "enrich", ingested),
        ("review.article_ingested", "review", ingested),
    ]
    assert relay.dispatch_pending() == 0
    with database.session() as session:
        rows = {r.id: r for r in session.scalars(select(OutboxEvent))}
    assert rows[ingested].dispatched_at is not None and rows[ingested].completed_at is None
    # Nobody consumes article.queued yet: it is done as soon as it is dispatched.
    assert rows[queued].completed_at is not None


def test_a_broker_failure_keeps_the_rest_for_later(database: Database, settings: Settings) -> None:
    ids = emit(database, *(SourcePollRequested(source_id=n) for n in range(3)))
    relay = Relay(database, Recorder(fail_after=1), settings)
    assert relay.dispatch_pending() == 1
    assert outbox_stats(database).pending == 2
    later = Recorder()
    assert Relay(database, later, settings).dispatch_pending() == 2
    assert [sent[2] for sent in later.sent] == ids[1:]


def test_redelivery_resends_only_to_consumers_without_a_receipt(
    database: Database, settings: Settings
) -> None:
    [event_id] = emit(database, ArticleIngested(article_id=1, source_id=1, revision_id=1))
    relay = Relay(database, Recorder(), settings)
    relay.dispatch_pending()
    with database.session() as session:
        session.add(EventReceipt(event_id=event_id, consumer="enricher.article_ingested"))
        session.commit()
    assert relay.redeliver() == 0  # too early: consumers may still be working
    age_dispatch(database, settings.redelivery_after_seconds + 1)
    send = Recorder()
    assert Relay(database, send, settings).redeliver() == 1
    assert send.sent == [("review.article_ingested", "review", event_id)]


def test_redelivery_completes_events_all_consumers_acknowledged(
    database: Database, settings: Settings
) -> None:
    [event_id] = emit(database, SourcePollRequested(source_id=1))
    relay = Relay(database, Recorder(), settings)
    relay.dispatch_pending()
    with database.session() as session:
        session.add(EventReceipt(event_id=event_id, consumer="poller.poll_requested"))
        session.commit()
    age_dispatch(database, settings.redelivery_after_seconds + 1)
    assert relay.redeliver() == 0
    with database.session() as session:
        assert session.scalar(select(OutboxEvent.completed_at)) is not None


def test_redelivery_gives_up_and_marks_the_event_stuck(
    database: Database, settings: Settings
) -> None:
    emit(database, SourcePollRequested(source_id=1))
    send = Recorder()
    relay = Relay(database, send, settings)
    relay.dispatch_pending()
    for _ in range(settings.redelivery_max_attempts + 2):
        age_dispatch(database, 7 * 24 * 3600)  # past any wait between attempts
        relay.redeliver()
    assert len(send.sent) == settings.redelivery_max_attempts
    stats = outbox_stats(database)
    assert (stats.stuck, stats.in_flight) == (1, 0)
    with database.session() as session:
        reason = session.scalar(select(OutboxEvent.stuck_reason))
    assert reason == (
        f"no receipt from poller.poll_requested after {settings.redelivery_max_attempts} dispatches"
    )


def test_prune_deletes_old_finished_events_and_receipts(
    database: Database, settings: Settings
) -> None:
    [old, recent] = emit(
        database, SourcePollRequested(source_id=1), SourcePollRequested(source_id=2)
    )
    with database.session() as session:
        long_ago = utcnow() - dt.timedelta(days=settings.outbox_retention_days + 1)
        session.execute(update(OutboxEvent).values(completed_at=utcnow()))
        session.execute(
            update(OutboxEvent).where(OutboxEvent.id == old).values(completed_at=long_ago)
        )
        session.add_all(
            [EventReceipt(event_id=old, consumer="c"), EventReceipt(event_id=recent, consumer="c")]
        )
        session.commit()
    assert Relay(database, Recorder(), settings).prune() == 1
    with database.session() as session:
        assert list(session.scalars(select(OutboxEvent.id))) == [recent]
        assert list(session.scalars(select(EventReceipt.event_id))) == [recent]


def test_stats_report_the_oldest_pending_event(database: Database) -> None:
    emit(database, SourcePollRequested(source_id=1))
    stats = outbox_stats(database)
    assert stats.pending == 1
    assert stats.oldest_pending_seconds is not None and 0 <= stats.oldest_pending_seconds < 60


def test_redelivery_waits_longer_after_each_attempt(database: Database, settings: Settings) -> None:
    emit(database, SourcePollRequested(source_id=1))
    send = Recorder()
    relay = Relay(database, send, settings)
    relay.dispatch_pending()
    wait = settings.redelivery_after_seconds
    age_dispatch(database, wait + 1)
    assert relay.redeliver() == 1  # dispatched twice now: the next wait doubles
    age_dispatch(database, wait + 1)
    assert relay.redeliver() == 0
    age_dispatch(database, 2 * wait + 1)
    assert relay.redeliver() == 1
    assert len(send.sent) == 3


def test_no_redelivery_onto_a_backlog_until_it_has_lasted(
    database: Database, settings: Settings
) -> None:
    emit(database, SourcePollRequested(source_id=1))
    depths = {"poll": 500}
    relay = Relay(database, Recorder(), settings, queue_depths=lambda: depths)
    relay.dispatch_pending()
    wait = settings.redelivery_after_seconds
    age_dispatch(database, wait + 1)
    assert relay.redeliver() == 0  # the message is probably still in that queue
    age_dispatch(database, 4 * wait + 1)
    assert relay.redeliver() == 1  # a backlog that long no longer explains a missing receipt
    depths["poll"] = 0
    age_dispatch(database, 2 * wait + 1)
    assert relay.redeliver() == 1


def test_a_relay_that_dies_after_claiming_leaves_nothing_behind(
    database: Database, settings: Settings
) -> None:
    [event_id] = emit(database, SourcePollRequested(source_id=1))

    def dies(_consumer: Consumer, _envelope: dict[str, Any]) -> None:
        raise SystemExit("killed")  # not an Exception: the relay does not get to clean up

    with contextlib.suppress(SystemExit):
        Relay(database, dies, settings).dispatch_pending()
    later = Recorder()
    assert Relay(database, later, settings).dispatch_pending() == 0  # still claimed
    with database.session() as session:
        session.execute(
            update(OutboxEvent).values(claimed_until=utcnow() - dt.timedelta(seconds=1))
        )
        session.commit()
    assert Relay(database, later, settings).dispatch_pending() == 1
    assert later.sent == [("poller.poll_requested", "poll", event_id)]


def test_stuck_events_are_listed_and_retried(database: Database, settings: Settings) -> None:
    [event_id] = emit(database, SourcePollRequested(source_id=1))
    relay = Relay(database, Recorder(), settings)
    relay.dispatch_pending()
    for _ in range(settings.redelivery_max_attempts + 1):
        age_dispatch(database, 7 * 24 * 3600)
        relay.redeliver()
    assert [e.id for e in stuck_events(database)] == [event_id]
    assert retry_stuck(database) == 1
    assert stuck_events(database) == []
    send = Recorder()
    assert Relay(database, send, settings).dispatch_pending() == 1
    assert send.sent == [("poller.poll_requested", "poll", event_id)]


def test_an_event_that_finishes_after_being_stuck_is_not_counted(
    database: Database, settings: Settings
) -> None:
    emit(database, SourcePollRequested(source_id=1))
    relay = Relay(database, Recorder(), settings)
    relay.dispatch_pending()
    for _ in range(settings.redelivery_max_attempts + 1):
        age_dispatch(database, 7 * 24 * 3600)
        relay.redeliver()
    assert outbox_stats(database).stuck == 1
    with database.session() as session:
        session.execute(update(OutboxEvent).values(completed_at=utcnow()))
        session.commit()
    assert outbox_stats(database).stuck == 0
    assert stuck_events(database) == []
