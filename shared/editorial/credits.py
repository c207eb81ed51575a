"""Who a translation version credits: its outlet, the source article's author and its
translator. Read the same way by the enricher (attribution, disclaimer) and the renderer."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from shared.models import Article, ArticleRevision, Source, Translation, User


@dataclass(frozen=True)
class Credits:
    version: Translation
    source: Source
    author: str | None  # the source article's, as the outlet gave it
    translator: str | None  # display name, else username


def credits_of(session: Session, article: Article, translation_id: int) -> Credits:
    version = session.get_one(Translation, translation_id)
    source = session.get_one(Source, article.source_id)
    revision = (
        session.get(ArticleRevision, article.current_revision_id)
        if article.current_revision_id
        else None
    )
    translator = session.get(User, version.translator_id) if version.translator_id else None
    return Credits(
        version=version,
        source=source,
        author=revision.author if revision else None,
        translator=(translator.display_name or translator.username) if translator else None,
    )
