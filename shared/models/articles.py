"""Articles: source items with their source revisions, translations and workflow history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.domain.states import ArticleState
from shared.models.base import Base, utcnow
from shared.models.sources import Source

_STATES = ", ".join(f"'{state.value}'" for state in ArticleState)


class Article(Base):
    """One story from one source. The workflow state and the lock version live here."""

    __tablename__ = "articles"
    __table_args__ = (
        # The identity rule makes double ingest impossible, even for concurrent polls.
        UniqueConstraint("source_id", "identity_key"),
        CheckConstraint(f"state IN ({_STATES})", name="state"),
        Index("ix_articles_state_first_seen", "state", "first_seen_at"),
        # The adaptive schedule counts a source's recent stories.
        Index("ix_articles_source_published", "source_id", "source_published_at"),
        # Feeds whose identity rule changed are matched by link too.
        Index("ix_articles_source_url", "source_id", "url"),
        # The review timers: lapsed claims, scheduled publication.
        Index("ix_articles_claim_expires_at", "claim_expires_at"),
        Index("ix_articles_scheduled_for", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="RESTRICT"))
    identity_key: Mapped[str] = mapped_column(String(512))
    guid: Mapped[str | None] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(String(2048))
    language: Mapped[str] = mapped_column(String(16))
    source_published_at: Mapped[dt.datetime | None]
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    current_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("article_revisions.id", use_alter=True, ondelete="SET NULL")
    )

    state: Mapped[str] = mapped_column(String(16), default=ArticleState.NEW)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claim_expires_at: Mapped[dt.datetime | None]
    scheduled_for: Mapped[dt.datetime | None]
    published_at: Mapped[dt.datetime | None]  # first published
    # What the public sees: bumped by every publication, correction and withdrawal (the
    # deliveries' revision); the slug fixed at first publication (the canonical URL's); when
    # the public version last changed.
    public_revision: Mapped[int] = mapped_column(default=0, server_default="0")
    public_slug: Mapped[str | None] = mapped_column(String(240))
    public_updated_at: Mapped[dt.datetime | None]
    # The version the public sees: set by each publication, kept while a correction is under
    # way (which clears the approval), so deliveries and feeds meanwhile still have it.
    public_translation_id: Mapped[int | None]
    queued_at: Mapped[dt.datetime | None]  # put on the desk by the review service
    source_revised: Mapped[bool] = mapped_column(default=False)  # flag for the translator
    # The newest translation version, and the one an editor approved (publishing needs both to
    # be the same). A plain column, not a foreign key, where translations point back here.
    current_translation_id: Mapped[int | None]
    approved_translation_id: Mapped[int | None]
    # Optimistic lock for editorial writes (workflow, translation): compare-and-set by the
    # review handlers, so a stale write is refused (409). Not an ORM version counter, because
    # the poller storing a new source revision must not invalidate a translator's save.
    lock_version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    source: Mapped[Source] = relationship(lazy="raise")
    current_revision: Mapped[ArticleRevision | None] = relationship(
        foreign_keys=[current_revision_id], lazy="raise", post_update=True
    )


class ArticleRevision(Base):
    """The source text as fetched; a new row each time the outlet changes the story."""

    __tablename__ = "article_revisions"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    summary_html: Mapped[str] = mapped_column(Text, default="")
    content_html: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Translation(Base):
    """One saved version of the English translation. Versions are never updated."""

    __tablename__ = "translations"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    dek: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    translator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    machine: Mapped[bool] = mapped_column(default=False)  # a machine draft: never published as is
    source_revision_id: Mapped[int | None] = mapped_column(
        ForeignKey("article_revisions.id", ondelete="SET NULL")
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WorkflowEntry(Base):
    """The audit trail: every transition, who made it, when, and why."""

    __tablename__ = "workflow_history"
    __table_args__ = (Index("ix_workflow_history_article", "article_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    translation_id: Mapped[int | None] = mapped_column(
        ForeignKey("translations.id", ondelete="SET NULL")
    )
