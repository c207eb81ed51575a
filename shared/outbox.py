"""The outbox relay: sends committed events to their consumers' queues, at least once.

Three jobs, all driven by the database so that nothing depends on the broker keeping a message:
- dispatch: events not yet sent go to every consumer (`shared.subscriptions`);
- redeliver: an event sent long ago that a consumer never acknowledged (no receipt) is sent
  again to that consumer, up to a limit; then it is marked stuck and shown by `crossfeed status`.
  This is what recovers a message lost by a killed worker, a flushed Redis or the embedded
  broker (which drops a message once a worker has received it);
- prune: finished events older than the retention are deleted.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from shared import metrics
from shared.db import Database
from shared.models import EventReceipt, OutboxEvent, utcnow
from shared.settings import Settings
from shared.subscriptions import Consumer, consumers_of

log = structlog.get_logger(__name__)

Send = Callable[[Consumer, dict[str, Any]], None]


def row_envelope(row: OutboxEvent) -> dict[str, Any]:
    return {
        "id": row.id,
        "type": row.type,
        "version": row.version,
        "occurred_at": row.created_at.isoformat(),
        "data": row.data,
    }


@dataclass
class OutboxStats:
    pending: int
    oldest_pending_seconds: float | None
    in_flight: int
    stuck: int


class Relay:
    """Moves events from the outbox table to the broker. Safe to run several at once."""

    def __init__(
        self,
        database: Database,
        send: Send,
        settings: Settings,
        housekeeping: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.database = database
        self.send = send
        self.settings = settings
        # More chores for the same interval as redelivery, e.g. pruning the embedded broker.
        self.housekeeping = housekeeping

    def dispatch_pending(self) -> int:
        """Send a batch of undispatched events; return how many were sent."""
        sent = 0
        with self.database.session() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.dispatched_at.is_(None))
                .order_by(OutboxEvent.seq)
                .limit(self.settings.relay_batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            now = utcnow()
            for row in rows:
                consumers = consumers_of(row.type)
                if not self._send_to(row, consumers, now):
                    break  # broker unreachable: keep what was sent, retry the rest next round
                if not consumers:
                    row.completed_at = now
                sent += 1
                metrics.EVENTS_DISPATCHED.labels(row.type).inc()
            session.commit()
        return sent

    def _send_to(self, row: OutboxEvent, consumers: Sequence[Consumer], now: dt.datetime) -> bool:
        """Send the event to these consumers and record the dispatch; False if the broker failed."""
        try:
            for consumer in consumers:
                self.send(consumer, row_envelope(row))
        except Exception as exc:  # noqa: BLE001 - whatever the broker raised, it is retried later
            log.warning("relay_send_failed", event_id=row.id, error=str(exc))
            metrics.RELAY_ERRORS.inc()
            return False
        row.dispatched_at = now
        row.dispatch_count += 1
        return True

    def redeliver(self) -> int:
        """Resend events that a consumer has not acknowledged in time; return how many."""
        resent = 0
        now = utcnow()
        threshold = now - dt.timedelta(seconds=self.settings.redelivery_after_seconds)
        with self.database.session() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.completed_at.is_(None),
                    OutboxEvent.dispatched_at.is_not(None),
                    OutboxEvent.dispatched_at < threshold,
                    OutboxEvent.stuck_reason.is_(None),
                )
                .order_by(OutboxEvent.seq)
                .limit(self.settings.relay_batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                done = set(
                    session.scalars(
                        select(EventReceipt.consumer).where(EventReceipt.event_id == row.id)
                    )
                )
                missing = [c for c in consumers_of(row.type) if c.task not in done]
                if not missing:
                    row.completed_at = now
                    continue
                if row.dispatch_count >= self.settings.redelivery_max_attempts:
                    names = ", ".join(c.task for c in missing)
                    row.stuck_reason = (
                        f"no receipt from {names} after {row.dispatch_count} dispatches"
                    )
                    log.error("event_stuck", event_id=row.id, type=row.type, consumers=names)
                    continue
                if not self._send_to(row, missing, now):
                    break
                resent += 1
                metrics.EVENTS_REDELIVERED.labels(row.type).inc()
                log.info(
                    "event_redelivered",
                    event_id=row.id,
                    type=row.type,
                    consumers=[c.task for c in missing],
                    dispatch_count=row.dispatch_count,
                )
            session.commit()
        return resent

    def prune(self) -> int:
        """Delete finished events (and their receipts) past the retention period."""
        cutoff = utcnow() - dt.timedelta(days=self.settings.outbox_retention_days)
        with self.database.session() as session:
            old = select(OutboxEvent.id).where(OutboxEvent.completed_at < cutoff)
            session.execute(delete(EventReceipt).where(EventReceipt.event_id.in_(old)))
            result = session.execute(delete(OutboxEvent).where(OutboxEvent.completed_at < cutoff))
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set. Database and broker errors are logged and retried."""
        next_housekeeping = 0.0
        backoff = self.settings.relay_interval_seconds
        log.info("relay_started")
        while not stop.is_set():
            try:
                sent = self.dispatch_pending()
                if time.monotonic() >= next_housekeeping:
                    self.redeliver()
                    self.prune()
                    for chore in self.housekeeping:
                        chore()
                    next_housekeeping = time.monotonic() + self.settings.relay_housekeeping_seconds
                backoff = self.settings.relay_interval_seconds
            except SQLAlchemyError as exc:
                log.warning("relay_database_error", error=str(exc).splitlines()[0])
                sent = 0
                backoff = min(backoff * 2, 10.0)
            if sent < self.settings.relay_batch_size:
                stop.wait(backoff)
        log.info("relay_stopped")


def outbox_stats(database: Database) -> OutboxStats:
    """Backlog figures for `crossfeed status`, /metrics and /readyz."""
    now = utcnow()
    with database.session() as session:
        pending, oldest = session.execute(
            select(func.count(), func.min(OutboxEvent.created_at)).where(
                OutboxEvent.dispatched_at.is_(None)
            )
        ).one()
        in_flight = session.scalar(
            select(func.count()).where(
                OutboxEvent.dispatched_at.is_not(None),
                OutboxEvent.completed_at.is_(None),
                OutboxEvent.stuck_reason.is_(None),
            )
        )
        stuck = session.scalar(select(func.count()).where(OutboxEvent.stuck_reason.is_not(None)))
    oldest_age = None
    if oldest is not None:
        oldest_age = max(0.0, (now - _aware(oldest)).total_seconds())
    return OutboxStats(int(pending), oldest_age, int(in_flight or 0), int(stuck or 0))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
