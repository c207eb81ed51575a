"""The desk's pages and sessions over real HTTP (the browser journeys are in tests/ui/): sign-in
and its CSRF token, the session cookie's CSRF check on the API, redirects, roles, the desk's
filters and what needs attention."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import update

from shared.db import Database
from shared.domain.states import ArticleState, DeliveryState, Role
from shared.models import Article, Delivery, Destination
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import REDIS_URL, replace_settings
from tests.support.factories import make_article, make_source, make_translation, make_user
from tests.support.web import WebServer

PASSWORD = "a long enough password"


def _signed_in(web: WebServer, username: str) -> tuple[requests.Session, str]:
    """A browser-like session signed in through the form; and the pages' CSRF token."""
    browser = requests.Session()
    form = browser.get(f"{web.url}/login", timeout=10)
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce is not None
    signed = browser.post(
        f"{web.url}/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf": nonce.group(1),
            "next": "/sources",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/sources"
    page = browser.get(f"{web.url}/desk", timeout=10)
    token = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', page.text)
    assert token is not None
    return browser, token.group(1)


def test_pages_need_a_session_and_sign_in_returns_where_you_were(
    web: WebServer, database: Database
) -> None:
    make_user(database, "tara", Role.TRANSLATOR, PASSWORD)
    for path in ("/desk", "/articles/1", "/sources", "/admin", "/desk?state=in_review"):
        answer = web.api.get(path, allow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=%2F"), path
    browser, _ = _signed_in(web, "tara")
    assert "tara" in browser.get(f"{web.url}/desk", timeout=10).text
    # Signed in, the front page is the desk.
    front = browser.get(f"{web.url}/", allow_redirects=False, timeout=10)
    assert front.status_code == 303 and front.headers["location"] == "/desk"


def test_sign_in_refuses_forged_forms_and_wrong_passwords(
    web: WebServer, database: Database
) -> None:
    make_user(database, "tara", Role.TRANSLATOR, PASSWORD)
    browser = requests.Session()
    browser.get(f"{web.url}/login", timeout=10)
    forged = browser.post(
        f"{web.url}/login",
        data={"username": "tara", "password": PASSWORD, "csrf": "guess"},
        allow_redirects=False,
    )
    assert forged.status_code == 400 and "cf_session" not in browser.cookies
    nonce = re.search(r'name="csrf" value="([^"]+)"', browser.get(f"{web.url}/login").text)
    assert nonce is not None
    wrong = browser.post(
        f"{web.url}/login",
        data={"username": "tara", "password": "not it", "csrf": nonce.group(1)},
        allow_redirects=False,
    )
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    assert "cf_session" not in browser.cookies
    # An address on another site is never where sign-in sends you.
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        page = browser.get(f"{web.url}/login", params={"next": target}, timeout=10)
        nonce = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert nonce is not None and 'name="next" value="/desk"' in page.text
        signed = browser.post(f"{web.url}/login", timeout=10, allow_redirects=False,
                              data={"username": "tara", "password": PASSWORD,
                                    "csrf": nonce.group(1), "next": target})  # fmt: skip
        assert signed.headers["location"] == "/desk"


def test_the_session_cookie_needs_the_csrf_token_to_change_anything(
    web: WebServer, database: Database
) -> None:
    make_user(database, "eddie", Role.EDITOR, PASSWORD)
    article_id = make_article(database, make_source(database))
    browser, csrf = _signed_in(web, "eddie")
    cookie = browser.cookies.get("cf_session")
    assert cookie is not None
    assert browser.get(f"{web.url}/api/v1/me", timeout=10).json()["username"] == "eddie"
    url = f"{web.url}/api/v1/articles/{article_id}/actions/claim"
    refused = browser.post(url, json={"lock_version": 1}, timeout=10)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    other = browser.post(url, json={"lock_version": 1}, headers={"X-CSRF-Token": "0" * 40})
    assert other.status_code == 403
    taken = browser.post(url, json={"lock_version": 1}, headers={"X-CSRF-Token": csrf})
    assert taken.status_code == 200 and taken.json()["state"] == ArticleState.TRANSLATING
    # A bearer token needs no CSRF token: a browser never sends one by itself.
    assert web.api.get("/api/v1/me", cookie).status_code == 200


def test_signing_out_revokes_the_token(web: WebServer, database: Database) -> None:
    make_user(database, "tara", Role.TRANSLATOR, PASSWORD)
    browser, csrf = _signed_in(web, "tara")
    cookie = browser.cookies.get("cf_session")
    out = browser.post(f"{web.url}/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "cf_session" not in browser.cookies
    assert web.api.get("/api/v1/me", cookie).status_code == 401


def test_roles_decide_what_pages_offer(web: WebServer, database: Database) -> None:
    make_user(database, "tara", Role.TRANSLATOR, PASSWORD)
    make_user(database, "ada", Role.ADMIN, PASSWORD)
    make_source(database, name="Enab Baladi")
    translator, _ = _signed_in(web, "tara")
    assert translator.get(f"{web.url}/admin", timeout=10).status_code == 403
    sources = translator.get(f"{web.url}/sources", timeout=10).text
    assert "Enab Baladi" in sources and "Poll now" not in sources and "Pause" not in sources
    admin, _ = _signed_in(web, "ada")
    assert admin.get(f"{web.url}/admin", timeout=10).status_code == 200
    sources = admin.get(f"{web.url}/sources", timeout=10).text
    assert "Poll now" in sources and "Pause" in sources
    missing = admin.get(f"{web.url}/articles/999999", timeout=10)
    assert missing.status_code == 404 and "There is no article 999999" in missing.text
    assert admin.get(f"{web.url}/articles/999999/preview", timeout=10).status_code == 404


def test_the_preview_is_the_renderers_output_with_attribution_and_disclaimer(
    web: WebServer, database: Database
) -> None:
    make_user(database, "eddie", Role.EDITOR, PASSWORD)
    article_id = make_article(database, make_source(database, name="Syria TV"))
    browser, _ = _signed_in(web, "eddie")
    assert browser.get(f"{web.url}/articles/{article_id}/preview").status_code == 404
    make_translation(database, article_id, "Shelling in Jasim",
                     body="<p>Text.</p><script>alert(1)</script>")  # fmt: skip
    page = browser.get(f"{web.url}/articles/{article_id}/preview", timeout=10).text
    assert "Shelling in Jasim, Syria TV says" in page
    assert "Responsibility for the information" in page
    assert "<script>alert(1)</script>" not in page
    article = browser.get(f"{web.url}/articles/{article_id}", timeout=10).text
    assert "<script>alert(1)</script>" not in article
    # Once translated, the desk lists the English title, the source's under it.
    desk = browser.get(f"{web.url}/desk", timeout=10).text
    assert 'lang="en">Shelling in Jasim</a>' in desk
    listed = browser.get(f"{web.url}/api/v1/articles", timeout=10).json()["items"]
    assert [a["translated_title"] for a in listed] == ["Shelling in Jasim"]


def test_the_desk_filters_and_lists_what_needs_attention(
    web: WebServer, database: Database
) -> None:
    _, token = make_user(database, "eddie", Role.EDITOR, PASSWORD)
    source = make_source(database, name="Zaman al-Wasl")
    calm = make_article(database, source, title="خبر هادئ", state=ArticleState.IN_REVIEW)
    revised = make_article(database, source, title="خبر معدل", state=ArticleState.TRANSLATING)
    failed = make_article(database, source, title="خبر منشور", state=ArticleState.PUBLISHED)
    with UnitOfWork(database) as uow:
        uow.session.execute(update(Article).where(Article.id == revised)
                            .values(source_revised=True))  # fmt: skip
        hook = Destination(name="hook", kind="webhook", url="http://127.0.0.1:9/hook")
        uow.session.add(hook)
        uow.session.flush()
        uow.session.add(Delivery(article_id=failed, revision=1, destination_id=hook.id,
                                 action="publish", state=DeliveryState.DEAD,
                                 idempotency_key=f"k-{failed}"))  # fmt: skip
        uow.commit()
    overview = web.api.get("/api/v1/desk", token).json()
    assert overview["counts"]["in_review"] == 1 and overview["counts"]["published"] == 1
    assert [w["id"] for w in overview["oldest_in_review"]] == [calm]
    assert [w["id"] for w in overview["source_revised"]] == [revised]
    assert [w["id"] for w in overview["delivery_failed"]] == [failed]
    browser, _ = _signed_in(web, "eddie")
    page = browser.get(f"{web.url}/desk", params={"flagged": "true", "source_id": ""}).text
    assert "خبر معدل" in page and "خبر هادئ" not in page.split("Needs attention")[0]
    by_state = browser.get(f"{web.url}/desk", params={"state": "in_review"}).text
    assert "خبر هادئ" in by_state.split("Needs attention")[0]
    assert "خبر منشور" not in by_state.split("Needs attention")[0]


def test_failed_sign_ins_are_limited_by_name_and_by_address(
    settings: Settings, database: Database
) -> None:
    """The form and the API count the same failures; a success is never counted."""
    make_user(database, "tara", Role.TRANSLATOR, PASSWORD)
    make_user(database, "omar", Role.TRANSLATOR, PASSWORD)
    web = WebServer(replace_settings(settings, login_rate_limit="3/minute")).start()
    try:
        assert web.post("/api/v1/login", json={"username": "tara", "password": PASSWORD}).ok
        for _ in range(3):
            wrong = web.post("/api/v1/login", json={"username": "tara", "password": "nope"})
            assert wrong.status_code == 401
        locked = web.post("/api/v1/login", json={"username": "tara", "password": PASSWORD})
        assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 60
        assert locked.json()["title"] == "Too many requests"
        # The form says so too, in words, with the same Retry-After.
        browser = requests.Session()
        nonce = re.search(r'name="csrf" value="([^"]+)"', browser.get(f"{web.url}/login").text)
        assert nonce is not None
        form = browser.post(f"{web.url}/login", allow_redirects=False, data={
            "username": "tara", "password": PASSWORD, "csrf": nonce.group(1)})  # fmt: skip
        assert form.status_code == 429 and "Too many failed sign-ins" in form.text
        assert "retry-after" in form.headers
        # This address failed three times too: another name from it waits as well.
        other = web.post("/api/v1/login", json={"username": "omar", "password": PASSWORD})
        assert other.status_code == 429
    finally:
        web.stop()


@pytest.mark.redis
def test_sign_in_failures_count_across_web_processes_on_redis(
    settings: Settings, database: Database, redis_prefix: str
) -> None:
    make_user(database, "tara", Role.TRANSLATOR, PASSWORD)
    shared = replace_settings(settings, login_rate_limit="2/minute", broker_url=REDIS_URL,
                              redis_prefix=redis_prefix)  # fmt: skip
    first, second = WebServer(shared).start(), WebServer(shared).start()
    try:
        wrong, right = (
            {"username": "tara", "password": "x"},
            {"username": "tara", "password": PASSWORD},
        )
        for web in (first, second):
            assert web.post("/api/v1/login", json=wrong).status_code == 401
        assert first.post("/api/v1/login", json=right).status_code == 429
        assert second.post("/api/v1/login", json=right).status_code == 429
    finally:
        first.stop()
        second.stop()
