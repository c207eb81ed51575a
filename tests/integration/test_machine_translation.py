"""Machine-translation drafts through the API, against a server speaking LibreTranslate's API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from shared.db import Database
from shared.domain.states import Role
from shared.settings import Settings
from tests.conftest import replace_settings
from tests.support.factories import make_article, make_source, make_user
from tests.support.libretranslate import LibreTranslateServer
from tests.support.web import WebServer

BODY = "<p>تقنين جديد في درعا</p>"


@pytest.fixture
def libretranslate() -> Iterator[LibreTranslateServer]:
    server = LibreTranslateServer(api_key="lt-key").start()
    yield server
    server.stop()


def _web(settings: Settings, server: LibreTranslateServer, **changes: object) -> WebServer:
    values: dict[str, object] = {"mt_provider": "libretranslate", "mt_url": server.url(""),
              "mt_api_key": "lt-key", "fetch_allowed_hosts": [server.host_port]}  # fmt: skip
    return WebServer(replace_settings(settings, **{**values, **changes})).start()


def test_a_draft_is_stored_as_a_machine_version_a_person_must_edit(
    settings: Settings, database: Database, libretranslate: LibreTranslateServer
) -> None:
    token = make_user(database, "tina", Role.TRANSLATOR)[1]
    article_id = make_article(database, make_source(database), title="انقطاع الكهرباء", body=BODY)
    web = _web(settings, libretranslate)
    api, path = web.api.with_token(token), f"/api/v1/articles/{article_id}"
    try:
        version = api.post(f"{path}/actions/claim", json={"lock_version": 1}).json()["lock_version"]
        drafted = api.post(f"{path}/draft", json={"lock_version": version})
        assert drafted.status_code == 200, drafted.text
        article = drafted.json()
        translation = article["translation"]
        assert translation["machine"] is True
        assert translation["title"] == "outage electricity"
        assert translation["body_html"] == "<p>rationing new in Daraa</p>"
        assert article["history"][-1]["note"] == "machine draft (libretranslate)"
        sent = json.loads(libretranslate.hits("/translate")[0].body)
        assert sent == {"q": ["انقطاع الكهرباء", BODY], "source": "ar", "target": "en",
                        "format": "html", "api_key": "lt-key"}  # fmt: skip

        refused = api.post(f"{path}/actions/submit", json={"lock_version": article["lock_version"]})
        assert refused.status_code == 409
        assert "machine draft" in refused.json()["detail"]
        edited = api.request("PUT", f"{path}/translation", json={
            "lock_version": article["lock_version"], "title": "Power outage",
            "body_html": "<p>New rationing in Daraa</p>"})  # fmt: skip
        assert edited.json()["translation"]["machine"] is False
        submitted = api.post(f"{path}/actions/submit",
                             json={"lock_version": edited.json()["lock_version"]})  # fmt: skip
        assert submitted.json()["state"] == "in_review"
    finally:
        web.stop()


def test_provider_failures_are_503_problems_and_change_nothing(
    settings: Settings, database: Database, libretranslate: LibreTranslateServer, web: WebServer
) -> None:
    token = make_user(database, "tina", Role.TRANSLATOR)[1]
    article_id = make_article(database, make_source(database), body=BODY)
    path = f"/api/v1/articles/{article_id}"
    cases = [
        ({"mt_provider": "none"}, "machine translation is off"),
        ({"mt_api_key": "wrong"}, "LibreTranslate refused (HTTP 403): Invalid API key"),
        ({"mt_target_language": "xx"}, "xx is not supported"),
        ({"mt_url": "http://127.0.0.1:1"}, "LibreTranslate cannot be reached"),
    ]
    claim = web.api.with_token(token).post(f"{path}/actions/claim", json={"lock_version": 1})
    version = claim.json()["lock_version"]
    for changes, message in cases:
        failing = _web(settings, libretranslate, **changes)
        try:
            api = failing.api.with_token(token)
            response = api.post(f"{path}/draft", json={"lock_version": version})
            assert response.status_code == 503, (changes, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert message in response.json()["detail"]
            assert api.get(path).json()["translation"] is None
        finally:
            failing.stop()
