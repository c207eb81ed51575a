"""What the desk shows first: articles by state, and what needs attention now.

Needs attention, in this order: articles waiting longest in review, work whose source was
revised under the translator, and published articles a destination failed to receive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from shared.domain.states import ArticleState, DeliveryState
from shared.models import Article, ArticleRevision, Delivery, Source

WORK_IN_PROGRESS = (ArticleState.TRANSLATING, ArticleState.IN_REVIEW, ArticleState.APPROVED,
                    ArticleState.SCHEDULED)  # fmt: skip


@dataclass(frozen=True)
class Waiting:
    id: int
    title: str
    source: str
    state: str
    since: dt.datetime


@dataclass(frozen=True)
class Attention:
    oldest_in_review: list[Waiting]
    source_revised: list[Waiting]
    delivery_failed: list[Waiting]


def counts(session: Session) -> dict[str, int]:
    """Articles in each state, every state listed (zero included), in workflow order."""
    found = dict(session.execute(select(Article.state, func.count()).group_by(Article.state)).all())
    return {state.value: int(found.get(state.value, 0)) for state in ArticleState}


def attention(session: Session, limit: int = 5) -> Attention:
    base = (
        select(Article.id, ArticleRevision.title, Source.name, Article.state, Article.updated_at)
        .join(Source, Source.id == Article.source_id)
        .outerjoin(ArticleRevision, ArticleRevision.id == Article.current_revision_id)
        .limit(limit)
    )
    failing = (
        select(Delivery.article_id)
        .where(Delivery.state.in_((DeliveryState.FAILED, DeliveryState.DEAD)))
        .distinct()
    )
    return Attention(
        oldest_in_review=_waiting(
            session,
            base.where(Article.state == ArticleState.IN_REVIEW).order_by(
                Article.updated_at, Article.id
            ),
        ),
        source_revised=_waiting(
            session,
            base.where(
                Article.source_revised.is_(True), Article.state.in_(WORK_IN_PROGRESS)
            ).order_by(Article.updated_at, Article.id),
        ),
        delivery_failed=_waiting(
            session,
            base.where(Article.id.in_(failing)).order_by(Article.updated_at.desc(), Article.id),
        ),
    )


def _waiting(session: Session, query: Select[int, str, str, str, dt.datetime]) -> list[Waiting]:
    return [
        Waiting(id, title or "", source, state, since)
        for id, title, source, state, since in session.execute(query)
    ]
