"""Articles: list with filters and cursor pagination, one article in full, workflow actions,
translation versions and diffs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import func, or_, select
from sqlalchemy.orm import aliased

from services.web.api.pagination import Page, decode_cursor, encode_cursor
from services.web.api.schemas import (
    ActionIn,
    ArticleDetail,
    ArticleSummary,
    DeliveryOut,
    DiffOut,
    DraftIn,
    EnrichmentOut,
    HistoryOut,
    RelatedOut,
    RevisionOut,
    SourceRef,
    StoryOut,
    TranslationIn,
    TranslationOut,
    TranslationSummary,
)
from services.web.deps import (
    CurrentUser,
    ReadingUser,
    UoW,
    get_settings,
    http_client,
    require,
)
from shared.domain import workflow as wf
from shared.domain.states import ArticleState, Role
from shared.editorial import actions as editorial
from shared.editorial import diff
from shared.editorial.actions import TranslationInput, actor_of, facts_of, take_action
from shared.editorial.keywords import KeywordsIn, set_keywords
from shared.enrichment import related
from shared.errors import Invalid, NotFound
from shared.models import (
    MAX_ID,
    Article,
    ArticleRevision,
    ArticleTerm,
    Enrichment,
    Source,
    Translation,
    User,
)
from shared.publishing import ledger
from shared.settings import Settings
from shared.translation import provider
from shared.uow import UnitOfWork

router = APIRouter(prefix="/articles", tags=["articles"])
ArticleId = Annotated[int, Path(ge=1, le=MAX_ID)]
Number = Annotated[int, Path(ge=1, le=1_000_000)]


def _summary(
    article: Article, source: Source, title: str | None, assignee: str | None,
    translated: str | None = None,
) -> dict[str, Any]:  # fmt: skip
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
        "translated_title": translated,
    }


@router.get("", response_model=Page[ArticleSummary])
def list_articles(
    uow: UoW,
    _user: CurrentUser,
    state: Annotated[ArticleState | None, Query()] = None,
    source_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    flagged: Annotated[bool | None, Query(description="source revised during work")] = None,
    place: Annotated[
        str | None, Query(max_length=100, description="a gazetteer id: daraa, jasim")
    ] = None,
    assignee: Annotated[str | None, Query(max_length=64, description="a username, or `me`")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="text in the source title or the translation's"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[ArticleSummary]:
    assignee_user = aliased(User)
    translation = aliased(Translation)
    stmt = (
        select(Article, Source, ArticleRevision.title, assignee_user.username, translation.title)
        .join(Source, Source.id == Article.source_id)
        .outerjoin(ArticleRevision, ArticleRevision.id == Article.current_revision_id)
        .outerjoin(translation, translation.id == Article.current_translation_id)
        .outerjoin(assignee_user, assignee_user.id == Article.assignee_id)
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
    if place:
        tagged = select(ArticleTerm.article_id).where(
            ArticleTerm.term == related.entity_term(place.strip().lower())
        )
        stmt = stmt.where(Article.id.in_(tagged))
    if assignee:
        name = _user.username if assignee == "me" else assignee
        stmt = stmt.where(assignee_user.username == name)
    if q:
        stmt = stmt.where(
            or_(
                ArticleRevision.title.contains(q, autoescape=True),
                translation.title.contains(q, autoescape=True),
            )
        )
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(Article.id < after)
    rows = uow.session.execute(stmt).all()
    items = [ArticleSummary(**_summary(a, s, t, u, tt)) for a, s, t, u, tt in rows[:limit]]
    next_cursor = encode_cursor(items[-1].id) if len(rows) > limit else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{article_id}", response_model=ArticleDetail)
def get_article(article_id: ArticleId, uow: UoW, user: CurrentUser) -> ArticleDetail:
    return article_detail(uow, article_id, user)


@router.post("/{article_id}/actions/{action}", response_model=ArticleDetail)
def act(
    article_id: ArticleId,
    action: wf.Action,
    body: ActionIn,
    uow: UoW,
    user: CurrentUser,
    settings: Annotated[Settings, Depends(get_settings)],
) -> ArticleDetail:
    """Take a workflow action. 403: your role may not; 409: the article is not in a state for
    it, or changed since you loaded it (the problem carries the current `lock_version`)."""
    if action == wf.Action.SAVE:
        raise Invalid("save with PUT /articles/{id}/translation")
    assignee_id = None
    if body.assignee is not None:
        assignee_id = uow.session.scalar(select(User.id).where(User.username == body.assignee))
        if assignee_id is None:
            raise Invalid(f"no user {body.assignee!r}")
    request = wf.Request(action, note=body.note, assignee_id=assignee_id, at=body.at)
    take_action(uow, article_id, user, request, settings, body.lock_version)
    uow.commit()
    return _detail_after_write(uow, article_id, user)


@router.put("/{article_id}/translation", response_model=ArticleDetail)
def save_translation(
    article_id: ArticleId,
    body: TranslationIn,
    uow: UoW,
    user: CurrentUser,
    settings: Annotated[Settings, Depends(get_settings)],
) -> ArticleDetail:
    """Save a new version of the translation (the body is sanitised like ingested HTML)."""
    take_action(
        uow,
        article_id,
        user,
        wf.Request(wf.Action.SAVE),
        settings,
        body.lock_version,
        TranslationInput(title=body.title, dek=body.dek, body_html=body.body_html),
    )
    uow.commit()
    return _detail_after_write(uow, article_id, user)


@router.post("/{article_id}/draft", response_model=ArticleDetail)
def machine_draft(
    article_id: ArticleId,
    body: DraftIn,
    request: Request,
    user: ReadingUser,
    settings: Annotated[Settings, Depends(get_settings)],
) -> ArticleDetail:
    """Ask the machine-translation provider for a draft, stored as a machine-made version that
    cannot be submitted or approved until a person saves over it. 503 when the provider is off
    or fails."""
    database = request.app.state.database
    translator = provider(settings, http_client(request))
    editorial.machine_draft(database, translator, settings, article_id, user, body.lock_version)
    with UnitOfWork(database, read_only=True) as reader:
        return article_detail(reader, article_id, user)


@router.put("/{article_id}/keywords", response_model=ArticleDetail)
def edit_keywords(
    article_id: ArticleId,
    body: KeywordsIn,
    uow: UoW,
    user: Annotated[User, Depends(require(Role.EDITOR))],
) -> ArticleDetail:
    """Set the article's Helpful keywords (editors). They replace the computed ones and stay
    when the translation is enriched again."""
    set_keywords(uow, article_id, user, body.keywords)
    uow.commit()
    return _detail_after_write(uow, article_id, user)


def _detail_after_write(uow: UnitOfWork, article_id: int, user: User) -> ArticleDetail:
    """The article as it now stands, read in a read-only unit of work: on SQLite the writing
    session would take the write lock again for a dozen reads."""
    with UnitOfWork(uow.database, read_only=True) as reader:
        return article_detail(reader, article_id, user)


@router.get("/{article_id}/versions", response_model=list[TranslationSummary])
def list_versions(article_id: ArticleId, uow: UoW, _user: CurrentUser) -> list[TranslationSummary]:
    editorial.get_article(uow, article_id)
    rows = uow.session.execute(
        select(Translation, User.username)
        .outerjoin(User, User.id == Translation.translator_id)
        .where(Translation.article_id == article_id)
        .order_by(Translation.number)
    ).all()
    return [TranslationSummary(**_version(t, name)) for t, name in rows]


@router.get("/{article_id}/versions/{number}", response_model=TranslationOut)
def get_version(
    article_id: ArticleId, number: Number, uow: UoW, _user: CurrentUser
) -> TranslationOut:
    version, name = _find_version(uow, article_id, number)
    return TranslationOut(**_version(version, name), dek=version.dek, body_html=version.body_html)


@router.get("/{article_id}/diff", response_model=DiffOut)
def diff_versions(
    article_id: ArticleId,
    uow: UoW,
    _user: CurrentUser,
    from_: Annotated[int, Query(alias="from", ge=1, le=1_000_000, description="a version number")],
    to: Annotated[int, Query(ge=1, le=1_000_000, description="a version number")],
) -> DiffOut:
    """What changed between two translation versions."""
    before, _ = _find_version(uow, article_id, from_)
    after, _ = _find_version(uow, article_id, to)

    def fields(t: Translation) -> dict[str, str]:
        return {"title": t.title, "dek": t.dek, "body": t.body_html}

    before_name, after_name = f"version {before.number}", f"version {after.number}"
    return DiffOut(
        before=before_name,
        after=after_name,
        lines=diff.unified(fields(before), fields(after), before_name, after_name),
    )


@router.get("/{article_id}/source-diff", response_model=DiffOut)
def diff_source(
    article_id: ArticleId,
    uow: UoW,
    _user: CurrentUser,
    from_: Annotated[
        int | None, Query(alias="from", ge=1, le=1_000_000, description="a revision number")
    ] = None,
    to: Annotated[int | None, Query(ge=1, le=1_000_000, description="a revision number")] = None,
) -> DiffOut:
    """What the outlet changed. By default: from the revision the newest translation was made
    from (else the first) to the current one, which is what a flagged article's translator needs."""
    article = editorial.get_article(uow, article_id)
    revisions = {
        r.number: r
        for r in uow.session.scalars(
            select(ArticleRevision).where(ArticleRevision.article_id == article_id)
        )
    }
    by_id = {r.id: r for r in revisions.values()}
    if from_ is None:
        based_on = None
        if article.current_translation_id is not None:
            based_on = uow.session.scalar(
                select(Translation.source_revision_id).where(
                    Translation.id == article.current_translation_id
                )
            )
        from_ = by_id[based_on].number if based_on in by_id else min(revisions, default=1)
    if to is None:
        current = by_id.get(article.current_revision_id or -1)
        to = current.number if current else max(revisions, default=1)
    if from_ not in revisions or to not in revisions:
        raise NotFound(f"article {article_id} has source revisions {sorted(revisions)}")

    def fields(r: ArticleRevision) -> dict[str, str]:
        return {"title": r.title, "body": r.content_html or r.summary_html}

    before_name, after_name = f"source revision {from_}", f"source revision {to}"
    return DiffOut(
        before=before_name,
        after=after_name,
        lines=diff.unified(fields(revisions[from_]), fields(revisions[to]), before_name,
                           after_name),
    )  # fmt: skip


