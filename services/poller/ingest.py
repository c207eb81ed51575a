"""Store a parsed feed: new articles, new source revisions of known ones, and their events.

Set-based: a feed's new articles are inserted in one statement, their first revisions in a
second, and their pointers to those revisions in a third, so a cold poll of a 30-item feed is
a handful of round trips rather than a hundred. `INSERT ... ON CONFLICT DO NOTHING RETURNING`
on the unique (source, identity) both inserts and tells which rows were really new: a
concurrent poll that stored an entry first simply does not get it back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select, update

from shared.db import dialect_insert
from shared.domain.events import ArticleIngested, SourceRevised
from shared.domain.states import ArticleState
from shared.feeds.parse import ParsedEntry, ParsedFeed
from shared.models import Article, ArticleRevision, Source
from shared.uow import UnitOfWork

log = structlog.get_logger(__name__)

# A date further ahead than this is a broken clock or a typo, not news from the future.
MAX_FUTURE = dt.timedelta(days=1)


@dataclass
class IngestReport:
    new: int = 0
    revised: int = 0
    unchanged: int = 0


def ingest_feed(
    uow: UnitOfWork, source: Source, feed: ParsedFeed, now: dt.datetime
) -> IngestReport:
    """Add what is new in `feed` for `source` under the source's identity rule. Items that left
    the feed are kept as they are."""
    report = IngestReport()
    entries = unique_entries(feed.entries, source.identity_rule)
    if not entries:
        return report
    existing = existing_articles(uow, source.id, source.identity_rule, entries)
    fresh = {key: entry for key, entry in entries.items() if key not in existing}
    if fresh:
        report.new = _insert_articles(uow, source, fresh, now)
        report.unchanged += len(fresh) - report.new  # stored by a concurrent poll meanwhile
    current_hashes = _current_hashes(uow, [a.current_revision_id for a in existing.values()])
    for key, article in existing.items():
        entry = entries[key]
        entry_hash = entry.content_hash()
        if current_hashes.get(article.current_revision_id) == entry_hash:
            report.unchanged += 1
            continue
        _add_revision(uow, source, article, entry, entry_hash, now)
        report.revised += 1
    return report


def unique_entries(entries: list[ParsedEntry], rule: str) -> dict[str, ParsedEntry]:
    """One entry per identity key, the first as it appears in the document."""
    unique: dict[str, ParsedEntry] = {}
    for entry in entries:
        unique.setdefault(entry.identity_key(rule), entry)
    return unique


def existing_articles(
    uow: UnitOfWork, source_id: int, rule: str, entries: dict[str, ParsedEntry]
) -> dict[str, Article]:
    """The stored articles these entries (keyed under `rule`) are, by identity key.

    Under a rule other than guid, an article may have been stored under its old key; it is
    found by its link, so a rule change does not bring stories back as new.
    """
    session = uow.session
    found = {
        article.identity_key: article
        for article in session.scalars(
            select(Article).where(
                Article.source_id == source_id, Article.identity_key.in_(list(entries))
            )
        )
    }
    if rule != "guid":
        by_link = {e.link: key for key, e in entries.items() if key not in found and e.link}
        if by_link:
            for article in session.scalars(
                select(Article).where(
                    Article.source_id == source_id, Article.url.in_(list(by_link))
                )
            ):
                found.setdefault(by_link[article.url or ""], article)
    return found


def _current_hashes(uow: UnitOfWork, revision_ids: list[int | None]) -> dict[int | None, str]:
    ids = [rid for rid in revision_ids if rid is not None]
    if not ids:
        return {}
    rows = uow.session.execute(
        select(ArticleRevision.id, ArticleRevision.content_hash).where(ArticleRevision.id.in_(ids))
    )
    return dict(rows.all())


def _published_at(entry: ParsedEntry, now: dt.datetime) -> dt.datetime:
    if entry.published_at is None or entry.published_at > now + MAX_FUTURE:
        return now  # missing or impossible: first seen is the best we know
    return entry.published_at


def _insert_articles(
    uow: UnitOfWork, source: Source, fresh: dict[str, ParsedEntry], now: dt.datetime
) -> int:
    """Insert new articles with their first revisions and events; how many were new."""
    session = uow.session
    session.flush()  # pending ORM changes go first: the statements below bypass the ORM
    rows = [
        {
            "source_id": source.id,
            "identity_key": key,
            "guid": entry.guid[:2048] if entry.guid else None,
            "url": entry.link[:2048] if entry.link else None,
            "language": source.language,
            "source_published_at": _published_at(entry, now),
            "first_seen_at": now,
            "state": ArticleState.NEW.value,
            "source_revised": False,
            "lock_version": 1,
            "updated_at": now,
        }
        for key, entry in fresh.items()
    ]
    # executemany with RETURNING: compiled once and cached, sent in batches by SQLAlchemy.
    inserted = session.execute(
        dialect_insert(session)(Article)
        .on_conflict_do_nothing(index_elements=["source_id", "identity_key"])
        .returning(Article.id, Article.identity_key),
        rows,
    ).all()
    if not inserted:
        return 0
    revisions = session.execute(
        dialect_insert(session)(ArticleRevision).returning(
            ArticleRevision.id, ArticleRevision.article_id
        ),
        [
            _revision_row(article_id, 1, fresh[key], fresh[key].content_hash(), now)
            for article_id, key in inserted
        ],
    ).all()
    revision_of = {article_id: revision_id for revision_id, article_id in revisions}
    session.execute(
        update(Article),
        [{"id": article_id, "current_revision_id": revision_of[article_id]}
         for article_id, _ in inserted],
    )  # fmt: skip
    uow.emit(*(
        ArticleIngested(article_id=article_id, source_id=source.id,
                        revision_id=revision_of[article_id])
        for article_id, _ in inserted
    ))  # fmt: skip
    return len(inserted)


def _add_revision(
    uow: UnitOfWork,
    source: Source,
    article: Article,
    entry: ParsedEntry,
    entry_hash: str,
    now: dt.datetime,
) -> None:
    session = uow.session
    last_number = session.scalar(
        select(ArticleRevision.number)
        .where(ArticleRevision.article_id == article.id)
        .order_by(ArticleRevision.number.desc())
        .limit(1)
    )
    revision = ArticleRevision(
        **_revision_row(article.id, (last_number or 0) + 1, entry, entry_hash, now)
    )
    session.add(revision)
    session.flush()
    previous = article.current_revision_id
    article.current_revision_id = revision.id
    if entry.link:
        article.url = entry.link[:2048]
    uow.emit(
        SourceRevised(
            article_id=article.id,
            source_id=source.id,
            revision_id=revision.id,
            previous_revision_id=previous or revision.id,
        )
    )


def _revision_row(
    article_id: int, number: int, entry: ParsedEntry, content_hash: str, now: dt.datetime
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "number": number,
        "title": entry.title,
        "summary_html": entry.summary_html,
        "content_html": entry.content_html,
        "author": entry.author,
        "content_hash": content_hash,
        "fetched_at": now,
    }
