"""Enrich an article's source text. Idempotent: the same input stores nothing new."""

from __future__ import annotations

import hashlib
from typing import Any

import structlog
from sqlalchemy import select

from shared.domain.events import ArticleEnriched
from shared.enrichment import entities
from shared.enrichment.entities import Gazetteer
from shared.html import to_text
from shared.models import Article, ArticleRevision, Enrichment, utcnow
from shared.uow import UnitOfWork

from .text import text_stats

log = structlog.get_logger(__name__)

# Bump when the computation changes, so stored results are recomputed.
ENRICHER_VERSION = "2"  # 2: places and organisations from the gazetteer


def entities_of(text: str, gazetteer: Gazetteer) -> dict[str, Any]:
    """What `Enrichment.entities` stores: ids by type, mentions and governorates filed under."""
    found = gazetteer.find(text)
    return {
        "places": [f.id for f in found if f.type == "place"],
        "organisations": [f.id for f in found if f.type == "organisation"],
        "mentions": {f.id: f.mentions for f in found},
        "governorates": sorted(
            {f.governorate for f in found if f.type == "place" and f.governorate}
        ),
    }


def enrich_source(uow: UnitOfWork, article_id: int, gazetteer: Gazetteer | None = None) -> bool:
    """Compute source-text metadata for the article's current revision; False if unchanged."""
    session = uow.session
    # Locked: two deliveries for one article (scaled enrichers) take turns instead of racing
    # to insert the same enrichment row.
    article = session.get(Article, article_id, with_for_update=True)
    if article is None or article.current_revision_id is None:
        log.info("enrich_skipped_no_article", article_id=article_id)
        return False
    gazetteer = gazetteer or entities.default()
    revision = session.get_one(ArticleRevision, article.current_revision_id)
    text = "\n".join(
        (revision.title, to_text(revision.summary_html), to_text(revision.content_html))
    )
    version = f"{ENRICHER_VERSION}/{gazetteer.fingerprint}"
    input_hash = hashlib.sha256(f"{version}\n{text}".encode()).hexdigest()
    enrichment = session.scalar(
        select(Enrichment).where(
            Enrichment.article_id == article_id, Enrichment.subject == "source"
        )
    )
    if enrichment is not None and enrichment.input_hash == input_hash:
        return False
    stats = text_stats(text)
    if enrichment is None:
        enrichment = Enrichment(article_id=article_id, subject="source")
        session.add(enrichment)
    enrichment.input_hash = input_hash
    enrichment.script = stats.script
    enrichment.direction = stats.direction
    # The source's declared language wins; the script guess fills in when it is missing.
    enrichment.language = article.language or stats.language_guess
    enrichment.word_count = stats.word_count
    enrichment.reading_minutes = stats.reading_minutes
    enrichment.entities = entities_of(text, gazetteer)
    enrichment.computed_at = utcnow()
    uow.emit(ArticleEnriched(article_id=article_id, subject="source"))
    return True
