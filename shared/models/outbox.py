"""The outbox: events written in the same transaction as the change that caused them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "dispatched_at", "seq"),
        Index("ix_outbox_events_open", "completed_at", "dispatched_at"),
    )

    # Sequence for the relay's ordered scan; the public id is the envelope's UUID.
    seq: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    data: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[dt.datetime | None]
    dispatch_count: Mapped[int] = mapped_column(default=0)
    # A relay took the row to send it; others leave it alone until then (see shared.outbox).
    claimed_until: Mapped[dt.datetime | None]
    # All consumers acknowledged (receipts); nothing left to redeliver.
    completed_at: Mapped[dt.datetime | None]
    # Redelivery gave up; listed by `crossfeed status` for an operator.
    stuck_reason: Mapped[str | None] = mapped_column(Text)


class EventReceipt(Base):
    """A consumer processed an event. Written in the consumer's own transaction: idempotency."""

    __tablename__ = "event_receipts"

    # No foreign key: the relay prunes old events with their receipts, and a late duplicate
    # of a pruned event must still find "not processed" semantics rather than an FK error.
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    processed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
