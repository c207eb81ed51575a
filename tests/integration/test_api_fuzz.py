"""The API fuzzed from its own OpenAPI schema (schemathesis): whatever the request, no 500.

Every operation under /api/v1 gets generated requests, valid and invalid, as an admin (who may
reach every operation), against the real app over HTTP on PostgreSQL, with a few articles,
sources, partners and destinations to find. Bounded: a fixed number of examples per operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from shared.admin.partners import PartnerCreate, add_partner
from shared.db import Database
from shared.domain.states import Role
from shared.uow import UnitOfWork
from tests.conftest import make_settings
from tests.support.factories import make_article, make_source, make_translation, make_user
from tests.support.web import WebServer

EXAMPLES = 25  # per operation: about a thousand requests in all


@pytest.fixture
def fuzzed(tmp_path: Path, pg_url: str, pg_database: Database) -> Iterator[tuple[WebServer, str]]:
    app_settings = make_settings(tmp_path / "var", database_url=pg_url)
    _, token = make_user(pg_database, "fuzz-admin", Role.ADMIN, "fuzzing password")
    source = make_source(pg_database, name="Enab Baladi")
    for n in range(3):
        article = make_article(pg_database, source, title=f"خبر {n}")
        make_translation(pg_database, article, f"Story {n}")
    with UnitOfWork(pg_database) as uow:
        add_partner(uow, PartnerCreate(slug="wire", name="Wire"))
        uow.commit()
    web = WebServer(app_settings).start()
    yield web, token
    web.stop()


def test_no_request_makes_the_api_fail(fuzzed: tuple[WebServer, str]) -> None:
    """Each operation in turn, through schemathesis's generated cases (its pytest loader does
    not work with pytest 9, so the cases are drawn here with Hypothesis directly)."""
    web, token = fuzzed
    schema = schemathesis.openapi.from_url(f"{web.url}/openapi.json").include(
        path_regex="^/api/v1/"
    )
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises: a broken schema
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def call(case: Any) -> None:
            case.call_and_validate(
                base_url=web.url,
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error],
                timeout=30,
            )

        try:
            call()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - each one reported
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    assert operations >= 30  # the whole API was reached, not an empty schema
    assert failures == [], "\n\n".join(failures)
