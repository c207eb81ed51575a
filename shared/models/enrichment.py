"""Enrichment: metadata computed for an article's source text and for its translation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.models.base import Base, utcnow


class Enrichment(Base):
    __tablename__ = "enrichments"
    __table_args__ = (UniqueConstraint("article_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(16))  # "source" or "translation"
    # Hash of the input text and enricher version: same input, no recomputation.
    input_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    script: Mapped[str | None] = mapped_column(String(16))
    direction: Mapped[str | None] = mapped_column(String(3))
    word_count: Mapped[int] = mapped_column(default=0)
    reading_minutes: Mapped[int] = mapped_column(default=0)
    slug: Mapped[str | None] = mapped_column(String(200))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Editors' keyword edits win over recomputation.
    keywords_edited: Mapped[bool] = mapped_column(default=False)
    computed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
