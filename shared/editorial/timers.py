"""The review timers, swept from the database by beat: lapsed claims, scheduled publication.

Not Celery ETA tasks: Redis hands an unacknowledged ETA task to another worker once its
visibility timeout passes, and a lost one would never fire. Here what is due stays due until a
sweep handles it, so a lost tick costs one sweep interval, and each article is handled in its
own transaction through the same `take_action` as people's actions (history, events included).
"""

from __future__ import annotations

import datetime as dt

import structlog
from sqlalchemy import select

from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import ArticleState
from shared.errors import CrossfeedError
from shared.models import Article, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork

from .actions import take_action

log = structlog.get_logger(__name__)


# What each timer watches: the state, the time column, and the action when that time passes.
_TIMERS = (
    (ArticleState.TRANSLATING, Article.claim_expires_at, wf.Action.EXPIRE_CLAIM),
    (ArticleState.SCHEDULED, Article.scheduled_for, wf.Action.PUBLISH_SCHEDULED),
)


def due(database: Database, now: dt.datetime, limit: int = 500) -> list[tuple[int, wf.Action]]:
    """Articles whose claim lapsed or whose scheduled time came, with the action each needs."""
    found: list[tuple[int, wf.Action]] = []
    with UnitOfWork(database, read_only=True) as uow:
        for state, when, action in _TIMERS:
            ids = uow.session.scalars(
                select(Article.id)
                .where(Article.state == state, when <= now)
                .order_by(when)
                .limit(limit)
            ).all()
            found.extend((article_id, action) for article_id in ids)
    return found


def sweep(database: Database, settings: Settings, now: dt.datetime | None = None) -> int:
    """Handle everything due; how many articles changed. One failure does not stop the rest."""
    now = now or utcnow()
    return fire(database, settings, due(database, now), now)


def fire(
    database: Database, settings: Settings, items: list[tuple[int, wf.Action]], now: dt.datetime
) -> int:
    """Take each timer action under the article's lock; the rules re-check that it is still
    due (someone may have unscheduled or saved since the list was read)."""
    done = 0
    for article_id, action in items:
        try:
            with UnitOfWork(database) as uow:
                take_action(uow, article_id, None, wf.Request(action), settings, None, now=now)
                uow.commit()
            done += 1
            log.info("review_timer_fired", article_id=article_id, action=action.value)
        except CrossfeedError as exc:
            # Someone acted first (unscheduled, saved): nothing is due any more.
            log.info("review_timer_skipped", article_id=article_id, reason=exc.detail)
    return done
