"""Sources remember the URL before a permanent redirect; relays claim outbox rows to send.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 03:02:37.817449
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_until", shared.models.base.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("previous_url")

    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
