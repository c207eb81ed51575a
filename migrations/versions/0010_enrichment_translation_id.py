"""The translation version an enrichment describes, so that what partners and destinations get
is the metadata of the version the public sees, never of a correction's draft.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("enrichments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("translation_id", sa.Integer(), nullable=True))
    # The enricher enriched the newest version each time; a row an editor's keywords created
    # before any enrichment (empty input hash) describes none.
    op.execute(
        "UPDATE enrichments SET translation_id = (SELECT current_translation_id FROM articles "
        "WHERE articles.id = enrichments.article_id) "
        "WHERE subject = 'translation' AND input_hash <> ''"
    )


def downgrade() -> None:
    op.execute("DELETE FROM enrichments WHERE subject = 'public'")
    with op.batch_alter_table("enrichments", schema=None) as batch_op:
        batch_op.drop_column("translation_id")
