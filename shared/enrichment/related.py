"""The related-story index (terms: entities and keywords), and reading the enricher's indexes:
stories also reported by other outlets, related articles.

Both are read when an editor opens an article, so they are always current: a story published
after this one was enriched still shows as related.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from shared.db import insert_pairs, one_of
from shared.domain.states import ArticleState
from shared.enrichment.keywords import normalise_keyword
from shared.models import (
    Article,
    ArticleRevision,
    ArticleTerm,
    Enrichment,
    Source,
    Translation,
    table_of,
)

RELATED_LIMIT = 8
# A term on more articles than this says nothing about which (every story names Syria).
MAX_TERM_ARTICLES = 5000
MAX_ROWS = 5000  # candidate rows read for one article, newest first
# An entity shared says more than a keyword shared.
WEIGHTS = {"e": 2.0, "k": 1.0}
TERMS = table_of(ArticleTerm)
_DELETE_TERMS = delete(TERMS).where(TERMS.c.article_id == bindparam("article_id"))


@dataclass(frozen=True)
class Story:
    article_id: int
    source: str
    title: str | None
    url: str | None
    state: str
    first_seen_at: dt.datetime


@dataclass(frozen=True)
class Related:
    article_id: int
    title: str | None
    published_at: dt.datetime | None
    score: float
    shared: list[str]  # the terms in common, most telling first


def entity_term(entity_id: str) -> str:
    return f"e:{entity_id}"


def keyword_term(normalised: str) -> str:
    return f"k:{normalised}"[:200]  # the column's length


class Termed(Protocol):
    """What terms are read from: an enrichment row, or the enricher's copy of one."""

    @property
    def entities(self) -> dict[str, Any]: ...
    @property
    def keywords(self) -> list[Any]: ...


def terms_of(enrichments: Iterable[Termed]) -> set[str]:
    terms: set[str] = set()
    for enrichment in enrichments:
        mentions = enrichment.entities.get("mentions", {})
        terms.update(entity_term(e) for e, n in mentions.items() if n)
        terms.update(keyword_term(normalise_keyword(k)) for k in enrichment.keywords if k)
    return terms


def enrichments_of(session: Session, article_id: int) -> dict[str, Enrichment]:
    """The article's enrichment rows by subject ("source", "translation")."""
    return {
        e.subject: e
        for e in session.scalars(select(Enrichment).where(Enrichment.article_id == article_id))
    }


def index_terms(
    session: Session, article_id: int, enrichments: Iterable[Termed], replace: bool = True
) -> None:
    """The article's terms, from its enrichment rows (all of them), replaced (`replace=False`:
    the article has none yet, being enriched for the first time)."""
    if replace:
        session.execute(_DELETE_TERMS, {"article_id": article_id})
    terms = sorted(terms_of(enrichments))
    insert_pairs(session, "article_terms", "term", terms, "article_id", article_id)


def also_reported_by(session: Session, article_id: int) -> list[Story]:
    """Other outlets' articles in this article's story cluster, first seen first."""
    cluster = session.scalar(
        select(Enrichment.cluster_id).where(
            Enrichment.article_id == article_id, Enrichment.subject == "source"
        )
    )
    if cluster is None:
        return []
    rows = session.execute(
        select(Article, Source.name, ArticleRevision.title)
        .join(Enrichment, (Enrichment.article_id == Article.id) & (Enrichment.subject == "source"))
        .join(Source, Source.id == Article.source_id)
        .outerjoin(ArticleRevision, ArticleRevision.id == Article.current_revision_id)
        .where(Enrichment.cluster_id == cluster, Article.id != article_id)
        .order_by(Article.first_seen_at, Article.id)
    )
    return [Story(a.id, name, title, a.url, a.state, a.first_seen_at) for a, name, title in rows]


def related(session: Session, article_id: int, limit: int = RELATED_LIMIT) -> list[Related]:
    """Published articles sharing entities and keywords with this one, ranked by what they
    share, each term weighted by its kind and its rarity (inverse document frequency)."""
    terms = list(
        session.scalars(select(ArticleTerm.term).where(ArticleTerm.article_id == article_id))
    )
    if not terms:
        return []
    # The number of articles, for inverse document frequency: the highest id is an index
    # lookup where counting the terms table would read all of it on every article opened.
    total = session.scalar(select(func.max(Article.id))) or 1
    counts: dict[str, int] = dict(
        session.execute(
            select(ArticleTerm.term, func.count())
            .where(one_of(session, ArticleTerm.term, terms))
            .group_by(ArticleTerm.term)
        ).all()
    )
    telling = [t for t in terms if 1 < counts.get(t, 0) <= MAX_TERM_ARTICLES]
    if not telling:
        return []
    weight = {t: WEIGHTS.get(t[0], 1.0) * math.log(1 + total / counts[t]) for t in telling}
    cluster = (
        select(Enrichment.cluster_id)
        .where(Enrichment.article_id == article_id, Enrichment.subject == "source")
        .scalar_subquery()
    )
    same_story = select(Enrichment.article_id).where(
        Enrichment.subject == "source", Enrichment.cluster_id == cluster
    )
    rows = session.execute(
        select(ArticleTerm.article_id, ArticleTerm.term)
        .join(Article, Article.id == ArticleTerm.article_id)
        .where(
            one_of(session, ArticleTerm.term, telling),
            ArticleTerm.article_id != article_id,
            ArticleTerm.article_id.not_in(same_story),
            Article.state == ArticleState.PUBLISHED,
        )
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(MAX_ROWS)
    )
    shared: dict[int, list[str]] = {}
    for other, term in rows:
        shared.setdefault(other, []).append(term)
    scored = sorted(
        ((sum(weight[t] for t in ts), other) for other, ts in shared.items()),
        key=lambda pair: (-pair[0], -pair[1]),
    )[:limit]
    if not scored:
        return []
    articles = {  # titled as published (the approved translation), else as the source has it
        a.id: (a, english or original)
        for a, original, english in session.execute(
            select(Article, ArticleRevision.title, Translation.title)
            .outerjoin(ArticleRevision, ArticleRevision.id == Article.current_revision_id)
            .outerjoin(Translation, Translation.id == Article.approved_translation_id)
            .where(Article.id.in_([other for _, other in scored]))
        )
    }
    return [
        Related(
            article_id=other,
            title=articles[other][1],
            published_at=articles[other][0].published_at,
            score=round(score, 3),
            shared=[t.partition(":")[2] for t in sorted(shared[other], key=lambda t: -weight[t])],
        )
        for score, other in scored
    ]
