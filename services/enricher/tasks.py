"""The enricher's Celery tasks."""

from __future__ import annotations

from shared.domain.events import ArticleIngested, SourceRevised
from shared.enrichment import entities
from shared.enrichment.entities import Gazetteer
from shared.settings import get_settings
from shared.tasks import consumer
from shared.uow import UnitOfWork

from . import handlers


def _gazetteer() -> Gazetteer:
    """Built in plus the operator's files; read once per process (cached by the path list)."""
    return entities.default(tuple(get_settings().gazetteer_files))


@consumer("enricher.article_ingested", ArticleIngested)
def article_ingested(uow: UnitOfWork, event: ArticleIngested) -> None:
    handlers.enrich_source(uow, event.article_id, _gazetteer())


@consumer("enricher.source_revised", SourceRevised)
def source_revised(uow: UnitOfWork, event: SourceRevised) -> None:
    handlers.enrich_source(uow, event.article_id, _gazetteer())
