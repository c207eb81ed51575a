"""Poller: per-host key, identity rules, full-text option, notes, WebSub state, pushed documents.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 03:52:35.215385
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models.base
from shared.models.sources import host_key

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pushed_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("received_at", shared.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", shared.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_pushed_documents_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_documents")),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index(
            "ix_articles_source_published", ["source_id", "source_published_at"], unique=False
        )
        batch_op.create_index("ix_articles_source_url", ["source_id", "url"], unique=False)

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("host", sa.String(length=300), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("last_notes", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("identity_rule", sa.String(length=8), nullable=False, server_default="guid")
        )
        batch_op.add_column(sa.Column("identity_note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("full_text", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("websub_hub", sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column("websub_topic", sa.String(length=2048), nullable=True))
        batch_op.add_column(
            sa.Column("websub_state", sa.String(length=16), nullable=False, server_default="none")
        )
        batch_op.add_column(sa.Column("websub_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("websub_secret_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "websub_lease_until", shared.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("websub_error", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_sources_host"), ["host"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_sources_websub_token"), ["websub_token"])
        batch_op.create_check_constraint(
            "identity_rule", "identity_rule IN ('guid', 'link', 'hash')"
        )

    # Existing sources get their host key (shared.models.sources.host_key).
    sources = sa.table(
        "sources",
        sa.column("id", sa.Integer),
        sa.column("url", sa.String),
        sa.column("host", sa.String),
    )
    connection = op.get_bind()
    for source_id, url in connection.execute(sa.select(sources.c.id, sources.c.url)).all():
        connection.execute(
            sources.update().where(sources.c.id == source_id).values(host=host_key(url))
        )


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_sources_identity_rule"), type_="check")
        batch_op.drop_constraint(batch_op.f("uq_sources_websub_token"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_sources_host"))
        batch_op.drop_column("websub_error")
        batch_op.drop_column("websub_lease_until")
        batch_op.drop_column("websub_secret_encrypted")
        batch_op.drop_column("websub_token")
        batch_op.drop_column("websub_state")
        batch_op.drop_column("websub_topic")
        batch_op.drop_column("websub_hub")
        batch_op.drop_column("full_text")
        batch_op.drop_column("identity_note")
        batch_op.drop_column("identity_rule")
        batch_op.drop_column("last_notes")
        batch_op.drop_column("host")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_source_url")
        batch_op.drop_index("ix_articles_source_published")

    op.drop_table("pushed_documents")
