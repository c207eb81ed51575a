"""How services declare Celery tasks: `task` for jobs, `consumer` for event handlers.

A task body stays small: it takes ids, opens a unit of work and calls a handler; the logic lives
in handlers that tests call directly.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from celery import Task, shared_task
from celery.exceptions import Retry
from sqlalchemy import Executable, bindparam, func, select, update
from sqlalchemy.orm import Session

from shared import metrics
from shared.db import TRANSIENT_ERRORS, Database, backend, insert_for
from shared.domain.events import Event, UnknownEvent, parse_envelope
from shared.logs import bind_context, clear_context
from shared.models import EventReceipt, OutboxEvent, table_of, utcnow
from shared.subscriptions import consumers_of
from shared.uow import UnitOfWork

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)
F = TypeVar("F", bound=Callable[..., Any])
Handler = Callable[[UnitOfWork, E], None]

# Core tables: every delivery writes a receipt and checks its event, on the hot path.
OUTBOX = table_of(OutboxEvent)
RECEIPTS = table_of(EventReceipt)


class CrossfeedTask(Task):  # type: ignore[misc]
    """Base of every task: log context, metrics, and retry of transient database errors."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 8

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        clear_context()
        bind_context(task=self.name, task_id=self.request.id)
        started = time.perf_counter()
        outcome = "ok"
        try:
            return super().__call__(*args, **kwargs)
        except Retry:
            outcome = "retry"
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            metrics.TASKS.labels(self.name, outcome).inc()
            metrics.TASK_SECONDS.labels(self.name).observe(time.perf_counter() - started)


def task(name: str, **options: Any) -> Callable[[F], F]:
    """Declare a Celery task with the project's defaults (see `shared.celery_app`)."""

    def decorate(fn: F) -> F:
        shared_task(name=name, base=CrossfeedTask, **options)(fn)
        return fn

    return decorate


def consumer(name: str, event_type: type[E]) -> Callable[[Handler[E]], Handler[E]]:
    """Register `handler(uow, event)` as the idempotent consumer task `name` of `event_type`.

    The name must match `shared.subscriptions`. The handler is returned unchanged, so tests and
    other code call it directly with their own unit of work.
    """

    def decorate(handler: Handler[E]) -> Handler[E]:
        def run(envelope: dict[str, Any]) -> None:
            consume(name, event_type, handler, envelope)

        run.__name__ = run.__qualname__ = handler.__name__
        run.__module__ = handler.__module__
        task(name)(run)
        return handler

    return decorate


def consume(
    name: str,
    event_type: type[E],
    handler: Handler[E],
    raw: dict[str, Any],
    database: Database | None = None,
) -> bool:
    """Run `handler` for one delivery of an event, at most once per (event, consumer).

    The receipt and the handler's changes commit in one transaction: either both or neither.
    Returns False when the event was refused or already processed.
    """
    try:
        event_id, event = parse_envelope(raw)
    except UnknownEvent as exc:
        # Not retried here: this code will never read it. The relay redelivers a bounded number
        # of times (a newer worker may be rolling out), then marks the event stuck.
        log.error("event_refused", consumer=name, error=str(exc))
        return False
    if not isinstance(event, event_type):
        log.error("event_misrouted", consumer=name, type=event.type, expected=event_type.type)
        return False
    # Every log line of the handler carries the ids the event is about (article_id, source_id).
    ids = {k: v for k, v in event.model_dump().items() if k.endswith("_id")}
    bind_context(event_id=event_id, event_type=event.type, **ids)
    with UnitOfWork(database) as uow:
        if not claim_receipt(uow.session, event_id, name):
            log.info("event_already_processed", consumer=name)
            return False
        handler(uow, event)
        _complete_if_all_received(uow.session, event_id, event.type)
        uow.commit()
    return True


_LOCK_EVENT = select(OUTBOX.c.seq).where(OUTBOX.c.id == bindparam("event_id")).with_for_update()
_COMPLETE = (
    update(OUTBOX)
    .where(
        OUTBOX.c.id == bindparam("event_id"),
        OUTBOX.c.completed_at.is_(None),
        select(func.count()).where(RECEIPTS.c.event_id == bindparam("event_id")).scalar_subquery()
        >= bindparam("consumers"),
    )
    .values(completed_at=bindparam("now", type_=OUTBOX.c.completed_at.type))
)


def _complete_if_all_received(session: Session, event_id: str, event_type: str) -> None:
    """Mark the outbox event done once every consumer has its receipt.

    The event's row is locked first, so two consumers finishing at the same moment take turns:
    the second one counts after the first has committed its receipt. (Without the lock each
    would see only its own receipt, and the event would stay open until the redelivery scan.)
    The count is in the update's own statement, which reads what was committed before the lock
    was granted.
    """
    session.execute(_LOCK_EVENT, {"event_id": event_id})
    session.execute(
        _COMPLETE,
        {"event_id": event_id, "consumers": len(consumers_of(event_type)), "now": utcnow()},
    )


@functools.cache
def _claim(dialect: str) -> Executable:
    # INSERT ... ON CONFLICT DO NOTHING: on PostgreSQL a concurrent duplicate waits for the first
    # to commit and then inserts nothing, so exactly one delivery gets True.
    return (  # type: ignore[no-any-return]
        insert_for(dialect)(RECEIPTS).on_conflict_do_nothing().returning(RECEIPTS.c.event_id)
    )


def claim_receipt(session: Session, event_id: str, consumer_name: str) -> bool:
    """Record that `consumer_name` processed `event_id`; False if it already had."""
    values = {"event_id": event_id, "consumer": consumer_name}
    return session.execute(_claim(backend(session)), values).first() is not None
