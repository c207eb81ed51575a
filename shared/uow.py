"""The unit of work: one transaction; its changes and the events they cause commit together."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Self

import structlog
from sqlalchemy import insert
from sqlalchemy.orm import Session

from shared.db import Database, get_database
from shared.domain.events import Event, envelope
from shared.models import OutboxEvent, table_of

log = structlog.get_logger(__name__)

_INSERT_EVENT = insert(table_of(OutboxEvent))
_COLUMNS = ("id", "type", "version", "data")  # of the envelope, stored (created_at: the default)


class UnitOfWork:
    """Open a session on enter; roll back on exit unless `commit()` was called.

    `emit()` writes events to the outbox in the same transaction, so an event exists if and only
    if the change that caused it was committed. `after_commit()` registers work (such as waking a
    task) that must only happen once the data is visible to other processes.
    """

    session: Session

    def __init__(self, database: Database | None = None, read_only: bool = False) -> None:
        self.database = database or get_database()
        self.read_only = read_only  # reads without waiting for writers (SQLite); never commit
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> Self:
        self.session = self.database.session(read_only=self.read_only)
        self._after_commit = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.session.rollback()
        self.session.close()

    def emit(self, *events: Event) -> list[str]:
        """Add events to the outbox of this transaction; return their ids."""
        envelopes = [envelope(event) for event in events]
        if envelopes:
            # A Core insert on the session's connection: no ORM objects to track and flush, and
            # no autoflush of the caller's pending objects before they are complete.
            self.session.connection().execute(
                _INSERT_EVENT, [{name: env[name] for name in _COLUMNS} for env in envelopes]
            )
        return [env["id"] for env in envelopes]

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self.session.commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                # The data is committed; whatever the callback would have nudged is also found
                # by a sweep, so a failure here delays work but loses nothing.
                log.exception("after_commit_failed", callback=getattr(callback, "__name__", "?"))

    def rollback(self) -> None:
        self.session.rollback()
        self._after_commit = []
