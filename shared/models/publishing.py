"""Where published articles go: partners (pull feeds), destinations (push) and deliveries."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.domain.states import DeliveryState, DestinationKind
from shared.models.base import Base, utcnow

_DELIVERY_STATES = ", ".join(f"'{state.value}'" for state in DeliveryState)
_KINDS = ", ".join(f"'{kind.value}'" for kind in DestinationKind)


class Partner(Base):
    """A partner who pulls our outbound feeds with its own token and filters."""

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    formats: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Destination(Base):
    """A push target: the newsroom's WordPress site or a webhook endpoint."""

    __tablename__ = "destinations"
    __table_args__ = (CheckConstraint(f"kind IN ({_KINDS})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2048))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # non-secret settings
    # Credentials, to be stored encrypted with the installation's secret key (publishing work).
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """The ledger: one row per (article revision, destination)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("article_id", "revision", "destination_id"),
        CheckConstraint(f"state IN ({_DELIVERY_STATES})", name="state"),
        Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    revision: Mapped[int]
    destination_id: Mapped[int] = mapped_column(ForeignKey("destinations.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))  # publish, correct, withdraw
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    remote_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FeedDocument(Base):
    """A partner's feed (first page) as served: rendered when its content changes, not per
    request; its ETag and Last-Modified change only when its bytes do."""

    __tablename__ = "feed_documents"

    partner_id: Mapped[int] = mapped_column(
        ForeignKey("partners.id", ondelete="CASCADE"), primary_key=True
    )
    format: Mapped[str] = mapped_column(String(16), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(80))
    last_modified: Mapped[dt.datetime] = mapped_column(default=utcnow)
    stale: Mapped[bool] = mapped_column(default=False)  # to render again (content changed)
