"""The enricher's Celery tasks."""

from __future__ import annotations

from shared.domain.events import ArticleIngested, SourceRevised
from shared.tasks import consumer
from shared.uow import UnitOfWork

from . import handlers


@consumer("enricher.article_ingested", ArticleIngested)
def article_ingested(uow: UnitOfWork, event: ArticleIngested) -> None:
    handlers.enrich_source(uow, event.article_id)


@consumer("enricher.source_revised", SourceRevised)
def source_revised(uow: UnitOfWork, event: SourceRevised) -> None:
    handlers.enrich_source(uow, event.article_id)
