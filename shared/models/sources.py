"""Sources: the outlets' feeds the poller watches, with their health."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.domain.states import SourceStatus
from shared.models.base import Base, utcnow


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused')", name="status"),
        Index("ix_sources_due", "status", "next_poll_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    # The URL before the last permanent redirect the poller followed.
    previous_url: Mapped[str | None] = mapped_column(String(2048))
    site_url: Mapped[str | None] = mapped_column(String(2048))
    language: Mapped[str] = mapped_column(String(16))
    # How the newsroom credits the outlet: "..., {attribution}" e.g. "Syria TV says".
    attribution: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=SourceStatus.ACTIVE)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # The operator's pinned interval; None means the configured default.
    interval_minutes: Mapped[int | None]
    next_poll_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The per-source poll lock. The sweep takes a lease (token + expiry) and sends the token;
    # a poll starts only by swapping that token for its own, so a duplicated message cannot
    # start a second poll, and a poll lost with its worker is retried once the lease expires.
    poll_lease_until: Mapped[dt.datetime | None]
    poll_lease_token: Mapped[str | None] = mapped_column(String(36))

    # Conditional GET and unchanged-body detection.
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    content_hash: Mapped[str | None] = mapped_column(String(64))

    # Health.
    last_polled_at: Mapped[dt.datetime | None]
    last_success_at: Mapped[dt.datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # Raw bytes of the last document that failed to parse, bounded, for debugging.
    last_failed_body: Mapped[bytes | None]

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
