from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, make_url, text

from shared import migrate
from shared.db import Database
from shared.models import Base
from tests.conftest import PG_ADMIN_URL


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"crossfeed_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    assert migrate.current_revision(empty_url) is None
    migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == migrate.head_revision()
    tables = set(Base.metadata.tables)
    engine = create_engine(empty_url)
    assert tables <= set(inspect(engine).get_table_names())
    migrate.downgrade(empty_url, "base")
    assert set(inspect(engine).get_table_names()) & tables == set()
    migrate.upgrade(empty_url)
    assert tables <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_rebuilding_tables_keeps_their_children(empty_url: str) -> None:
    """Downgrading 0002 rebuilds `sources` on SQLite; articles and revisions must survive."""
    migrate.upgrade(empty_url)
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sources (id, name, url, language, status, next_poll_at, "
                "consecutive_failures, created_at, updated_at) VALUES "
                "(1, 's', 'https://s.example/f', 'ar', 'active', '2025-01-01', 0, '2025-01-01', "
                "'2025-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO articles (id, source_id, identity_key, language, first_seen_at, "
                "state, source_revised, lock_version, updated_at) VALUES "
                "(1, 1, 'guid:g', 'ar', '2025-01-01', 'new', false, 1, '2025-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO article_revisions (id, article_id, number, title, summary_html, "
                "content_html, content_hash, fetched_at) VALUES "
                "(1, 1, 1, 't', '', '', 'h', '2025-01-01')"
            )
        )
    migrate.downgrade(empty_url, "0001")
    migrate.upgrade(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM article_revisions")).scalar() == 1
    engine.dispose()