def _find_version(uow: UoW, article_id: int, number: int) -> tuple[Translation, str | None]:
    editorial.get_article(uow, article_id)
    row = uow.session.execute(
        select(Translation, User.username)
        .outerjoin(User, User.id == Translation.translator_id)
        .where(Translation.article_id == article_id, Translation.number == number)
    ).first()
    if row is None:
        raise NotFound(f"article {article_id} has no translation version {number}")
    return row[0], row[1]


def _version(t: Translation, translator: str | None) -> dict[str, Any]:
    return {
        "id": t.id,
        "number": t.number,
        "title": t.title,
        "translator": translator,
        "machine": t.machine,
        "source_revision_id": t.source_revision_id,
        "created_at": t.created_at,
    }


def article_detail(uow: UoW, article_id: int, user: User) -> ArticleDetail:
    session = uow.session
    article = editorial.get_article(uow, article_id)
    source = session.get_one(Source, article.source_id)
    revision = (
        session.get(ArticleRevision, article.current_revision_id)
        if article.current_revision_id
        else None
    )
    assignee = session.get(User, article.assignee_id) if article.assignee_id else None
    revisions = session.scalar(select(func.count()).where(ArticleRevision.article_id == article.id))
    translation = None
    if article.current_translation_id is not None:
        version = session.get_one(Translation, article.current_translation_id)
        translator = session.get(User, version.translator_id) if version.translator_id else None
        translation = TranslationOut(
            **_version(version, translator.username if translator else None),
            dek=version.dek,
            body_html=version.body_html,
        )
    enrichment = session.scalars(
        select(Enrichment).where(Enrichment.article_id == article.id).order_by(Enrichment.subject)
    ).all()
    return ArticleDetail(
        **_summary(
            article,
            source,
            revision.title if revision else None,
            assignee.username if assignee else None,
            translation.title if translation else None,
        ),
        revision=RevisionOut.model_validate(revision) if revision else None,
        revisions=int(revisions or 0),
        translation=translation,
        approved_translation_id=article.approved_translation_id,
        claim_expires_at=article.claim_expires_at,
        scheduled_for=article.scheduled_for,
        site_published_at=article.published_at,
        allowed_actions=[
            a.value for a in wf.allowed_actions(facts_of(uow, article), actor_of(user))
        ],
        enrichment=[EnrichmentOut.model_validate(e) for e in enrichment],
        also_reported_by=[
            StoryOut.model_validate(s) for s in related.also_reported_by(session, article.id)
        ],
        related=[RelatedOut.model_validate(r) for r in related.related(session, article.id)],
        deliveries=[
            DeliveryOut.model_validate(d)
            for d in reversed(ledger.listing(session, article_id=article.id))
        ],
        history=[
            HistoryOut(
                at=e.at,
                actor=name,
                action=e.action,
                from_state=e.from_state,
                to_state=e.to_state,
                note=e.note,
                translation_id=e.translation_id,
            )
            for e, name in editorial.history(uow, article.id)
        ],
    )
