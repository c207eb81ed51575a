"""Editors' keywords: their list replaces the computed one and stays through recomputation."""

from __future__ import annotations

from typing import Annotated

import structlog
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shared.enrichment import keywords, related
from shared.models import Enrichment, User, utcnow
from shared.publishing import feeds
from shared.uow import UnitOfWork

from .actions import get_article

log = structlog.get_logger(__name__)


class KeywordsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keywords: list[Annotated[str, StringConstraints(max_length=100)]] = Field(
        max_length=30, description="the article's Helpful keywords, in order"
    )


def set_keywords(uow: UnitOfWork, article_id: int, user: User, raw: list[str]) -> list[str]:
    """Store the editor's keywords on the translation's enrichment (created when the enricher
    has not run yet: it fills in the rest and keeps these). Returns them as stored."""
    article = get_article(uow, article_id, lock=True)
    cleaned = keywords.edited(raw)
    rows = related.enrichments_of(uow.session, article_id)
    enrichment = rows.get("translation")
    if enrichment is None:
        # An empty input hash: the enricher's next run computes everything else.
        enrichment = rows["translation"] = Enrichment(
            article_id=article_id, subject="translation", input_hash=""
        )
        uow.session.add(enrichment)
    enrichment.keywords = cleaned
    enrichment.keywords_edited = True
    enrichment.computed_at = utcnow()  # the row changed: renderings keyed on it are stale
    uow.session.flush()
    if article.public_revision:  # partners' feeds carry the keywords as tags
        feeds.mark_stale(uow.session)
    related.index_terms(uow.session, article_id, rows.values())
    log.info("keywords_edited", article_id=article_id, user=user.username, keywords=cleaned)
    return cleaned
