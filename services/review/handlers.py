"""Put ingested articles on the desk; flag work in progress when the source changes."""

from __future__ import annotations

import structlog

from shared.domain.events import ArticleQueued
from shared.domain.states import ArticleState
from shared.editorial.actions import find_article
from shared.models import WorkflowEntry, utcnow
from shared.uow import UnitOfWork

log = structlog.get_logger(__name__)

# States in which someone is working from the source text, so a change to it must be flagged.
WORK_IN_PROGRESS = frozenset(
    {
        ArticleState.TRANSLATING,
        ArticleState.IN_REVIEW,
        ArticleState.APPROVED,
        ArticleState.SCHEDULED,
    }
)


def queue_article(uow: UnitOfWork, article_id: int) -> bool:
    """Record the article's entry into the workflow; False if it was already queued."""
    article = find_article(uow, article_id, lock=True)
    if article is None:
        log.info("queue_skipped_no_article", article_id=article_id)
        return False
    if article.queued_at is not None:
        return False
    article.queued_at = utcnow()
    uow.session.add(
        WorkflowEntry(
            article_id=article.id,
            action="queue",
            from_state=None,
            to_state=article.state,
            note="ingested; waiting for a translator",
        )
    )
    uow.emit(ArticleQueued(article_id=article.id))
    return True


def flag_source_revision(uow: UnitOfWork, article_id: int, revision_id: int) -> bool:
    """Flag an article whose source changed while someone works on it; False if not needed."""
    article = find_article(uow, article_id, lock=True)
    if article is None or article.state not in WORK_IN_PROGRESS:
        return False
    article.source_revised = True
    uow.session.add(
        WorkflowEntry(
            article_id=article.id,
            action="source_revised",
            from_state=article.state,
            to_state=article.state,
            note=f"the outlet changed the story (source revision {revision_id})",
        )
    )
    return True
