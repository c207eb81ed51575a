from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from shared.db import Database
from shared.domain.events import SourcePollRequested
from shared.models import OutboxEvent, Source
from shared.uow import UnitOfWork


def count(database: Database, model: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def add_source(uow: UnitOfWork, name: str = "Outlet") -> Source:
    source = Source(name=name, url=f"https://{name.lower()}.example/feed", language="ar")
    uow.session.add(source)
    uow.session.flush()
    return source


def test_commit_writes_the_change_and_its_events_together(database: Database) -> None:
    with UnitOfWork(database) as uow:
        source = add_source(uow)
        [event_id] = uow.emit(SourcePollRequested(source_id=source.id))
        uow.commit()
    with database.session() as session:
        row = session.scalars(select(OutboxEvent)).one()
    assert (row.id, row.type, row.version, row.data) == (
        event_id,
        "source.poll_requested",
        1,
        {"source_id": source.id},
    )
    assert row.dispatched_at is None


def test_an_error_rolls_back_the_change_and_its_events(database: Database) -> None:
    with pytest.raises(RuntimeError), UnitOfWork(database) as uow:
        source = add_source(uow)
        uow.emit(SourcePollRequested(source_id=source.id))
        raise RuntimeError("boom")
    assert count(database, Source) == 0
    assert count(database, OutboxEvent) == 0


def test_leaving_without_commit_rolls_back(database: Database) -> None:
    with UnitOfWork(database) as uow:
        add_source(uow)
    assert count(database, Source) == 0


def test_after_commit_runs_only_after_a_commit(database: Database) -> None:
    calls: list[str] = []
    with UnitOfWork(database) as uow:
        add_source(uow)
        uow.after_commit(lambda: calls.append("rolled back"))
    with UnitOfWork(database) as uow:
        add_source(uow, "Second")

        def seen() -> None:
            # The data is committed: another session sees it.
            calls.append(f"sources={count(database, Source)}")

        uow.after_commit(seen)
        uow.commit()
    assert calls == ["sources=1"]


def test_a_failing_after_commit_does_not_undo_the_commit(database: Database) -> None:
    def broken() -> None:
        raise ConnectionError("broker down")

    with UnitOfWork(database) as uow:
        add_source(uow)
        uow.after_commit(broken)
        uow.commit()
    assert count(database, Source) == 1


def test_readers_do_not_wait_for_a_writer(database: Database) -> None:
    writer = database.session()
    writer.add(Source(name="Held", url="https://held.example/feed", language="ar"))
    writer.flush()  # on SQLite this transaction now holds the write lock
    done = threading.Event()
    counts: list[int] = []

    def read() -> None:
        with UnitOfWork(database, read_only=True) as uow:
            counts.append(int(uow.session.scalar(select(func.count()).select_from(Source)) or 0))
        done.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert done.wait(timeout=10), "the reader waited for the writer"
        assert counts == [0]  # it read the last committed state
    finally:
        writer.rollback()
        writer.close()
        reader.join()


def test_a_read_only_unit_of_work_cannot_commit(database: Database) -> None:
    with (
        UnitOfWork(database, read_only=True) as uow,
        pytest.raises(RuntimeError, match="read-only"),
    ):
        uow.commit()
