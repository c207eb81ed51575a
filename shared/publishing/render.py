"""The published article: one rendering of an article's public state, used by every
destination and every feed, so that they never disagree.

It is rendered from the approved translation version (never a draft), and carries what the
newsroom owes its readers and its sources on every copy: the attribution line linking to the
original, and the disclaimer. Those two are computed here from the same functions the enricher
uses, not read from its results, so a publication never waits for (or goes out without) them.
The metadata (keywords, categories, places, organisations) is the enricher's of that same
version (never of a correction's draft), with the editor's keyword edits.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from shared.domain.states import ArticleState
from shared.editorial.credits import credits_of
from shared.enrichment import entities, related, standing
from shared.html import sanitize_html
from shared.models import Article, Enrichment
from shared.settings import Settings

# The namespace of published articles' stable ids (uuid5 of the site and the article id).
_ID_NAMESPACE = uuid.UUID("5f0b1c1e-7f2a-4c55-9c1e-2b8f7d0a9e41")


class PublishedArticle(BaseModel):
    """An article as the public sees it (or saw it, when withdrawn)."""

    model_config = ConfigDict(frozen=True)

    article_id: int
    id: str  # stable across corrections: Atom id, RSS guid, JSON Feed id, NINJS uri
    revision: int  # the public revision: publications, corrections and withdrawals
    status: Literal["published", "withdrawn"]
    slug: str
    canonical_url: str
    language: str
    title: str
    dek: str
    body_html: str  # sanitised
    attribution: str  # "<headline>, Syria TV says"
    disclaimer: str
    content_html: str  # the body, the attribution linked to the original, the disclaimer
    source_name: str
    original_url: str | None
    author: str | None  # the source article's
    translator: str | None
    tags: list[str]
    categories: list[str]
    places: list[str]
    organisations: list[str]
    first_published_at: dt.datetime
    updated_at: dt.datetime

    @property
    def correction(self) -> bool:
        return self.updated_at > self.first_published_at


class NotPublished(Exception):
    """The article has never been published: there is nothing public to render."""


def stable_id(settings: Settings, article_id: int) -> str:
    return f"urn:uuid:{uuid.uuid5(_ID_NAMESPACE, f'{settings.site_url}/{article_id}')}"


def canonical_url(settings: Settings, slug: str) -> str:
    return f"{settings.site_url.rstrip('/')}/{slug}/"


def render(session: Session, settings: Settings, article_id: int) -> PublishedArticle:
    """The article's current public state: the version last published (a correction under
    way does not change it until approved), or withdrawn. Raises NotPublished for an article
    never published (a draft is never rendered)."""
    article = session.get(Article, article_id)
    public = article.public_translation_id if article is not None else None
    if article is None or public is None or article.published_at is None:
        raise NotPublished(f"article {article_id} has not been published")
    return _render(
        session,
        settings,
        article,
        public,
        revision=article.public_revision,
        status="withdrawn" if article.state == ArticleState.WITHDRAWN else "published",
        first_published_at=article.published_at,
        updated_at=article.public_updated_at or article.published_at,
    )


def preview(session: Session, settings: Settings, article_id: int) -> PublishedArticle:
    """The desk's preview: the article's current translation version rendered exactly as a
    publication of it now would be (the next public revision, dated now if never published).
    Nothing is stored and nothing goes out. NotPublished when there is no translation yet."""
    article = session.get(Article, article_id)
    version = article.current_translation_id if article is not None else None
    if article is None or version is None:
        raise NotPublished(f"article {article_id} has no translation to preview")
    now = dt.datetime.now(dt.UTC)
    return _render(
        session,
        settings,
        article,
        version,
        revision=article.public_revision + 1,
        status="published",
        first_published_at=article.published_at or now,
        updated_at=now,
    )


def _render(
    session: Session,
    settings: Settings,
    article: Article,
    translation_id: int,
    *,
    revision: int,
    status: Literal["published", "withdrawn"],
    first_published_at: dt.datetime,
    updated_at: dt.datetime,
) -> PublishedArticle:
    article_id = article.id
    credits = credits_of(session, article, translation_id)
    version, source = credits.version, credits.source
    author, translator_name = credits.author, credits.translator
    enrichment, tags = metadata_of(session, article_id, translation_id)
    found = enrichment.entities if enrichment else {}
    names = entity_names(tuple(settings.gazetteer_files))
    slug = article.public_slug or standing.public_slug(version.title, article_id)
    body = sanitize_html(version.body_html)
    attribution = standing.attribution_line(version.title, source.attribution, source.name)
    disclaimer = standing.disclaimer(
        settings.disclaimer, settings.newsroom_name, source.name, author, translator_name
    )
    return PublishedArticle(
        article_id=article_id,
        id=stable_id(settings, article_id),
        revision=revision,
        status=status,
        slug=slug,
        canonical_url=canonical_url(settings, slug),
        language=settings.mt_target_language,
        title=version.title,
        dek=version.dek,
        body_html=body,
        attribution=attribution,
        disclaimer=disclaimer,
        content_html=_content(body, attribution, article.url, disclaimer),
        source_name=source.name,
        original_url=article.url,
        author=author,
        translator=translator_name,
        tags=tags,
        categories=list(enrichment.categories) if enrichment else [],
        places=[names.get(p, p) for p in found.get("places", [])],
        organisations=[names.get(o, o) for o in found.get("organisations", [])],
        first_published_at=first_published_at,
        updated_at=updated_at,
    )


def metadata_of(
    session: Session, article_id: int, translation_id: int
) -> tuple[Enrichment | None, list[str]]:
    """The enrichment of this translation version, and the keywords to show with it. It is
    the newest version's row, or while a correction is under way the public version's: never
    a draft's. None while the enricher has not described this version yet. An editor's
    keywords are the article's, whichever version is shown."""
    rows = related.enrichments_of(session, article_id)
    described = next((rows[subject] for subject in ("translation", "public")
                      if subject in rows and rows[subject].translation_id == translation_id),
                     None)  # fmt: skip
    edited = rows.get("translation")
    if edited is not None and edited.keywords_edited:
        return described, list(edited.keywords)
    return described, (list(described.keywords) if described else [])


def _content(body: str, attribution: str, original_url: str | None, disclaimer: str) -> str:
    credit = html.escape(attribution)
    if original_url:
        link = html.escape(original_url, quote=True)
        credit = f'<a href="{link}" rel="noopener">{credit}</a>'
    parts = [body, f'<p class="attribution">{credit}</p>']
    if disclaimer:
        parts.append(f'<p class="disclaimer"><em>{html.escape(disclaimer)}</em></p>')
    return "\n".join(part for part in parts if part)


@functools.cache
def entity_names(gazetteer_files: tuple[Path, ...]) -> dict[str, str]:
    """Entity id -> English name, from the gazetteer the enricher uses (built once)."""
    gazetteer = entities.default(gazetteer_files)
    return {entity_id: entry.en for entity_id, (_, entry) in gazetteer.entries.items()}
