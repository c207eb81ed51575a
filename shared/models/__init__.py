"""ORM models (SQLAlchemy 2). Importing this package registers every table on Base.metadata."""

from shared.models.articles import Article, ArticleRevision, Translation, WorkflowEntry
from shared.models.base import MAX_ID, Base, table_of, utcnow
from shared.models.enrichment import ArticleTerm, Enrichment, StoryBand
from shared.models.outbox import EventReceipt, OutboxEvent
from shared.models.people import ApiToken, User
from shared.models.publishing import Delivery, Destination, FeedDocument, Partner
from shared.models.sources import PushedDocument, Source

__all__ = [
    "MAX_ID",
    "ApiToken",
    "Article",
    "ArticleRevision",
    "ArticleTerm",
    "Base",
    "Delivery",
    "Destination",
    "Enrichment",
    "EventReceipt",
    "FeedDocument",
    "OutboxEvent",
    "Partner",
    "PushedDocument",
    "Source",
    "StoryBand",
    "Translation",
    "User",
    "WorkflowEntry",
    "table_of",
    "utcnow",
]
