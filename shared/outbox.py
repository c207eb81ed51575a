"""The outbox relay: sends committed events to their consumers' queues, at least once.

Three jobs, all driven by the database so that nothing depends on the broker keeping a message:
- dispatch: events not yet sent go to every consumer (`shared.subscriptions`);
- redeliver: an event sent long ago that a consumer never acknowledged (no receipt) is sent
  again to that consumer, with a growing wait between attempts and not while the consumer's
  queue still holds a backlog, up to a limit; then it is marked stuck, listed by `crossfeed
  outbox stuck` and retried by `crossfeed outbox retry`. This is what recovers a message lost
  by a killed worker, a flushed Redis or the embedded broker (which drops a message once a
  worker has received it);
- prune: finished events older than the retention are deleted.

Sending happens outside any transaction: a batch is first claimed (a short transaction that
stamps `claimed_until`, rows taken with SKIP LOCKED so several relays share the work), then
sent, then marked. A relay that dies after sending leaves a claim that expires, and the events
are sent again: at least once, never lost. No lock is held while the broker is slow.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from shared import metrics
from shared.db import Database
from shared.models import EventReceipt, OutboxEvent, utcnow
from shared.settings import Settings
from shared.subscriptions import Consumer, consumers_of

log = structlog.get_logger(__name__)

Send = Callable[[Consumer, dict[str, Any]], None]
QueueDepths = Callable[[], dict[str, int]]

# How long a claimed batch is reserved for the relay that claimed it.
CLAIM_SECONDS = 60
# Redelivery waits redelivery_after x 2^(n-1) after the n-th dispatch, at most this long.
MAX_REDELIVERY_WAIT = dt.timedelta(hours=6)
# A backlog in the consumer's queue delays redelivery, but not for longer than this many waits.
BACKLOG_PATIENCE = 4


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


@dataclass(frozen=True)
class _Job:
    seq: int
    envelope: dict[str, Any]
    consumers: tuple[Consumer, ...]


class Relay:
    """Moves events from the outbox table to the broker. Safe to run several at once."""

    def __init__(
        self,
        database: Database,
        send: Send,
        settings: Settings,
        housekeeping: Sequence[Callable[[], object]] = (),
        queue_depths: QueueDepths | None = None,
    ) -> None:
        self.database = database
        self.send = send
        self.settings = settings
        # More chores for the same interval as redelivery, e.g. pruning the embedded broker.
        self.housekeeping = housekeeping
        self.queue_depths = queue_depths

    def dispatch_pending(self) -> int:
        """Send a batch of undispatched events; return how many were sent."""
        now = utcnow()
        with self.database.session() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.dispatched_at.is_(None),
                    (OutboxEvent.claimed_until.is_(None)) | (OutboxEvent.claimed_until < now),
                )
                .order_by(OutboxEvent.seq)
                .limit(self.settings.relay_batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            jobs = [_Job(row.seq, row_envelope(row), consumers_of(row.type)) for row in rows]
            self._claim(session, [job.seq for job in jobs], now)
            session.commit()
        sent = self._send_jobs(jobs)
        self._mark(sent, [job.seq for job in jobs])
        for job in sent:
            metrics.EVENTS_DISPATCHED.labels(job.envelope["type"]).inc()
        return len(sent)

    def redeliver(self) -> int:
        """Resend events that a consumer has not acknowledged in time; return how many."""
        now = utcnow()
        first_wait = dt.timedelta(seconds=self.settings.redelivery_after_seconds)
        depths = self._depths()
        jobs: list[_Job] = []
        with self.database.session() as session:
            rows = session.scalars(
                select(OutboxEvent)
                .where(
                    OutboxEvent.completed_at.is_(None),
                    OutboxEvent.dispatched_at < now - first_wait,
                    OutboxEvent.stuck_reason.is_(None),
                    (OutboxEvent.claimed_until.is_(None)) | (OutboxEvent.claimed_until < now),
                )
                .order_by(OutboxEvent.dispatched_at)
                .limit(self.settings.relay_batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            for row in rows:
                done = set(
                    session.scalars(
                        select(EventReceipt.consumer).where(EventReceipt.event_id == row.id)
                    )
                )
                missing = tuple(c for c in consumers_of(row.type) if c.task not in done)
                if not missing:
                    row.completed_at = now
                    continue
                assert row.dispatched_at is not None
                wait = min(first_wait * 2 ** max(row.dispatch_count - 1, 0), MAX_REDELIVERY_WAIT)
                waited = now - row.dispatched_at
                if waited < wait:
                    continue
                if row.dispatch_count >= self.settings.redelivery_max_attempts:
                    names = ", ".join(c.task for c in missing)
                    row.stuck_reason = (
                        f"no receipt from {names} after {row.dispatch_count} dispatches"
                    )
                    log.error("event_stuck", event_id=row.id, type=row.type, consumers=names)
                    continue
                # The message may still be waiting behind others: do not pile copies on a
                # backlog (a deploy, an outage), unless the backlog has lasted too long.
                backlog = any(depths.get(c.queue, 0) > 0 for c in missing)
                if backlog and waited < wait * BACKLOG_PATIENCE:
                    continue
                jobs.append(_Job(row.seq, row_envelope(row), missing))
            self._claim(session, [job.seq for job in jobs], now)
            session.commit()
        sent = self._send_jobs(jobs)
        self._mark(sent, [job.seq for job in jobs])
        for job in sent:
            metrics.EVENTS_REDELIVERED.labels(job.envelope["type"]).inc()
            log.info(
                "event_redelivered",
                event_id=job.envelope["id"],
                type=job.envelope["type"],
                consumers=[c.task for c in job.consumers],
            )
        return len(sent)

    def _claim(self, session: Any, seqs: list[int], now: dt.datetime) -> None:
        if seqs:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq.in_(seqs))
                .values(claimed_until=now + dt.timedelta(seconds=CLAIM_SECONDS))
            )

    def _send_jobs(self, jobs: list[_Job]) -> list[_Job]:
        """Send in order until the broker fails; return what was sent."""
        sent: list[_Job] = []
        for job in jobs:
            try:
                for consumer in job.consumers:
                    self.send(consumer, job.envelope)
            except Exception as exc:  # noqa: BLE001 - whatever the broker raised, it is retried later
                log.warning("relay_send_failed", event_id=job.envelope["id"], error=str(exc))
                metrics.RELAY_ERRORS.inc()
                break
            sent.append(job)
        return sent

    def _mark(self, sent: list[_Job], claimed: list[int]) -> None:
        """Record what was sent, and release the claim on the rest."""
        if not claimed:
            return
        now = utcnow()
        sent_seqs = [job.seq for job in sent]
        with self.database.session() as session:
            if sent_seqs:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.seq.in_(sent_seqs))
                    .values(
                        dispatched_at=now,
                        dispatch_count=OutboxEvent.dispatch_count + 1,
                        claimed_until=None,
                    )
                )
                # Events nobody consumes are done once dispatched.
                unconsumed = [job.seq for job in sent if not job.consumers]
                if unconsumed:
                    session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.seq.in_(unconsumed))
                        .values(completed_at=now)
                    )
            unsent = sorted(set(claimed) - set(sent_seqs))
            if unsent:
                session.execute(
                    update(OutboxEvent)
                    .where(OutboxEvent.seq.in_(unsent))
                    .values(claimed_until=None)
                )
            session.commit()

    def _depths(self) -> dict[str, int]:
        if self.queue_depths is None:
            return {}
        try:
            return self.queue_depths()
        except Exception as exc:  # noqa: BLE001 - no depths: redeliver on the timer alone
            log.warning("relay_queue_depths_failed", error=str(exc))
            return {}

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


def stuck_events(database: Database, limit: int = 100) -> list[OutboxEvent]:
    """Events redelivery gave up on and that are still not done."""
    with database.session(read_only=True) as session:
        return list(
            session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.stuck_reason.is_not(None), OutboxEvent.completed_at.is_(None))
                .order_by(OutboxEvent.seq)
                .limit(limit)
            )
        )


def retry_stuck(database: Database, event_ids: Sequence[str] | None = None) -> int:
    """Send stuck events again, to every consumer (those already done ignore them)."""
    with database.session() as session:
        stmt = (
            update(OutboxEvent)
            .where(OutboxEvent.stuck_reason.is_not(None), OutboxEvent.completed_at.is_(None))
            .values(stuck_reason=None, dispatched_at=None, dispatch_count=0, claimed_until=None)
        )
        if event_ids is not None:
            stmt = stmt.where(OutboxEvent.id.in_(list(event_ids)))
        result = session.execute(stmt)
        session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def outbox_stats(database: Database) -> OutboxStats:
    """Backlog figures for `crossfeed status`, /metrics and /readyz."""
    now = utcnow()
    with database.session(read_only=True) as session:
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
        stuck = session.scalar(
            select(func.count()).where(
                OutboxEvent.stuck_reason.is_not(None), OutboxEvent.completed_at.is_(None)
            )
        )
    oldest_age = None
    if oldest is not None:
        oldest_age = max(0.0, (now - _aware(oldest)).total_seconds())
    return OutboxStats(int(pending), oldest_age, int(in_flight or 0), int(stuck or 0))


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
