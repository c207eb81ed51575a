"""Articles: list with filters and cursor pagination, and one article in full."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from services.web.api.pagination import Page, decode_cursor, encode_cursor
from services.web.api.schemas import (
    ArticleDetail,
    ArticleSummary,
    EnrichmentOut,
    HistoryOut,
    RevisionOut,
    SourceRef,
)
from services.web.deps import CurrentUser, UoW
from shared.domain.states import ArticleState
from shared.errors import NotFound
from shared.models import Article, ArticleRevision, Enrichment, Source, User, WorkflowEntry

router = APIRouter(prefix="/articles", tags=["articles"])


def _summary(
    article: Article, source: Source, title: str | None, assignee: str | None
) -> dict[str, Any]:
    return {
        "id": article.id,
        "source": SourceRef(id=source.id, name=source.name),
        "title": title or "",
        "url": article.url,
        "language": article.language,
        "state": article.state,
        "published_at": article.source_published_at,
        "first_seen_at": article.first_seen_at,
        "queued_at": article.queued_at,
        "source_revised": article.source_revised,
        "assignee": assignee,
        "lock_version": article.lock_version,
    }


@router.get("", response_model=Page[ArticleSummary])
def list_articles(
    uow: UoW,
    _user: CurrentUser,
    state: Annotated[ArticleState | None, Query()] = None,
    source_id: Annotated[int | None, Query(ge=1)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    flagged: Annotated[bool | None, Query(description="source revised during work")] = None,
    q: Annotated[str | None, Query(max_length=200, description="text in the title")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[ArticleSummary]:
    assignee = aliased(User)
    stmt = (
        select(Article, Source, ArticleRevision.title, assignee.username)
        .join(Source, Source.id == Article.source_id)
        .outerjoin(ArticleRevision, ArticleRevision.id == Article.current_revision_id)
        .outerjoin(assignee, assignee.id == Article.assignee_id)
        .order_by(Article.id.desc())
        .limit(limit + 1)
    )
    if state is not None:
        stmt = stmt.where(Article.state == state)
    if source_id is not None:
        stmt = stmt.where(Article.source_id == source_id)
    if language:
        stmt = stmt.where(Article.language == language)
    if flagged is not None:
        stmt = stmt.where(Article.source_revised.is_(flagged))
    if q:
        stmt = stmt.where(ArticleRevision.title.contains(q, autoescape=True))
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Article.id < after)
    rows = uow.session.execute(stmt).all()
    items = [ArticleSummary(**_summary(a, s, t, u)) for a, s, t, u in rows[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{article_id}", response_model=ArticleDetail)
def get_article(article_id: int, uow: UoW, _user: CurrentUser) -> ArticleDetail:
    session = uow.session
    article = session.get(Article, article_id)
    if article is None:
        raise NotFound(f"no article {article_id}")
    source = session.get_one(Source, article.source_id)
    revision = (
        session.get(ArticleRevision, article.current_revision_id)
        if article.current_revision_id
        else None
    )
    assignee = session.get(User, article.assignee_id) if article.assignee_id else None
    revisions = session.scalar(select(func.count()).where(ArticleRevision.article_id == article.id))
    enrichment = session.scalars(
        select(Enrichment).where(Enrichment.article_id == article.id).order_by(Enrichment.subject)
    ).all()
    history = session.execute(
        select(WorkflowEntry, User.username)
        .outerjoin(User, User.id == WorkflowEntry.actor_id)
        .where(WorkflowEntry.article_id == article.id)
        .order_by(WorkflowEntry.id)
    ).all()
    return ArticleDetail(
        **_summary(
            article,
            source,
            revision.title if revision else None,
            assignee.username if assignee else None,
        ),
        revision=RevisionOut.model_validate(revision) if revision else None,
        revisions=int(revisions or 0),
        enrichment=[EnrichmentOut.model_validate(e) for e in enrichment],
        history=[
            HistoryOut(
                at=e.at,
                actor=name,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                note=e.note,
            )
            for e, name in history
        ],
    )
