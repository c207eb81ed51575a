"""Enrichment: language confidence, categories, attribution, disclaimer, story prints and
clusters; the duplicate index (story_bands) and the related-story index (article_terms).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("enrichments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language_confidence", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("categories", JSON, nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("attribution", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("disclaimer", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("story", JSON, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(sa.Column("cluster_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_enrichments_cluster_id", ["cluster_id"])
    op.create_table(
        "story_bands",
        sa.Column("band_key", sa.String(length=32), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_story_bands_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("band_key", "article_id", name=op.f("pk_story_bands")),
    )
    op.create_index("ix_story_bands_article_id", "story_bands", ["article_id"])
    op.create_table(
        "article_terms",
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_terms_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "article_id", name=op.f("pk_article_terms")),
    )
    op.create_index("ix_article_terms_article_id", "article_terms", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_article_terms_article_id", table_name="article_terms")
    op.drop_table("article_terms")
    op.drop_index("ix_story_bands_article_id", table_name="story_bands")
    op.drop_table("story_bands")
    with op.batch_alter_table("enrichments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrichments_cluster_id")
        batch_op.drop_column("cluster_id")
        batch_op.drop_column("story")
        batch_op.drop_column("disclaimer")
        batch_op.drop_column("attribution")
        batch_op.drop_column("categories")
        batch_op.drop_column("language_confidence")
