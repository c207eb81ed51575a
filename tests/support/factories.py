"""Test data, created through the same code paths as production where one exists."""

from __future__ import annotations

import hashlib
import itertools

from sqlalchemy import select

from shared.admin.sources import SourceCreate, add_source
from shared.admin.users import UserCreate, create_user
from shared.db import Database
from shared.domain.states import ArticleState, Role
from shared.models import Article, ArticleRevision, Translation, utcnow
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
