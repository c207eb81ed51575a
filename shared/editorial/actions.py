"""Taking a workflow action on an article: check, apply, record, announce, in one transaction.

The rules are `shared.domain.workflow`; this module loads what they need, applies the decision,
writes the history entry and the events. Concurrency: the article's row is locked for the
transaction (`FOR UPDATE` on PostgreSQL; SQLite writers are serialised by `BEGIN IMMEDIATE`),
then its `lock_version` is compared with the one the caller saw. Of two editors racing, the
second finds the version moved and gets a 409, never a silent overwrite.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select

from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.events import ArticlePublished, ArticleTransitioned, ArticleWithdrawn
from shared.domain.states import ArticleState, Role
from shared.enrichment import standing
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.html import plain_text, sanitize_html
from shared.models import Article, ArticleRevision, Translation, User, WorkflowEntry, utcnow
from shared.settings import Settings
from shared.translation import Provider
from shared.uow import UnitOfWork

MAX_TITLE = 1_000
MAX_DEK = 2_000
MAX_BODY = 1_000_000
MAX_NOTE = 4_000


@dataclass(frozen=True)
class TranslationInput:
    title: str
    dek: str = ""
    body_html: str = ""
    machine: bool = False  # a machine draft (never publishable until a person saves over it)


def actor_of(user: User | None) -> wf.Actor:
    return wf.Actor.system() if user is None else wf.Actor(user.id, Role(user.role))


def find_article(uow: UnitOfWork, article_id: int, lock: bool = False) -> Article | None:
    """The article, or None. `lock`: its row locked for this transaction (FOR UPDATE on
    PostgreSQL; SQLite writers are serialised anyway), and refreshed from the locked row if the
    session read it before (populate_existing), so nothing is decided on a stale copy."""
    stmt = select(Article).where(Article.id == article_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return uow.session.scalar(stmt)


def get_article(uow: UnitOfWork, article_id: int, lock: bool = False) -> Article:
    """The article, or NotFound (404 in the API, a message in the CLI)."""
    article = find_article(uow, article_id, lock)
    if article is None:
        raise NotFound(f"no article {article_id}")
    return article


def history(uow: UnitOfWork, article_id: int) -> list[tuple[WorkflowEntry, str | None]]:
    """The article's workflow history, oldest first, with each actor's username (None: the
    system)."""
    rows = uow.session.execute(
        select(WorkflowEntry, User.username)
        .outerjoin(User, User.id == WorkflowEntry.actor_id)
        .where(WorkflowEntry.article_id == article_id)
        .order_by(WorkflowEntry.id)
    ).all()
    return [(entry, name) for entry, name in rows]


@contextlib.contextmanager
def rule_errors(article: Article) -> Iterator[None]:
    """The workflow's refusals as the errors people see: 403 and 409."""
    try:
        yield
    except wf.NotAllowed as exc:
        raise Forbidden(exc.reason) from exc
    except wf.IllegalTransition as exc:
        raise Conflict(exc.reason, state=article.state) from exc


def facts_of(uow: UnitOfWork, article: Article) -> wf.ArticleFacts:
    machine = False
    if article.current_translation_id is not None:
        # A get: answered from the session when the caller already loaded the version.
        version = uow.session.get(Translation, article.current_translation_id)
        machine = version is not None and version.machine
    return wf.ArticleFacts(
        state=ArticleState(article.state),
        assignee_id=article.assignee_id,
        claim_expires_at=article.claim_expires_at,
        scheduled_for=article.scheduled_for,
        translation_id=article.current_translation_id,
        translation_machine=machine,
        approved_translation_id=article.approved_translation_id,
        ever_published=article.published_at is not None,
    )


