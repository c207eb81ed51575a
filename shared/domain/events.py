"""Events: what happened, past tense, versioned pydantic payloads carried by the outbox.

An event travels as an envelope `{"id", "type", "version", "occurred_at", "data"}`. A consumer
parses it back with `parse_envelope`; an unknown type or a version newer than this code knows is
refused with `UnknownEvent` rather than guessed at.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError


class UnknownEvent(ValueError):
    """An envelope this code cannot read: unknown type, newer version, or bad data."""


class Event(BaseModel):
    """Base of every event. Subclasses set `type` and `version` and declare their data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]
    version: ClassVar[int] = 1


class SourcePollRequested(Event):
    """Someone asked for a source to be polled now (CLI, API)."""

    type = "source.poll_requested"
    source_id: int


class SourceContentPushed(Event):
    """A WebSub hub pushed a feed document for a source; it waits in pushed_documents."""

    type = "source.content_pushed"
    source_id: int
    document_id: int


class ArticleIngested(Event):
    """The poller stored a new source article."""

    type = "article.ingested"
    article_id: int
    source_id: int
    revision_id: int


class SourceRevised(Event):
    """A known source article changed upstream; a new source revision was stored."""

    type = "article.source_revised"
    article_id: int
    source_id: int
    revision_id: int
    previous_revision_id: int


class ArticleQueued(Event):
    """The review service put a new article on the translation desk."""

    type = "article.queued"
    article_id: int


class ArticleEnriched(Event):
    """The enricher stored metadata for the article's source text or a translation."""

    type = "article.enriched"
    article_id: int
    subject: str  # "source", "translation" (the newest version) or "public" (see models)


class ArticleTransitioned(Event):
    """Someone (or a timer, actor_id None) took a workflow action; the audit trail's event."""

    type = "article.transitioned"
    article_id: int
    action: str
    from_state: str
    to_state: str
    actor_id: int | None = None
    translation_id: int | None = None


class ArticlePublished(Event):
    """An approved translation is to go out to every destination (again, for a correction)."""

    type = "article.published"
    article_id: int
    translation_id: int
    correction: bool = False
    revision: int = 0  # the article's public revision this made (0: from before it was counted)


class ArticleWithdrawn(Event):
    """A published article is to be taken down from every destination that has it."""

    type = "article.withdrawn"
    article_id: int
    revision: int = 0


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        SourcePollRequested,
        SourceContentPushed,
        ArticleIngested,
        SourceRevised,
        ArticleQueued,
        ArticleEnriched,
        ArticleTransitioned,
        ArticlePublished,
        ArticleWithdrawn,
    )
}


def new_event_id() -> str:
    return str(uuid.uuid4())


def envelope(
    event: Event, event_id: str | None = None, occurred_at: dt.datetime | None = None
) -> dict[str, Any]:
    """The JSON-ready envelope that the outbox stores and the broker carries."""
    return {
        "id": event_id or new_event_id(),
        "type": event.type,
        "version": event.version,
        "occurred_at": (occurred_at or dt.datetime.now(dt.UTC)).isoformat(),
        "data": event.model_dump(mode="json"),
    }


def parse_envelope(raw: dict[str, Any]) -> tuple[str, Event]:
    """Return (event id, event) from an envelope, or raise UnknownEvent saying why."""
    try:
        event_id, type_, version, data = raw["id"], raw["type"], raw["version"], raw["data"]
    except (KeyError, TypeError) as exc:
        raise UnknownEvent(f"not an event envelope: {exc!r}") from exc
    cls = EVENT_TYPES.get(type_)
    if cls is None:
        raise UnknownEvent(f"unknown event type {type_!r}")
    if not isinstance(version, int) or version > cls.version:
        raise UnknownEvent(f"{type_} version {version!r} is newer than this code ({cls.version})")
    try:
        return str(event_id), cls.model_validate(data)
    except ValidationError as exc:
        raise UnknownEvent(f"bad {type_} data: {exc}") from exc
