"""The translation version the public sees (kept while a correction is under way), and the
public state of articles published before it was recorded.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_translation_id", sa.Integer(), nullable=True))
    # Published before 0007: their approved version is what went out; one public revision.
    op.execute(
        "UPDATE articles SET public_translation_id = approved_translation_id, "
        "public_revision = CASE WHEN public_revision = 0 THEN 1 ELSE public_revision END, "
        "public_updated_at = COALESCE(public_updated_at, published_at) "
        "WHERE published_at IS NOT NULL AND approved_translation_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("public_translation_id")
