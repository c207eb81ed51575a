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

from shared.domain.events import ArticleEnriched
from shared.editorial.credits import credits_of
from shared.enrichment import categories, entities, keywords, language, related, standing
from shared.enrichment.categories import Rules
from shared.enrichment.duplicates import band_keys, signature, story_print
from shared.enrichment.entities import Found, Gazetteer
from shared.html import to_text
from shared.models import Article, utcnow
from shared.publishing import feeds
from shared.settings import Settings
from shared.uow import UnitOfWork

from . import store, stories
from .store import Stored
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


@functools.lru_cache(maxsize=4)
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


def tools_for(settings: Settings) -> Tools:
    """The settings' tools, built once per process (`tools` is cached by its arguments)."""
    return tools(
        tuple(settings.gazetteer_files),
        tuple(settings.category_files),
        tuple(settings.enrich_languages),
        settings.newsroom_name,
        settings.disclaimer,
        settings.duplicate_window_hours,
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


def _computed(
    text: str, declared: str | None, kit: Tools, keep_keywords: bool
) -> tuple[dict[str, Any], list[Found]]:
    """The fields both subjects have, computed before anything is written (the story lock is
    then held for the writes only); and the entities found, which the caller reuses."""
    found = kit.gazetteer.find(text)
    stats = text_stats(text)
    detected = language.detect(text, kit.languages)
    # The detector wins when it is confident: outlets' feeds often declare their CMS's default
    # (en-US on an Arabic site). Too little text to tell: the declared language stands.
    found_language = detected.language or declared or stats.language_guess
    fields: dict[str, Any] = {
        "script": stats.script,
        "direction": stats.direction,
        "language": found_language,
        "language_confidence": detected.confidence if detected.language else None,
        "word_count": stats.word_count,
        "reading_minutes": stats.reading_minutes,
        "entities": entities_of(found),
        "categories": kit.rules.categorise(text, found),
        "computed_at": utcnow(),
    }
    if not keep_keywords:
        fields["keywords"] = keywords.keywords(text, found_language, found)
    return fields, found


def _save(uow: UnitOfWork, article_id: int, subject: str, fields: dict[str, Any]) -> None:
    store.save(uow.session, article_id, subject, fields)
    uow.emit(ArticleEnriched(article_id=article_id, subject=subject))


def _unchanged(rows: dict[str, Stored], subject: str, input_hash: str) -> bool:
    row = rows.get(subject)
    return row is not None and row.input_hash == input_hash


def _with(rows: dict[str, Stored], subject: str, fields: dict[str, Any]) -> list[Stored]:
    """The article's enrichments as they are once `fields` are stored for `subject`."""
    old = rows.get(subject)
    new = Stored(
        input_hash=fields["input_hash"],
        keywords_edited=old is not None and old.keywords_edited,
        keywords=fields.get("keywords", old.keywords if old else []),
        entities=fields["entities"],
    )
    return [*(row for name, row in rows.items() if name != subject), new]


def enrich_source(uow: UnitOfWork, article_id: int, kit: Tools) -> bool:
    """Metadata of the article's current source revision, its story's cluster and its terms;
    False when the stored result is already for this input."""
    session = uow.session
    article = store.source_text(session, article_id)
    if article is None:
        log.info("enrich_skipped_no_article", article_id=article_id)
        return False
    text = "\n".join((article.title, to_text(article.summary_html), to_text(article.content_html)))
    input_hash = _input_hash(kit.version, "source", article.language, text)
    rows = article.stored
    if _unchanged(rows, "source", input_hash):
        return False
    source = rows.get("source")
    fields, found = _computed(text, article.language, kit, source is not None
                              and source.keywords_edited)  # fmt: skip
    print_ = story_print(text, kit.gazetteer, found)
    keys = band_keys(signature(print_))
    fields |= {"input_hash": input_hash, "story": print_.to_json()}
    # Everything is computed; from here the transaction writes. An article without any
    # enrichment yet has no terms or bands to replace. The story index comes last but for the
    # row that stores its cluster id: the locks it takes (see stories.index_story) are then
    # held for the shortest time.
    related.index_terms(session, article_id, _with(rows, "source", fields), replace=bool(rows))
    story = stories.Story(article_id, article.source_id, article.first_seen_at, input_hash)
    fields["cluster_id"] = stories.index_story(
        session, story, print_, keys, kit.window, indexed_before=source is not None
    )
    _save(uow, article_id, "source", fields)
    return True


def enrich_translation(uow: UnitOfWork, article_id: int, kit: Tools) -> bool:
    """Metadata of the article's newest translation version ("translation", the desk's):
    keywords (an editor's edits stay), entities, categories, slug, attribution line and
    disclaimer. While a correction is under way, also of the version the public still sees
    ("public"): partners and destinations get that version's metadata, never a draft's.
    False when both are already stored for their input."""
    session = uow.session
    article = session.get(Article, article_id, with_for_update=True)
    if article is None or article.current_translation_id is None:
        return False
    rows = store.stored(session, article_id)
    newest, public = article.current_translation_id, article.public_translation_id
    changed = _enrich_version(uow, article, newest, "translation", rows, kit)
    seen_by_partners = changed and newest == public
    if public is not None and public != newest:
        seen_by_partners = _enrich_version(uow, article, public, "public", rows, kit)
        changed = changed or seen_by_partners
    if seen_by_partners and article.public_revision:  # feeds carry its tags and places
        feeds.mark_stale(session)
    return changed


def _enrich_version(
    uow: UnitOfWork, article: Article, translation_id: int, subject: str,
    rows: dict[str, Stored], kit: Tools,
) -> bool:  # fmt: skip
    """Store the metadata of one translation version as `subject` (and `rows` as they then
    are); False when it is stored already."""
    session = uow.session
    credits = credits_of(session, article, translation_id)
    version, source = credits.version, credits.source
    author, translator_name = credits.author, credits.translator
    text = "\n".join((version.title, version.dek, to_text(version.body_html)))
    # The version is part of the input: a row describes one version (render.py picks by it),
    # even when a later version's text is the same.
    input_hash = _input_hash(
        kit.version, "translation", str(translation_id), text, source.name, source.attribution,
        author, translator_name, kit.newsroom, kit.disclaimer,
    )  # fmt: skip
    if _unchanged(rows, subject, input_hash):
        return False
    current = rows.get(subject)
    # An editor's keywords are the newest version's; the public one's row keeps computed ones
    # (the renderer prefers the editor's, which are the article's).
    keep = subject == "translation" and current is not None and current.keywords_edited
    fields, _ = _computed(text, "en", kit, keep)
    fields |= {
        "input_hash": input_hash,
        "translation_id": translation_id,
        "slug": standing.slug(version.title),
        "attribution": standing.attribution_line(version.title, source.attribution, source.name),
        "disclaimer": standing.disclaimer(
            kit.disclaimer, kit.newsroom, source.name, author, translator_name
        ),
    }
    after = _with(rows, subject, fields)
    related.index_terms(session, article.id, after, replace=bool(rows))
    _save(uow, article.id, subject, fields)
    rows[subject] = after[-1]
    return True
