"""Response models of the editor API. Times are RFC 3339 in UTC."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.models import MAX_ID


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SourceRef(Out):
    id: int
    name: str


class SourceOut(Out):
    id: int
    name: str
    url: str
    site_url: str | None
    language: str
    attribution: str | None
    status: str
    paused_reason: str | None
    interval_minutes: int | None
    next_poll_at: dt.datetime
    last_polled_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_outcome: str | None
    last_status_code: int | None
    last_error: str | None
    last_notes: str | None
    consecutive_failures: int
    full_text: bool
    identity_rule: str
    identity_note: str | None
    previous_url: str | None
    websub_state: str
    websub_hub: str | None
    websub_lease_until: dt.datetime | None
    websub_error: str | None
    created_at: dt.datetime


class RevisionOut(Out):
    id: int
    number: int
    title: str
    summary_html: str
    content_html: str
    author: str | None
    fetched_at: dt.datetime


class EnrichmentOut(Out):
    subject: str  # "source", "translation" (the newest version) or "public" (see models)
    language: str | None
    language_confidence: float | None
    script: str | None
    direction: str | None
    word_count: int
    reading_minutes: int
    slug: str | None
    keywords: list[Any]
    keywords_edited: bool  # an editor's list: recomputation leaves it alone
    entities: dict[str, Any]
    categories: list[Any]
    attribution: str | None
    disclaimer: str | None
    computed_at: dt.datetime


class StoryOut(Out):
    """The same story from another outlet."""

    article_id: int
    source: str
    title: str | None
    url: str | None
    state: str
    first_seen_at: dt.datetime


class RelatedOut(Out):
    """A published article sharing entities and keywords with this one."""

    article_id: int
    title: str | None
    published_at: dt.datetime | None
    score: float
    shared: list[str]


class HistoryOut(Out):
    at: dt.datetime
    actor: str | None
    action: str
    from_state: str | None
    to_state: str
    note: str | None
    translation_id: int | None = None


class ArticleSummary(Out):
    id: int
    source: SourceRef
    title: str
    url: str | None
    language: str
    state: str
    published_at: dt.datetime | None
    first_seen_at: dt.datetime
    queued_at: dt.datetime | None
    source_revised: bool
    assignee: str | None
    lock_version: int
    translated_title: str | None = None  # the current translation's, once there is one


class TranslationSummary(Out):
    id: int
    number: int
    title: str
    translator: str | None
    machine: bool
    source_revision_id: int | None
    created_at: dt.datetime


class TranslationOut(TranslationSummary):
    dek: str
    body_html: str


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    article_id: int
    revision: int
    destination: str
    kind: str
    action: str  # publish, correct, withdraw
    state: str  # pending, sending, delivered, failed, dead, superseded
    attempts: int
    next_attempt_at: dt.datetime | None  # the next try (failed), or the lease's end (sending)
    last_error: str | None
    remote_id: str | None
    updated_at: dt.datetime


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, max_length=1000, description="dead deliveries to replay"
    )
    all_dead: bool = Field(False, description="replay every dead delivery")


class ReplayOut(BaseModel):
    replayed: int


class ArticleDetail(ArticleSummary):
    revision: RevisionOut | None
    revisions: int
    translation: TranslationOut | None
    approved_translation_id: int | None
    claim_expires_at: dt.datetime | None
    scheduled_for: dt.datetime | None
    site_published_at: dt.datetime | None
    allowed_actions: list[str]  # what the caller may do now (parameters aside)
    enrichment: list[EnrichmentOut]
    also_reported_by: list[StoryOut]  # the same story from other outlets: translate it once
    related: list[RelatedOut]
    history: list[HistoryOut]
    deliveries: list[DeliveryOut]  # where it went (the publisher's ledger)


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lock_version: int = Field(
        ge=0, le=MAX_ID, description="the article's lock_version you saw (409 if stale)"
    )
    note: str | None = Field(None, max_length=4000)
    assignee: str | None = Field(None, max_length=64, description="assign: a username")
    at: dt.datetime | None = Field(None, description="schedule: when, RFC 3339 with a zone")


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lock_version: int = Field(
        ge=0, le=MAX_ID, description="the article's lock_version you saw (409 if stale)"
    )


class TranslationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lock_version: int = Field(
        ge=0, le=MAX_ID, description="the article's lock_version you saw (409 if stale)"
    )
    title: str = Field(max_length=1000)
    dek: str = Field("", max_length=2000)
    body_html: str = Field("", max_length=1_000_000)


class DiffOut(BaseModel):
    before: str
    after: str
    lines: list[str]  # a unified diff


class UserOut(Out):
    id: int
    username: str
    display_name: str
    role: str
