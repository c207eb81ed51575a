"""Publishing: an article's public revision and stable slug; superseded deliveries.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATES = "state IN ('pending', 'sending', 'delivered', 'failed', 'dead')"
NEW_STATES = "state IN ('pending', 'sending', 'delivered', 'failed', 'dead', 'superseded')"


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("public_revision", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("public_slug", sa.String(length=240), nullable=True))
        batch_op.add_column(sa.Column("public_updated_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_state"), type_="check")
        batch_op.create_check_constraint("state", NEW_STATES)


def downgrade() -> None:
    op.execute("UPDATE deliveries SET state = 'delivered' WHERE state = 'superseded'")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_state"), type_="check")
        batch_op.create_check_constraint("state", OLD_STATES)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("public_updated_at")
        batch_op.drop_column("public_slug")
        batch_op.drop_column("public_revision")
