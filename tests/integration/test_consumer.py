"""Consumers process each event once, whatever the broker does."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from shared.db import Database
from shared.domain.events import ArticleIngested, SourcePollRequested, envelope
from shared.models import EventReceipt, OutboxEvent, Source
from shared.tasks import consume
from shared.uow import UnitOfWork


def record(uow: UnitOfWork, event: SourcePollRequested) -> None:
    """A handler with a visible effect: one source row per processing."""
    uow.session.add(
        Source(
            name=f"s-{event.source_id}-{threading.get_ident()}",
            url=f"https://x.example/{threading.get_ident()}",
            language="ar",
        )
    )


def sources(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Source)) or 0)


def emitted(database: Database, event: SourcePollRequested | ArticleIngested) -> dict[str, object]:
    with UnitOfWork(database) as uow:
        [event_id] = uow.emit(event)
        uow.commit()
    with database.session() as session:
        row = session.scalars(select(OutboxEvent).where(OutboxEvent.id == event_id)).one()
        return {**envelope(event, event_id=row.id), "occurred_at": row.created_at.isoformat()}


def test_a_redelivered_event_is_processed_once(database: Database) -> None:
    raw = emitted(database, SourcePollRequested(source_id=1))
    assert consume("poller.poll_requested", SourcePollRequested, record, raw, database)
    assert not consume("poller.poll_requested", SourcePollRequested, record, raw, database)
    assert sources(database) == 1


def test_the_last_receipt_completes_the_event(database: Database) -> None:
    raw = emitted(database, SourcePollRequested(source_id=1))
    consume("poller.poll_requested", SourcePollRequested, record, raw, database)
    with database.session() as session:
        assert session.scalar(select(OutboxEvent.completed_at)) is not None


def test_an_event_with_two_consumers_completes_after_both(database: Database) -> None:
    raw = emitted(database, ArticleIngested(article_id=1, source_id=1, revision_id=1))

    def nothing(_uow: UnitOfWork, _event: ArticleIngested) -> None:
        pass

    consume("enricher.article_ingested", ArticleIngested, nothing, raw, database)
    with database.session() as session:
        assert session.scalar(select(OutboxEvent.completed_at)) is None
    consume("review.article_ingested", ArticleIngested, nothing, raw, database)
    with database.session() as session:
        assert session.scalar(select(OutboxEvent.completed_at)) is not None


def test_two_consumers_finishing_together_complete_the_event(database: Database) -> None:
    for _ in range(5):
        raw = emitted(database, ArticleIngested(article_id=1, source_id=1, revision_id=1))
        start = threading.Barrier(2)

        def deliver(
            name: str, raw: dict[str, object] = raw, start: threading.Barrier = start
        ) -> None:
            start.wait()
            consume(name, ArticleIngested, lambda _uow, _event: None, raw, database)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(deliver, ["enricher.article_ingested", "review.article_ingested"]))
        with database.session() as session:
            completed = session.scalar(
                select(OutboxEvent.completed_at).where(OutboxEvent.id == raw["id"])
            )
        assert completed is not None


def test_a_failed_handler_leaves_no_receipt_so_it_is_retried(database: Database) -> None:
    raw = emitted(database, SourcePollRequested(source_id=1))

    def broken(uow: UnitOfWork, event: SourcePollRequested) -> None:
        record(uow, event)
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        consume("poller.poll_requested", SourcePollRequested, broken, raw, database)
    assert sources(database) == 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(EventReceipt)) == 0
    assert consume("poller.poll_requested", SourcePollRequested, record, raw, database)
    assert sources(database) == 1


def test_concurrent_duplicates_process_once(database: Database) -> None:
    raw = emitted(database, SourcePollRequested(source_id=7))
    start = threading.Barrier(4)

    def deliver() -> bool:
        start.wait()
        return consume("poller.poll_requested", SourcePollRequested, record, raw, database)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: deliver(), range(4)))
    assert results.count(True) == 1
    assert sources(database) == 1


def test_unreadable_and_misrouted_events_are_refused(database: Database) -> None:
    raw = emitted(database, SourcePollRequested(source_id=1))
    assert not consume(
        "poller.poll_requested", SourcePollRequested, record, {**raw, "version": 99}, database
    )
    assert not consume("enricher.article_ingested", ArticleIngested, lambda *_: None, raw, database)
    assert sources(database) == 0
