"""Test data, created through the same code paths as production where one exists."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

from sqlalchemy import select

from shared.admin.sources import SourceCreate, add_source
from shared.admin.users import UserCreate, create_user
from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import ArticleState, Role
from shared.editorial.actions import TranslationInput, take_action
from shared.models import Article, ArticleRevision, Translation, User, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork

_counter = itertools.count(1)


def make_user(
    database: Database, username: str, role: Role, password: str | None = None
) -> tuple[int, str]:
    """A user and its API token."""
    with UnitOfWork(database) as uow:
        user, token = create_user(uow, UserCreate(username=username, role=role, password=password))
        uow.commit()
        return user.id, token


def make_source(database: Database, name: str | None = None, url: str | None = None) -> int:
    n = next(_counter)
    with UnitOfWork(database) as uow:
        source = add_source(
            uow,
            SourceCreate(
                name=name or f"Outlet {n}",
                url=url or f"https://outlet{n}.example/feed",
                language="ar",
            ),
        )
        uow.commit()
        return source.id


def make_article(
    database: Database,
    source_id: int,
    title: str = "خبر",
    state: ArticleState = ArticleState.NEW,
    body: str = "<p>نص الخبر</p>",
) -> int:
    """An article with one source revision, as the poller would store it."""
    n = next(_counter)
    now = utcnow()
    with UnitOfWork(database) as uow:
        article = Article(
            source_id=source_id,
            identity_key=f"guid:test-{n}",
            guid=f"test-{n}",
            url=f"https://outlet.example/{n}",
            language="ar",
            source_published_at=now,
            first_seen_at=now,
            state=state,
        )
        uow.session.add(article)
        uow.session.flush()
        revision = ArticleRevision(
            article_id=article.id,
            number=1,
            title=title,
            content_html=body,
            content_hash=hashlib.sha256(f"{title}{body}".encode()).hexdigest(),
        )
        uow.session.add(revision)
        uow.session.flush()
        article.current_revision_id = revision.id
        uow.commit()
        return article.id


def make_translation(
    database: Database,
    article_id: int,
    title: str,
    body: str = "<p>Body</p>",
    translator_id: int | None = None,
) -> int:
    """A new translation version, made the article's current one (as a save does)."""
    with UnitOfWork(database) as uow:
        article = uow.session.get_one(Article, article_id)
        number = 1 + len(
            uow.session.scalars(
                select(Translation.id).where(Translation.article_id == article_id)
            ).all()
        )
        version = Translation(
            article_id=article_id,
            number=number,
            title=title,
            body_html=body,
            translator_id=translator_id,
            source_revision_id=article.current_revision_id,
        )
        uow.session.add(version)
        uow.session.flush()
        article.current_translation_id = version.id
        uow.commit()
        return version.id


class Newsroom:
    """A translator and an editor taking articles through the real workflow (take_action):
    two new users, or the ones given (by id)."""

    def __init__(
        self, database: Database, settings: Settings, translator: int | None = None,
        editor: int | None = None,
    ) -> None:  # fmt: skip
        self.database = database
        self.settings = settings
        n = next(_counter)
        self.translator = translator or make_user(database, f"translator{n}", Role.TRANSLATOR)[0]
        self.editor = editor or make_user(database, f"editor{n}", Role.EDITOR)[0]

    def act(
        self, article_id: int, user_id: int, action: wf.Action,
        translation: TranslationInput | None = None, note: str | None = None,
        at: dt.datetime | None = None,
    ) -> Article:  # fmt: skip
        with UnitOfWork(self.database) as uow:
            user = uow.session.get_one(User, user_id)
            article = take_action(uow, article_id, user, wf.Request(action, note=note, at=at),
                                  self.settings, None, translation)  # fmt: skip
            uow.commit()
            return article

    def approve(self, article_id: int, title: str, body: str, dek: str = "") -> None:
        """Translate (claim, save, submit) and approve."""
        if self.state(article_id) == ArticleState.NEW:
            self.act(article_id, self.translator, wf.Action.CLAIM)
        self.act(article_id, self.translator, wf.Action.SAVE, TranslationInput(title, dek, body))
        self.act(article_id, self.translator, wf.Action.SUBMIT)
        self.act(article_id, self.editor, wf.Action.APPROVE)

    def publish(
        self, article_id: int, title: str = "Shelling kills two in Jasim",
        body: str = "<p>Two civilians were killed.</p>", dek: str = "",
    ) -> None:  # fmt: skip
        self.approve(article_id, title, body, dek)
        self.act(article_id, self.editor, wf.Action.PUBLISH)

    def correct(self, article_id: int, title: str, body: str) -> None:
        """Reopen a published article, fix it and approve it again: republished."""
        self.act(article_id, self.editor, wf.Action.CORRECT, note="a figure was wrong")
        self.act(article_id, self.editor, wf.Action.SAVE, TranslationInput(title, "", body))
        self.act(article_id, self.editor, wf.Action.APPROVE)

    def withdraw(self, article_id: int) -> None:
        self.act(article_id, self.editor, wf.Action.WITHDRAW, note="the outlet retracted it")

    def state(self, article_id: int) -> str:
        with UnitOfWork(self.database, read_only=True) as uow:
            return uow.session.get_one(Article, article_id).state
