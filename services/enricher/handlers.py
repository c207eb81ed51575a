"""Enrich an article's source text and its translation. Idempotent: the same input (text,
enricher version, gazetteer, rules and settings that shape the result) stores nothing new."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import select

from shared.db import serialise
from shared.domain.events import ArticleEnriched
from shared.enrichment import categories, entities, keywords, language, related, standing
from shared.enrichment.categories import Rules
from shared.enrichment.duplicates import story_print
from shared.enrichment.entities import Found, Gazetteer
from shared.html import to_text
from shared.models import Article, ArticleRevision, Enrichment, Source, Translation, User, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork

from . import stories
from .text import text_stats

log = structlog.get_logger(__name__)

# Bump when the computation changes, so stored results are recomputed.
# 3: language detection, keywords, categories, story prints and clusters, translations
ENRICHER_VERSION = "3"


@dataclass(frozen=True)
class Tools:
    """What enrichment reads besides the article: built once per process from settings."""

    gazetteer: Gazetteer
    rules: Rules
    languages: tuple[str, ...] = language.DEFAULT_LANGUAGES
    newsroom: str = "Crossfeed Newsroom"
    disclaimer: str = ""
    window: dt.timedelta = dt.timedelta(hours=72)

    @property
    def version(self) -> str:
        """Part of every input hash: a changed gazetteer, rule file or language list
        recomputes (the newsroom's name and disclaimer are part of translations' only)."""
        return "/".join(
            (
                ENRICHER_VERSION,
                self.gazetteer.fingerprint,
                self.rules.fingerprint,
                ",".join(self.languages),
            )
        )


def tools(
    gazetteer_files: tuple[Path, ...] = (),
    category_files: tuple[Path, ...] = (),
    languages: tuple[str, ...] = language.DEFAULT_LANGUAGES,
    newsroom: str = "Crossfeed Newsroom",
    disclaimer: str = "",
    window_hours: int = 72,
) -> Tools:
    return Tools(
        gazetteer=entities.default(gazetteer_files),
        rules=categories.default(category_files),
        languages=languages,
        newsroom=newsroom,
        disclaimer=disclaimer,
        window=dt.timedelta(hours=window_hours),
    )


@functools.lru_cache(maxsize=4)
def _cached_tools(settings_key: tuple[Any, ...]) -> Tools:
    return tools(*settings_key)


def tools_for(settings: Settings) -> Tools:
    return _cached_tools(
        (
            tuple(settings.gazetteer_files),
            tuple(settings.category_files),
            tuple(settings.enrich_languages),
            settings.newsroom_name,
            settings.disclaimer,
            settings.duplicate_window_hours,
        )
    )


def entities_of(found: list[Found]) -> dict[str, Any]:
    """What `Enrichment.entities` stores: ids by type, mentions and governorates filed under."""
    return {
        "places": [f.id for f in found if f.type == "place"],
        "organisations": [f.id for f in found if f.type == "organisation"],
        "mentions": {f.id: f.mentions for f in found},
        "governorates": sorted(
            {f.governorate for f in found if f.type == "place" and f.governorate}
        ),
    }


def _input_hash(version: str, *parts: str | None) -> str:
    joined = "\x1f".join(part or "" for part in (version, *parts))
    return hashlib.sha256(joined.encode()).hexdigest()


def _row(uow: UnitOfWork, article_id: int, subject: str) -> Enrichment | None:
    return uow.session.scalar(
        select(Enrichment).where(Enrichment.article_id == article_id, Enrichment.subject == subject)
    )


def _common(
    enrichment: Enrichment, text: str, declared: str | None, found: list[Found], kit: Tools
) -> str | None:
    """Fields both subjects have; returns the language the text was found to be in."""
    stats = text_stats(text)
    detected = language.detect(text, kit.languages)
    enrichment.script = stats.script
    enrichment.direction = stats.direction
    # The detector wins when it is confident: outlets' feeds often declare their CMS's default
    # (en-US on an Arabic site). Too little text to tell: the declared language stands.
    enrichment.language = detected.language or declared or stats.language_guess
    enrichment.language_confidence = detected.confidence if detected.language else None
    enrichment.word_count = stats.word_count
    enrichment.reading_minutes = stats.reading_minutes
    enrichment.entities = entities_of(found)
    enrichment.categories = kit.rules.categorise(text, found)
    if not enrichment.keywords_edited:
        enrichment.keywords = keywords.keywords(text, enrichment.language, found)
    enrichment.computed_at = utcnow()
    return enrichment.language


def enrich_source(uow: UnitOfWork, article_id: int, kit: Tools) -> bool:
    """Metadata of the article's current source revision, its story's cluster and its terms;
    False when the stored result is already for this input."""
    session = uow.session
    # Locked: two deliveries for one article (scaled enrichers) take turns instead of racing
    # to insert the same enrichment row.
    article = session.get(Article, article_id, with_for_update=True)
    if article is None or article.current_revision_id is None:
        log.info("enrich_skipped_no_article", article_id=article_id)
        return False
    revision = session.get_one(ArticleRevision, article.current_revision_id)
    text = "\n".join(
        (revision.title, to_text(revision.summary_html), to_text(revision.content_html))
    )
    input_hash = _input_hash(kit.version, "source", article.language, text)
    enrichment = _row(uow, article_id, "source")
    if enrichment is not None and enrichment.input_hash == input_hash:
        return False
    found = kit.gazetteer.find(text)
    print_ = story_print(text, kit.gazetteer, found)
    # Everything is computed; from here the transaction writes. Story indexing takes turns
    # across workers (see stories.index_story), so take the turn before the first write.
    serialise(session, "stories")
    if enrichment is None:
        enrichment = Enrichment(article_id=article_id, subject="source")
        session.add(enrichment)
    enrichment.input_hash = input_hash
    _common(enrichment, text, article.language, found, kit)
    enrichment.story = stories.print_to_json(print_)
    session.flush()
    stories.index_story(session, article, enrichment, print_, kit.window)
    related.index_terms(session, article_id)
    uow.emit(ArticleEnriched(article_id=article_id, subject="source"))
    return True


def enrich_translation(uow: UnitOfWork, article_id: int, kit: Tools) -> bool:
    """Metadata of the article's newest translation version: keywords (an editor's edits
    stay), entities, categories, slug, attribution line and disclaimer."""
    session = uow.session
    article = session.get(Article, article_id, with_for_update=True)
    if article is None or article.current_translation_id is None:
        return False
    version = session.get_one(Translation, article.current_translation_id)
    source = session.get_one(Source, article.source_id)
    revision = (
        session.get(ArticleRevision, article.current_revision_id)
        if article.current_revision_id
        else None
    )
    translator = session.get(User, version.translator_id) if version.translator_id else None
    translator_name = (translator.display_name or translator.username) if translator else None
    author = revision.author if revision else None
    text = "\n".join((version.title, version.dek, to_text(version.body_html)))
    input_hash = _input_hash(
        kit.version, "translation", text, source.name, source.attribution, author,
        translator_name, kit.newsroom, kit.disclaimer,
    )  # fmt: skip
    enrichment = _row(uow, article_id, "translation")
    if enrichment is not None and enrichment.input_hash == input_hash:
        return False
    if enrichment is None:
        enrichment = Enrichment(article_id=article_id, subject="translation")
        session.add(enrichment)
    found = kit.gazetteer.find(text)
    enrichment.input_hash = input_hash
    _common(enrichment, text, "en", found, kit)
    enrichment.slug = standing.slug(version.title)
    enrichment.attribution = standing.attribution_line(
        version.title, source.attribution, source.name
    )
    enrichment.disclaimer = standing.disclaimer(
        kit.disclaimer, kit.newsroom, source.name, author, translator_name
    )
    session.flush()
    related.index_terms(session, article_id)
    uow.emit(ArticleEnriched(article_id=article_id, subject="translation"))
    return True
