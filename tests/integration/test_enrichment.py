"""The enricher on real databases: entities stored with the article, idempotent re-runs."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from services.enricher.handlers import enrich_source
from shared.db import Database
from shared.enrichment.entities import load
from shared.models import Enrichment, OutboxEvent
from shared.uow import UnitOfWork
from tests.support.factories import make_article, make_source


def _enrich(database: Database, article_id: int, paths: list[Path] | None = None) -> bool:
    with UnitOfWork(database) as uow:
        changed = enrich_source(uow, article_id, load(paths or []))
        uow.commit()
        return changed


def test_entities_are_stored_and_a_rerun_changes_nothing(
    database: Database, tmp_path: Path
) -> None:
    body = "<p>قالت قسد إن الهلال الأحمر السوري وصل إلى جاسم.</p>"
    article_id = make_article(database, make_source(database), title="قصف على جاسم", body=body)
    assert _enrich(database, article_id) is True
    with UnitOfWork(database, read_only=True) as uow:
        stored = uow.session.scalar(select(Enrichment.entities))
    assert stored == {
        "places": ["jasim", "daraa"],
        "organisations": ["sarc", "sdf"],
        "mentions": {"jasim": 2, "sarc": 1, "sdf": 1, "daraa": 0},
        "governorates": ["daraa"],
    }
    assert _enrich(database, article_id) is False  # same input: nothing stored, no event
    with UnitOfWork(database, read_only=True) as uow:
        events = uow.session.scalar(
            select(func.count()).where(OutboxEvent.type == "article.enriched")
        )
    assert events == 1

    extra = tmp_path / "ours.toml"  # a changed gazetteer is a changed input
    extra.write_text('[[place]]\nid = "qasf"\nen = "Qasf"\nar = ["قصف"]\nkind = "area"\n',
                     encoding="utf-8")  # fmt: skip
    assert _enrich(database, article_id, [extra]) is True
    with UnitOfWork(database, read_only=True) as uow:
        entities = uow.session.scalar(select(Enrichment.entities))
    assert entities is not None and "qasf" in entities["places"]
