"""HTML is sanitised on every path into storage, each tried with hostile markup through its
real path, and the rows read back from the database.

The paths: feed entries (RSS, Atom, JSON Feed: titles, summaries, contents, authors), full-text
article pages, WebSub pushes, translations saved through the API, and machine drafts from a
LibreTranslate server. HTML columns must hold only the allow-list (no script, style, iframe,
object, embed, SVG or MathML, no event handlers or style attributes, no javascript: or data:
URLs); text columns (titles, dek, author) no markup at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from services.poller import handlers
from services.poller.websub import ingest_pushed
from shared import websub
from shared.db import Database
from shared.domain.states import Role
from shared.http import SafeClient
from shared.models import Article, ArticleRevision, PushedDocument, Source, Translation, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import make_settings
from tests.support.factories import make_article, make_source, make_user
from tests.support.feeds import Item, atom, json_feed, rss
from tests.support.httpserver import LocalServer, Reply
from tests.support.libretranslate import LibreTranslateServer
from tests.support.web import WebServer

HOSTILE = (
    '<p onclick="alert(1)" style="position:fixed">Hello <b>world</b></p>'
    "<script>alert(2)</script>"
    '<a href="javascript:alert(3)">js</a> <a href=" JaVaScRiPt:alert(3)">js2</a>'
    '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=" onerror="alert(4)">'
    "<style>body{display:none}</style>"
    '<iframe src="https://evil.example/"></iframe><object data="https://evil.example/x.swf">'
    '</object><embed src="https://evil.example/x.swf">'
    '<svg onload="alert(5)"><script>alert(6)</script></svg>'
    '<math><mi xlink:href="javascript:alert(7)">m</mi></math>'
    '<a href="data:text/html,<script>alert(8)</script>">data</a>'
    '<form action="https://evil.example/"><input name="q"></form>'
    '<p><a href="https://ok.example/story">kept link</a></p>'
)
HOSTILE_TITLE = '<img src=x onerror="alert(9)">Title <script>alert(10)</script><b>bold</b>'
FORBIDDEN = re.compile(
    r"<\s*(script|style|iframe|object|embed|svg|math|form|input|link|meta|base)\b"
    r"|\bon[a-z]+\s*=|\bstyle\s*=|javascript:|data:|alert\(",
    re.IGNORECASE,
)


def assert_safe_html(stored: str, where: str) -> None:
    assert not FORBIDDEN.search(stored), f"{where} stored unsafe HTML: {stored!r}"


def assert_kept_the_good_parts(stored: str, where: str) -> None:
    """Sanitised, not emptied: the harmless markup and text are still there."""
    assert "<b>world</b>" in stored and "kept link" in stored, f"{where}: {stored!r}"


def assert_plain_text(stored: str | None, where: str) -> None:
    assert stored is not None
    assert "<" not in stored and "alert(" not in stored, f"{where} stored markup: {stored!r}"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only: what is stored does not depend on the backend (conftest's `database`)."""
    return sqlite_url


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str, server: LocalServer) -> Settings:
    return make_settings(tmp_path / "var", database_url=sqlite_url,
                         fetch_allowed_hosts=[server.host_port])  # fmt: skip


def poll(database: Database, settings: Settings, url: str, full_text: bool = False) -> int:
    with UnitOfWork(database) as uow:
        source = Source(name=url, url=url, language="ar", full_text=full_text,
                        next_poll_at=utcnow())  # fmt: skip
        uow.session.add(source)
        uow.commit()
        source_id = source.id
    with UnitOfWork(database) as uow:
        [lease] = handlers.take_due_sources(uow, utcnow(), settings.poll_lease_seconds, 10)
        uow.commit()
    report = handlers.poll_source(database, SafeClient(settings), settings, lease)
    assert report is not None and report.outcome == "ok", report
    return source_id


def revisions(database: Database, source_id: int) -> list[ArticleRevision]:
    with UnitOfWork(database, read_only=True) as uow:
        rows = uow.session.scalars(
            select(ArticleRevision)
            .join(Article, Article.id == ArticleRevision.article_id)
            .where(Article.source_id == source_id)
        ).all()
        for row in rows:
            uow.session.expunge(row)
        return list(rows)


@pytest.mark.parametrize("kind", ["rss", "atom", "jsonfeed"])
def test_feed_entries(database: Database, settings: Settings, server: LocalServer,
                      kind: str) -> None:  # fmt: skip
    item = Item(
        "g1",
        HOSTILE_TITLE,
        HOSTILE,
        link="https://outlet.example/1",
        author='<b onmouseover="alert(11)">Reporter</b><script>alert(12)</script>',
    )
    document = {"rss": rss, "atom": atom, "jsonfeed": json_feed}[kind]([item])
    server.route(f"/{kind}", Reply(200, document))
    [revision] = revisions(database, poll(database, settings, server.url(f"/{kind}")))
    stored = revision.content_html or revision.summary_html
    for column in (revision.summary_html, revision.content_html):
        assert_safe_html(column, f"{kind} entry")
    assert_kept_the_good_parts(stored, kind)
    assert_plain_text(revision.title, f"{kind} title")
    assert revision.title == "Title bold"
    assert_plain_text(revision.author, f"{kind} author")


