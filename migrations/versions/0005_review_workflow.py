"""Review workflow: each article's newest and approved translation versions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("current_translation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_translation_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_articles_claim_expires_at", ["claim_expires_at"])
        batch_op.create_index("ix_articles_scheduled_for", ["scheduled_for"])


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_scheduled_for")
        batch_op.drop_index("ix_articles_claim_expires_at")
        batch_op.drop_column("approved_translation_id")
        batch_op.drop_column("current_translation_id")
