"""The demo's seeding: idempotent, and each run's credentials replace the last run's."""

from __future__ import annotations

from sqlalchemy import func, select

from shared.admin.users import user_for_token
from shared.db import Database
from shared.demo.seed import seed_editor, seed_sources
from shared.demo.server import load_outlets
from shared.models import Source
from shared.security import verify_password
from shared.uow import UnitOfWork


def test_seeding_twice_repoints_the_sources_and_replaces_the_credentials(
    database: Database,
) -> None:
    outlets, articles = load_outlets()
    assert (len(outlets), len(articles)) == (5, 40)
    with UnitOfWork(database) as uow:
        seed_sources(uow, [(o, f"http://127.0.0.1:8001/{o.slug}/feed") for o in outlets])
        first = seed_editor(uow)
        uow.commit()
    with UnitOfWork(database) as uow:
        seed_sources(uow, [(o, f"http://127.0.0.1:9001/{o.slug}/feed") for o in outlets])
        second = seed_editor(uow)
        uow.commit()
    with UnitOfWork(database) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Source)) == 5
        urls = set(uow.session.scalars(select(Source.url)))
        assert all(":9001/" in url for url in urls)
        assert user_for_token(uow, first.token) is None  # revoked
        found = user_for_token(uow, second.token)
        assert found is not None
        user, _ = found
        assert user.role == "editor"
        assert user.password_hash is not None
        assert verify_password(user.password_hash, second.password)
        assert not verify_password(user.password_hash, first.password)