def test_full_text_pages(database: Database, settings: Settings, server: LocalServer) -> None:
    page = ("<html><head><title>t</title><script>alert(13)</script></head><body><article>"
            "<h1>Headline</h1>" + HOSTILE * 3 + "</article></body></html>")  # fmt: skip
    server.route("/story", Reply(200, page.encode(), {"Content-Type": "text/html"}))
    feed = rss([Item("g1", "Title", "<p>short</p>", link=server.url("/story"))])
    server.route("/feed", Reply(200, feed))
    [revision] = revisions(database, poll(database, settings, server.url("/feed"), True))
    assert server.hits("/story")
    assert "Hello" in revision.content_html  # the page's text replaced the summary
    assert_safe_html(revision.content_html, "full-text page")


def test_websub_pushes(database: Database, settings: Settings, server: LocalServer) -> None:
    source_id = make_source(database, url=server.url("/feed"))
    with UnitOfWork(database) as uow:
        source = uow.session.get_one(Source, source_id)
        source.websub_topic, source.websub_hub = source.url, "https://hub.example/"
        form = websub.subscription_form(source, settings)
        source.websub_state = "active"
        token = source.websub_token
        uow.commit()
    body = atom([Item("p1", HOSTILE_TITLE, HOSTILE, link="https://outlet.example/p1")])
    signature = hmac.new(form["hub.secret"].encode(), body, hashlib.sha256).hexdigest()
    web = WebServer(settings).start()
    try:
        headers = {"Content-Type": "application/atom+xml", "X-Hub-Signature": f"sha256={signature}"}
        pushed = web.post(f"/websub/{token}", data=body, headers=headers)
    finally:
        web.stop()
    assert pushed.status_code == 202
    with UnitOfWork(database) as uow:
        [document_id] = uow.session.scalars(select(PushedDocument.id)).all()
        assert ingest_pushed(uow, settings, document_id) == 1
        uow.commit()
    [revision] = revisions(database, source_id)
    assert_safe_html(revision.content_html or revision.summary_html, "WebSub push")
    assert_kept_the_good_parts(revision.content_html or revision.summary_html, "WebSub push")
    assert_plain_text(revision.title, "WebSub push title")


def current_translation(database: Database, article_id: int) -> Translation:
    with UnitOfWork(database, read_only=True) as uow:
        version = uow.session.scalars(
            select(Translation).where(Translation.article_id == article_id)
            .order_by(Translation.number.desc())
        ).first()  # fmt: skip
        assert version is not None
        uow.session.expunge(version)
        return version


def test_translations_saved_through_the_api(database: Database, settings: Settings) -> None:
    token = make_user(database, "tina", Role.TRANSLATOR)[1]
    article_id = make_article(database, make_source(database))
    web = WebServer(settings).start()
    api, path = web.api.with_token(token), f"/api/v1/articles/{article_id}"
    try:
        lock = api.post(f"{path}/actions/claim", json={"lock_version": 1}).json()["lock_version"]
        saved = api.request("PUT", f"{path}/translation", json={
            "lock_version": lock, "title": HOSTILE_TITLE, "dek": HOSTILE_TITLE,
            "body_html": HOSTILE})  # fmt: skip
        assert saved.status_code == 200, saved.text
    finally:
        web.stop()
    version = current_translation(database, article_id)
    assert_safe_html(version.body_html, "saved translation")
    assert_kept_the_good_parts(version.body_html, "saved translation")
    assert_plain_text(version.title, "translation title")
    assert_plain_text(version.dek, "translation dek")


def test_machine_drafts(database: Database, settings: Settings, tmp_path: Path) -> None:
    """A LibreTranslate server answering hostile markup (it translates the text and keeps
    the markup it was given, which the factory stores unsanitised, as a bug might)."""
    translate = LibreTranslateServer().start()
    token = make_user(database, "tina", Role.TRANSLATOR)[1]
    article_id = make_article(database, make_source(database), title=HOSTILE_TITLE, body=HOSTILE)
    web = WebServer(make_settings(
        tmp_path / "var", database_url=settings.database_url, mt_provider="libretranslate",
        mt_url=translate.url(""), fetch_allowed_hosts=[translate.host_port])).start()  # fmt: skip
    api, path = web.api.with_token(token), f"/api/v1/articles/{article_id}"
    try:
        lock = api.post(f"{path}/actions/claim", json={"lock_version": 1}).json()["lock_version"]
        drafted = api.post(f"{path}/draft", json={"lock_version": lock})
        assert drafted.status_code == 200, drafted.text
    finally:
        web.stop()
        translate.stop()
    answered = json.loads(translate.hits("/translate")[0].body)["q"][1]
    assert "<script>" in answered  # the server was sent, and so answered, hostile markup
    version = current_translation(database, article_id)
    assert version.machine
    assert_safe_html(version.body_html, "machine draft")
    assert_kept_the_good_parts(version.body_html, "machine draft")
    assert_plain_text(version.title, "machine draft title")