def take_action(
    uow: UnitOfWork,
    article_id: int,
    user: User | None,
    request: wf.Request,
    settings: Settings,
    expected_version: int | None,
    translation: TranslationInput | None = None,
    now: dt.datetime | None = None,
) -> Article:
    """Apply `request` to the article as `user` (None: the system's timers).

    `expected_version` is the article's `lock_version` the caller based its decision on; None
    to act on the article as it is under the lock (the timers; the CLI without --version).
    Raises Forbidden (403), Conflict (409: illegal transition or stale version), Invalid (422)
    or NotFound.
    """
    now = now or utcnow()
    article = get_article(uow, article_id, lock=True)
    if expected_version is not None and article.lock_version != expected_version:
        raise Conflict(
            f"article {article_id} changed since you loaded it (your version "
            f"{expected_version}, now {article.lock_version}): reload it and try again",
            lock_version=article.lock_version,
        )
    with rule_errors(article):
        decision = wf.decide(
            facts_of(uow, article),
            actor_of(user),
            request,
            now,
            dt.timedelta(minutes=settings.claim_minutes),
        )
    _validate(uow, request)  # after the permission check: no probing of users by the unentitled

    translation_id = article.current_translation_id
    if decision.action == wf.Action.SAVE:
        if translation is None:
            raise Invalid("save needs a translation (title, dek, body)")
        version = _new_version(uow, article, user, translation, now)
        translation_id = version.id
        article.current_translation_id = version.id
        if version.source_revision_id == article.current_revision_id:
            article.source_revised = False  # saved against the outlet's newest text
    elif decision.publishes:
        translation_id = decision.approved_translation_id

    article.state = decision.to_state
    article.assignee_id = decision.assignee_id
    article.claim_expires_at = decision.claim_expires_at
    article.scheduled_for = decision.scheduled_for
    article.approved_translation_id = decision.approved_translation_id
    if decision.publishes and article.published_at is None:
        article.published_at = now
    if decision.publishes or decision.withdraws:
        article.public_revision += 1
        article.public_updated_at = now
    if decision.publishes and translation_id is not None:
        article.public_translation_id = translation_id
    if decision.publishes and article.public_slug is None and translation_id is not None:
        approved = uow.session.get_one(Translation, translation_id)
        article.public_slug = standing.public_slug(approved.title, article.id)
    article.lock_version += 1
    article.updated_at = now

    actor_id = user.id if user is not None else None
    uow.session.add(
        WorkflowEntry(
            article_id=article.id,
            at=now,
            actor_id=actor_id,
            action=decision.action.value,
            from_state=decision.from_state.value,
            to_state=decision.to_state.value,
            note=(request.note or "").strip() or _automatic_note(decision),
            translation_id=translation_id,
        )
    )
    uow.emit(
        ArticleTransitioned(
            article_id=article.id,
            action=decision.action.value,
            from_state=decision.from_state.value,
            to_state=decision.to_state.value,
            actor_id=actor_id,
            translation_id=translation_id,
        )
    )
    if decision.publishes and translation_id is not None:
        uow.emit(
            ArticlePublished(
                article_id=article.id,
                translation_id=translation_id,
                correction=decision.correction,
                revision=article.public_revision,
            )
        )
    if decision.withdraws:
        uow.emit(ArticleWithdrawn(article_id=article.id, revision=article.public_revision))
    uow.session.flush()
    return article


def _validate(uow: UnitOfWork, request: wf.Request) -> None:
    if request.note is not None and len(request.note) > MAX_NOTE:
        raise Invalid(f"the note is longer than {MAX_NOTE:,} characters")
    if request.action == wf.Action.ASSIGN and request.assignee_id is not None:
        assignee = uow.session.get(User, request.assignee_id)
        if assignee is None or not assignee.active:
            raise Invalid("the assignee is not an active user")


def _automatic_note(decision: wf.Decision) -> str | None:
    if decision.action == wf.Action.SCHEDULE and decision.scheduled_for is not None:
        return f"to publish at {decision.scheduled_for.isoformat()}"
    if decision.correction:
        return "correction approved: republished wherever it was published"
    return None


def _new_version(
    uow: UnitOfWork,
    article: Article,
    user: User | None,
    data: TranslationInput,
    now: dt.datetime,
) -> Translation:
    title = plain_text(data.title)  # a title is plain text, whatever was sent
    if not title:
        raise Invalid("a translation needs a title")
    if len(title) > MAX_TITLE:
        raise Invalid(f"the title is longer than {MAX_TITLE:,} characters")
    if len(data.dek) > MAX_DEK:
        raise Invalid(f"the dek is longer than {MAX_DEK:,} characters")
    if len(data.body_html) > MAX_BODY:
        raise Invalid(f"the body is longer than {MAX_BODY:,} characters")
    last = uow.session.scalar(
        select(func.max(Translation.number)).where(Translation.article_id == article.id)
    )
    version = Translation(
        article_id=article.id,
        number=(last or 0) + 1,
        title=title,
        dek=plain_text(data.dek),
        body_html=sanitize_html(data.body_html),  # exactly as ingested HTML is
        translator_id=user.id if user is not None else None,
        machine=data.machine,
        source_revision_id=article.current_revision_id,
        created_at=now,
    )
    uow.session.add(version)
    uow.session.flush()
    return version


def machine_draft(
    database: Database,
    translator: Provider,
    settings: Settings,
    article_id: int,
    user: User,
    expected_version: int,
) -> Article:
    """Ask the provider for a draft of the source text and store it as a machine-made version.

    The provider is called with no transaction open (it may take seconds); the version check
    then happens when the draft is stored, so an article that moved meanwhile gets a 409.
    """
    with UnitOfWork(database, read_only=True) as uow:
        article = get_article(uow, article_id)
        with rule_errors(article):  # refuse before spending the provider's time
            wf.check(facts_of(uow, article), actor_of(user), wf.Action.SAVE)
        revision = uow.session.get(ArticleRevision, article.current_revision_id or -1)
        if revision is None:
            raise Conflict("the article has no source text to translate")
        title, body = revision.title, revision.content_html or revision.summary_html
        language = article.language
    draft = translator.translate(title, body, language, settings.mt_target_language)
    with UnitOfWork(database) as uow:
        person = uow.session.get_one(User, user.id)
        text = TranslationInput(title=draft.title, body_html=draft.body_html, machine=True)
        request = wf.Request(wf.Action.SAVE, note=f"machine draft ({translator.name})")
        stored = take_action(uow, article_id, person, request, settings, expected_version, text)
        uow.commit()
        return stored
