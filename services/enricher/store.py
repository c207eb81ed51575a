"""What the enricher reads and writes, as SQLAlchemy Core statements: a few set-based
statements per article and no ORM objects to load, track and flush."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, bindparam, select
from sqlalchemy.orm import Session

from shared.db import backend, insert_for
from shared.models import Article, ArticleRevision, Enrichment, table_of

ARTICLES = table_of(Article)
REVISIONS = table_of(ArticleRevision)
ENRICHMENTS = table_of(Enrichment)


@dataclass(frozen=True)
class Stored:
    """The parts of a stored enrichment row that enrichment reads back: its input (same
    input, nothing to do), the editor's keywords, and its terms."""

    input_hash: str
    keywords_edited: bool
    keywords: list[Any]
    entities: dict[str, Any]


@dataclass(frozen=True)
class SourceText:
    """An article's current source revision, with its stored enrichments by subject."""

    source_id: int
    language: str
    first_seen_at: dt.datetime
    title: str
    summary_html: str
    content_html: str
    stored: dict[str, Stored]


_STORED = (
    ENRICHMENTS.c.subject,
    ENRICHMENTS.c.input_hash,
    ENRICHMENTS.c.keywords_edited,
    ENRICHMENTS.c.keywords,
    ENRICHMENTS.c.entities,
)
_a, _r, _e = ARTICLES.c, REVISIONS.c, ENRICHMENTS.c
# Statements are built once: building one costs more than running it.
_TEXT = (_a.source_id, _a.language, _a.first_seen_at, _r.title, _r.summary_html, _r.content_html)
_SOURCE_TEXT = (
    select(*_TEXT, *_STORED)
    .select_from(
        ARTICLES.join(REVISIONS, _r.id == _a.current_revision_id).outerjoin(
            ENRICHMENTS, _e.article_id == _a.id
        )
    )
    .where(_a.id == bindparam("article_id"))
    # Locked: two deliveries for one article (scaled enrichers) take turns instead of racing
    # to write the same enrichment row.
    .with_for_update(of=ARTICLES)
)
_STORED_ROWS = select(*_STORED).where(_e.article_id == bindparam("article_id"))


def _stored(row: Any) -> Stored:
    return Stored(row.input_hash, row.keywords_edited, row.keywords, row.entities)


def source_text(session: Session, article_id: int) -> SourceText | None:
    """The article (locked until the commit) with its current revision and stored
    enrichments, in one query; None when there is no such article or revision yet."""
    rows = session.execute(_SOURCE_TEXT, {"article_id": article_id}).all()
    if not rows:
        return None
    first = rows[0]
    return SourceText(
        source_id=first.source_id,
        language=first.language,
        first_seen_at=first.first_seen_at,
        title=first.title,
        summary_html=first.summary_html,
        content_html=first.content_html,
        stored={row.subject: _stored(row) for row in rows if row.subject is not None},
    )


def stored(session: Session, article_id: int) -> dict[str, Stored]:
    """The article's stored enrichments by subject ("source", "translation")."""
    rows = session.execute(_STORED_ROWS, {"article_id": article_id})
    return {row.subject: _stored(row) for row in rows}


@functools.cache
def _upsert(dialect: str, names: frozenset[str]) -> Executable:
    insert = insert_for(dialect)(ENRICHMENTS)
    return insert.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=[_e.article_id, _e.subject],
        set_={name: insert.excluded[name] for name in sorted(names)},
    )


def save(session: Session, article_id: int, subject: str, fields: dict[str, Any]) -> None:
    """Insert or update the article's enrichment of `subject` with `fields` (columns left out,
    such as an editor's keywords, keep their stored values), in one statement."""
    session.execute(
        _upsert(backend(session), frozenset(fields)),
        {"article_id": article_id, "subject": subject, **fields},
    )
