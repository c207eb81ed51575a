"""The review service's Celery tasks."""

from __future__ import annotations

from shared.db import get_database
from shared.domain.events import ArticleIngested, SourceRevised
from shared.editorial import timers
from shared.settings import get_settings
from shared.tasks import consumer, task
from shared.uow import UnitOfWork

from . import handlers


@consumer("review.article_ingested", ArticleIngested)
def article_ingested(uow: UnitOfWork, event: ArticleIngested) -> None:
    handlers.queue_article(uow, event.article_id)


@consumer("review.source_revised", SourceRevised)
def source_revised(uow: UnitOfWork, event: SourceRevised) -> None:
    handlers.flag_source_revision(uow, event.article_id, event.revision_id)


@task("review.sweep_timers")
def sweep_timers() -> int:
    """Beat: lapse expired claims, publish scheduled articles whose time has come."""
    return timers.sweep(get_database(), get_settings())
