"""Enrichment: metadata computed for an article's source text and for its translation.

Owned by the enricher. `story_bands` is the duplicate index (LSH band keys of each story's
MinHash signature: two stories sharing a key are candidates), `article_terms` the related-story
index (entities and keywords, one row each, looked up by term).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, utcnow


class Enrichment(Base):
    __tablename__ = "enrichments"
    __table_args__ = (
        UniqueConstraint("article_id", "subject"),
        Index("ix_enrichments_cluster_id", "cluster_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    # "source"; "translation": the newest translation version (the desk's); "public": while a
    # correction is under way, the version the public still sees (what partners get).
    subject: Mapped[str] = mapped_column(String(16))
    # The translation version a "translation" or "public" row describes.
    translation_id: Mapped[int | None]
    # Hash of the input text and enricher version: same input, no recomputation.
    input_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    # The detector's confidence in `language` (0..1); None when the language was not detected
    # (too little text) and the source's declared language stands.
    language_confidence: Mapped[float | None] = mapped_column(Float)
    script: Mapped[str | None] = mapped_column(String(16))
    direction: Mapped[str | None] = mapped_column(String(3))
    word_count: Mapped[int] = mapped_column(default=0)
    reading_minutes: Mapped[int] = mapped_column(default=0)
    slug: Mapped[str | None] = mapped_column(String(200))
    # Source: keywords in the source language, for search. Translation: the published
    # article's "Helpful keywords".
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    # Translation: "<headline>, Syria TV says" and the newsroom's disclaimer, filled in.
    attribution: Mapped[str | None] = mapped_column(Text)
    disclaimer: Mapped[str | None] = mapped_column(Text)
    # Source: the story's print (words, numbers, entities) that duplicate checks compare, and
    # the cluster of stories it belongs to (the id of the cluster's first article).
    story: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cluster_id: Mapped[int | None]
    # Editors' keyword edits win over recomputation.
    keywords_edited: Mapped[bool] = mapped_column(default=False)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StoryBand(Base):
    """One LSH band key of an article's story signature (`BANDS` rows per article)."""

    __tablename__ = "story_bands"
    __table_args__ = (Index("ix_story_bands_article_id", "article_id"),)

    band_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )


class ArticleTerm(Base):
    """An entity or keyword of an article: what related stories are found by."""

    __tablename__ = "article_terms"
    __table_args__ = (Index("ix_article_terms_article_id", "article_id"),)

    term: Mapped[str] = mapped_column(String(200), primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
