"""The enricher's Celery tasks."""

from __future__ import annotations

from shared.domain.events import ArticleIngested, ArticleTransitioned, SourceRevised
from shared.settings import get_settings
from shared.tasks import consumer
from shared.uow import UnitOfWork

from . import handlers

# Workflow actions that leave a new translation version to enrich.
TRANSLATION_ACTIONS = frozenset({"save", "submit"})


@consumer("enricher.article_ingested", ArticleIngested)
def article_ingested(uow: UnitOfWork, event: ArticleIngested) -> None:
    handlers.enrich_source(uow, event.article_id, handlers.tools_for(get_settings()))


@consumer("enricher.source_revised", SourceRevised)
def source_revised(uow: UnitOfWork, event: SourceRevised) -> None:
    handlers.enrich_source(uow, event.article_id, handlers.tools_for(get_settings()))


@consumer("enricher.article_transitioned", ArticleTransitioned)
def article_transitioned(uow: UnitOfWork, event: ArticleTransitioned) -> None:
    if event.action in TRANSLATION_ACTIONS and event.translation_id is not None:
        handlers.enrich_translation(uow, event.article_id, handlers.tools_for(get_settings()))
