"""The editor API over real HTTP (uvicorn) on real databases."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from services.enricher.handlers import enrich_source, tools
from services.review.handlers import queue_article
from shared.db import Database
from shared.domain.states import ArticleState, Role
from shared.models import ApiToken, User, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import replace_settings
from tests.support.factories import make_article, make_source, make_user
from tests.support.web import WebServer

PROBLEM = "application/problem+json"


@pytest.fixture
def tokens(database: Database) -> dict[Role, str]:
    return {role: make_user(database, f"{role.value}-user", role)[1] for role in Role}


def test_health_and_readiness(web: WebServer) -> None:
    assert web.get("/healthz").json() == {"status": "ok"}
    ready = web.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_readiness_fails_clearly_when_the_broker_is_down(settings: Settings) -> None:
    broken = replace_settings(settings, broker_url="redis://127.0.0.1:1/0")
    server = WebServer(broken).start()
    try:
        response = server.get("/readyz")
    finally:
        server.stop()
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["title"] == "Not ready"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")


def test_metrics_include_the_system_gauges(web: WebServer, database: Database) -> None:
    make_article(database, make_source(database))
    text = web.get("/metrics").text
    assert 'crossfeed_articles{state="new"} 1.0' in text
    assert "crossfeed_outbox_pending" in text
    assert 'crossfeed_queue_depth{queue="poll"}' in text
    assert "crossfeed_http_requests_total" in text


def test_every_api_route_needs_a_token(web: WebServer, database: Database) -> None:
    article = make_article(database, make_source(database))
    for path in (
        "/api/v1/articles",
        f"/api/v1/articles/{article}",
        "/api/v1/sources",
        "/api/v1/me",
    ):
        response = web.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("change", ["unknown", "expired", "revoked", "inactive"])
def test_bad_tokens_are_refused(web: WebServer, database: Database, change: str) -> None:
    user_id, token = make_user(database, "mona", Role.EDITOR)
    assert web.get("/api/v1/me", token).status_code == 200
    with database.session() as session:
        if change == "expired":
            session.execute(update(ApiToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
        elif change == "revoked":
            session.execute(update(ApiToken).values(revoked_at=utcnow()))
        elif change == "inactive":
            session.execute(update(User).where(User.id == user_id).values(active=False))
        session.commit()
    response = web.get("/api/v1/me", token + "x" if change == "unknown" else token)
    assert response.status_code == 401
    assert response.json()["detail"] == "the token is unknown, expired or revoked"


def test_me(web: WebServer, tokens: dict[Role, str], database: Database) -> None:
    assert web.get("/api/v1/me", tokens[Role.TRANSLATOR]).json()["role"] == "translator"
    with database.session() as session:
        used = session.scalars(select(ApiToken.last_used_at).where(ApiToken.name == "default"))
        assert sum(1 for when in used if when is not None) == 1  # recorded, outside the GET


def test_articles_are_paged_by_cursor_newest_first(
    web: WebServer, database: Database, tokens: dict[Role, str]
) -> None:
    source = make_source(database)
    ids = [make_article(database, source, f"خبر {n}") for n in range(5)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = web.get("/api/v1/articles", tokens[Role.TRANSLATOR], params=params).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert pages == 3


def test_article_filters(web: WebServer, database: Database, tokens: dict[Role, str]) -> None:
    one, two = make_source(database), make_source(database)
    bread = make_article(database, one, "أسعار الخبز في درعا")
    make_article(database, two, "الكهرباء في حلب", state=ArticleState.TRANSLATING)
    token = tokens[Role.EDITOR]

    def ids(**params: object) -> list[int]:
        return [i["id"] for i in web.get("/api/v1/articles", token, params=params).json()["items"]]

    assert ids(state="new") == [bread]
    assert ids(source_id=one) == [bread]
    assert ids(q="الخبز") == [bread]
    assert ids(q="%") == []  # LIKE wildcards are escaped
    assert len(ids(language="ar")) == 2


def test_bad_list_parameters_are_problems(web: WebServer, tokens: dict[Role, str]) -> None:
    for params in ({"state": "pending"}, {"limit": 0}, {"cursor": "garbage"}):
        response = web.get("/api/v1/articles", tokens[Role.EDITOR], params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == PROBLEM


def test_an_article_in_full(web: WebServer, database: Database, tokens: dict[Role, str]) -> None:
    article_id = make_article(database, make_source(database, "Yarmouk Post"), "خبر عاجل")
    with UnitOfWork(database) as uow:
        queue_article(uow, article_id)
        enrich_source(uow, article_id, tools())
        uow.commit()
    body = web.get(f"/api/v1/articles/{article_id}", tokens[Role.TRANSLATOR]).json()
    assert body["title"] == "خبر عاجل"
    assert body["source"]["name"] == "Yarmouk Post"
    assert body["revision"]["number"] == 1
    assert body["revisions"] == 1
    assert body["queued_at"] is not None
    assert body["history"][0]["action"] == "queue"
    [enrichment] = body["enrichment"]
    assert (enrichment["script"], enrichment["direction"]) == ("Arab", "rtl")
    assert (body["also_reported_by"], body["related"]) == ([], [])
    # RFC 3339 in UTC.
    assert dt.datetime.fromisoformat(body["first_seen_at"]).utcoffset() == dt.timedelta(0)


def test_editors_set_keywords(web: WebServer, database: Database, tokens: dict[Role, str]) -> None:
    article_id = make_article(database, make_source(database), "قصف على جاسم")
    path = f"/api/v1/articles/{article_id}/keywords"
    body = {"keywords": ["Jasim", "shelling", " jasim "]}
    denied = web.request("PUT", path, tokens[Role.TRANSLATOR], json=body)
    assert denied.status_code == 403
    response = web.request("PUT", path, tokens[Role.EDITOR], json=body)
    assert response.status_code == 200, response.text
    [translation] = [e for e in response.json()["enrichment"] if e["subject"] == "translation"]
    assert (translation["keywords"], translation["keywords_edited"]) == (
        ["Jasim", "shelling"],
        True,
    )
    bad_bodies: list[dict[str, list[str]]] = [
        {"keywords": ["x" * 101]},
        {"keywords": ["k"] * 31},
        {"words": []},
    ]
    for bad in bad_bodies:
        refused = web.request("PUT", path, tokens[Role.EDITOR], json=bad)
        assert refused.status_code == 422, bad
        assert refused.headers["content-type"] == PROBLEM
    missing = web.request("PUT", "/api/v1/articles/999999/keywords", tokens[Role.EDITOR], json=body)
    assert missing.status_code == 404


def test_a_missing_article_is_a_404_problem(web: WebServer, tokens: dict[Role, str]) -> None:
    response = web.get("/api/v1/articles/999999", tokens[Role.EDITOR])
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "no article 999999",
    }


def test_only_admins_add_sources(web: WebServer, tokens: dict[Role, str]) -> None:
    body = {"name": "Syria Now", "url": "https://syrianow.example/feed.xml", "language": "ar"}
    for role in (Role.TRANSLATOR, Role.EDITOR):
        response = web.post("/api/v1/sources", tokens[role], json=body)
        assert response.status_code == 403
        assert "needs the admin role" in response.json()["detail"]
    created = web.post("/api/v1/sources", tokens[Role.ADMIN], json=body)
    assert created.status_code == 201
    assert created.json()["attribution"] == "Syria Now says"
    again = web.post("/api/v1/sources", tokens[Role.ADMIN], json=body)
    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "url": "ftp://x.example/feed"},
        {"name": "x", "url": "https://x.example/feed", "language": "Arabic!"},
        {"name": "", "url": "https://x.example/feed"},
        {"name": "x", "url": "https://x.example/feed", "interval_minutes": 0},
        {"name": "x", "url": "https://x.example/feed", "unexpected": True},
        {"name": "x" * 201, "url": "https://x.example/feed"},
    ],
)
def test_invalid_sources_are_422_problems(
    web: WebServer, tokens: dict[Role, str], body: dict[str, object]
) -> None:
    response = web.post("/api/v1/sources", tokens[Role.ADMIN], json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"]


def test_pause_resume_and_poll(web: WebServer, database: Database, tokens: dict[Role, str]) -> None:
    source = make_source(database)
    admin, editor = tokens[Role.ADMIN], tokens[Role.EDITOR]
    paused = web.post(f"/api/v1/sources/{source}/pause", admin, json={"reason": "outlet offline"})
    assert (paused.json()["status"], paused.json()["paused_reason"]) == ("paused", "outlet offline")
    refused = web.post(f"/api/v1/sources/{source}/poll", editor)
    assert refused.status_code == 422
    assert "paused" in refused.json()["detail"]
    assert web.post(f"/api/v1/sources/{source}/resume", admin).json()["status"] == "active"
    assert web.post(f"/api/v1/sources/{source}/poll", editor).status_code == 202
    assert web.post(f"/api/v1/sources/{source}/pause", editor).status_code == 403


def test_openapi_and_docs(web: WebServer) -> None:
    spec = web.get("/openapi.json").json()
    assert "/api/v1/articles" in spec["paths"]
    assert web.get("/docs").status_code == 200


def test_the_front_page_shows_strangers_the_way_in_and_nothing_of_the_newsroom(
    web: WebServer, database: Database
) -> None:
    make_source(database, name="Horan Free League")
    make_article(database, make_source(database))
    page = web.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Sign in to the desk" in page.text
    assert "Horan" not in page.text and "wait for a translator" not in page.text
    assert "Articles by state" not in page.text


def test_sources_are_paged_by_cursor(
    web: WebServer, database: Database, tokens: dict[Role, str]
) -> None:
    ids = [make_source(database) for _ in range(5)]
    first = web.get("/api/v1/sources", tokens[Role.EDITOR], params={"limit": 3}).json()
    second = web.get(
        "/api/v1/sources", tokens[Role.EDITOR], params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    assert [s["id"] for s in first["items"] + second["items"]] == sorted(ids, reverse=True)
    assert second["next_cursor"] is None


def test_metrics_can_require_a_token(settings: Settings) -> None:
    guarded = WebServer(replace_settings(settings, metrics_token="scrape-me")).start()
    try:
        refused = guarded.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == PROBLEM
        assert guarded.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        allowed = guarded.get("/metrics", "scrape-me")
        assert allowed.status_code == 200
        assert "crossfeed_articles" in allowed.text
    finally:
        guarded.stop()


def test_admins_update_sources(web: WebServer, database: Database, tokens: dict[Role, str]) -> None:
    source = make_source(database, "Horan")
    path = f"/api/v1/sources/{source}"
    assert (
        web.request("PATCH", path, tokens[Role.EDITOR], json={"full_text": True}).status_code == 403
    )
    pinned = web.request(
        "PATCH", path, tokens[Role.ADMIN], json={"interval_minutes": 30, "full_text": True}
    )
    assert (pinned.json()["interval_minutes"], pinned.json()["full_text"]) == (30, True)
    unpinned = web.request("PATCH", path, tokens[Role.ADMIN], json={"interval_minutes": None})
    assert unpinned.json()["interval_minutes"] is None
    assert unpinned.json()["full_text"] is True  # untouched
    bad = web.request("PATCH", path, tokens[Role.ADMIN], json={"name": None})
    assert bad.status_code == 422


def test_text_no_database_can_store_is_refused_where_it_enters(
    web: WebServer, database: Database, tokens: dict[Role, str]
) -> None:
    """NUL and lone surrogates (found by the API fuzz test) get a 422, never a 500."""
    admin = tokens[Role.ADMIN]
    nul = web.post("/api/v1/partners", admin, data='{"slug": "a", "name": "x\\u0000y"}',
                   headers={"Content-Type": "application/json"})  # fmt: skip
    assert nul.status_code == 422 and nul.json()["errors"][0]["loc"] == ["body", "name"]
    half = web.post("/api/v1/destinations", admin, headers={"Content-Type": "application/json"},
                    data='{"name": "hook", "kind": "webhook", "url": "https://a.example/",'
                    ' "config": {"\\ud800": 1}}')  # fmt: skip
    assert half.status_code == 422
    assert half.json()["errors"][0]["loc"] == ["body", "config", "\\ud800"]
    query = web.get("/api/v1/articles", admin, params={"q": "bread\x00"})
    assert query.status_code == 422 and query.json()["errors"][0]["loc"] == ["query", "q"]
    page = web.api.get("/login", params={"next": "/desk\x00"})
    assert page.status_code == 422
    form = web.api.post("/login", data={"username": "x\x00", "password": "p", "csrf": "c"})
    assert form.status_code == 422
    # Ordinary text, Arabic included, passes.
    ok = web.get("/api/v1/articles", admin, params={"q": "الخبز"})
    assert ok.status_code == 200
