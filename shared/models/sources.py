"""Sources: the outlets' feeds the poller watches, with their health."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from shared.domain.states import SourceStatus
from shared.models.base import Base, utcnow


def host_key(url: str) -> str:
    """What the per-host poll limit counts by: the host, with the port when one is given."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


class Source(Base):
    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'paused')", name="status"),
        Index("ix_sources_due", "status", "next_poll_at"),
        CheckConstraint("identity_rule IN ('guid', 'link', 'hash')", name="identity_rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    # The URL before the last permanent redirect the poller followed.
    previous_url: Mapped[str | None] = mapped_column(String(2048))
    host: Mapped[str] = mapped_column(String(300), index=True, default="")
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
    last_failed_body: Mapped[bytes | None] = mapped_column(deferred=True)  # loaded when read
    # What the last good poll noticed without failing: a wrong encoding, entries skipped.
    last_notes: Mapped[str | None] = mapped_column(Text)

    # How entries are recognised: by guid, else link, else a hash (see shared.feeds.parse).
    # The poller moves to "link" or "hash" when a feed repeats guids, and says why.
    identity_rule: Mapped[str] = mapped_column(String(8), default="guid")
    identity_note: Mapped[str | None] = mapped_column(Text)
    # Summary-only feeds: fetch each new article's page and extract its text.
    full_text: Mapped[bool] = mapped_column(default=False)

    # WebSub: the hub pushes new content to /websub/{websub_token}; polls become rare.
    websub_hub: Mapped[str | None] = mapped_column(String(2048))
    websub_topic: Mapped[str | None] = mapped_column(String(2048))
    websub_state: Mapped[str] = mapped_column(String(16), default="none")
    websub_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    websub_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    websub_lease_until: Mapped[dt.datetime | None]
    websub_requested_at: Mapped[dt.datetime | None]  # last subscription request sent to the hub
    websub_error: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @validates("url")
    def _derive_host(self, _key: str, url: str) -> str:
        self.host = host_key(url)
        return url


class PushedDocument(Base):
    """A feed document a WebSub hub pushed, kept until the poller has ingested it."""

    __tablename__ = "pushed_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
