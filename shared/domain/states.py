"""The vocabularies the rest of the system agrees on: workflow states, roles, source health."""

from __future__ import annotations

from enum import StrEnum


class ArticleState(StrEnum):
    """Where an article is in the translation workflow."""

    NEW = "new"
    TRANSLATING = "translating"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    DISCARDED = "discarded"
    WITHDRAWN = "withdrawn"


class Role(StrEnum):
    """What a user may do; each role includes the ones before it."""

    TRANSLATOR = "translator"
    EDITOR = "editor"
    ADMIN = "admin"

    def includes(self, other: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(other)


class SourceStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"


class PollOutcome(StrEnum):
    """How the last poll of a source ended (also the label of the polls metric)."""

    OK = "ok"  # fetched and parsed
    NOT_MODIFIED = "not_modified"  # 304
    UNCHANGED = "unchanged"  # 200 with the same content as last time: not parsed
    ERROR = "error"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    SUPERSEDED = "superseded"  # a newer revision's delivery to the same destination replaced it


class DestinationKind(StrEnum):
    WORDPRESS = "wordpress"
    WEBHOOK = "webhook"
