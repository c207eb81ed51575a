"""Partner feeds served by the real web app: formats that parse (feedparser, newsboat, NINJS
2.1's rules), tokens, filters, caching, corrections, withdrawals and paging."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import feedparser
import pytest
import requests
from lxml import etree
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from services.enricher.handlers import enrich_translation, tools
from services.publisher import handlers
from shared.admin.partners import PartnerCreate, PartnerFilters, add_partner
from shared.db import Database, exclusive
from shared.domain import workflow as wf
from shared.domain.states import Role
from shared.editorial.actions import TranslationInput
from shared.http import SafeClient
from shared.models import Article, FeedDocument
from shared.publishing import feeds, ledger
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import replace_settings
from tests.integration.test_publishing import _plan_from_outbox
from tests.support import ninjs
from tests.support.factories import Newsroom, make_article, make_source, make_user
from tests.support.httpserver import LocalServer, Reply
from tests.support.wait import wait_for
from tests.support.web import WebServer

FILES = ("rss.xml", "atom.xml", "feed.json", "ninjs.json")


@pytest.fixture
def feeds_settings(settings: Settings) -> Settings:
    # No in-memory cache: each request sees the change the test just made.
    return replace_settings(settings, site_url="https://news.example", feed_page_size=3,
                            feeds_cache_seconds=0)  # fmt: skip


@pytest.fixture
def web(feeds_settings: Settings) -> Iterator[WebServer]:
    server = WebServer(feeds_settings).start()
    yield server
    server.stop()


def _partner(database: Database, slug: str, **filters: Any) -> str:
    with UnitOfWork(database) as uow:
        _, token = add_partner(uow, PartnerCreate(slug=slug, name=slug.title(),
                                                  filters=PartnerFilters(**filters)))  # fmt: skip
        uow.commit()
        return token


def _publish(database: Database, settings: Settings, newsroom: Newsroom, title: str,
             source: str | None = None, body: str = "<p>In Jasim, Daraa.</p>") -> int:  # fmt: skip
    """Publish a story from its own outlet (named `source`, or after the story)."""
    article_id = make_article(database, make_source(database, name=source or f"Outlet: {title}"))
    newsroom.publish(article_id, title=title, body=body)
    _changed(database, settings)
    return article_id


def _changed(database: Database, settings: Settings) -> None:
    """What the publisher does on each public change: plan, and render the stale feeds."""
    _plan_from_outbox(database, settings)
    handlers.refresh_feeds(database, settings, None)


def _get(web: WebServer, slug: str, file: str, token: str, **headers: str) -> requests.Response:
    return web.api.get(f"/feeds/{slug}/{file}", token, headers=headers, timeout=30)


def test_every_format_parses_and_carries_the_article(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    token = _partner(database, "enab")
    newsroom = Newsroom(database, feeds_settings)
    article_id = _publish(database, feeds_settings, newsroom, "Shelling kills two in Jasim")
    rss = _get(web, "enab", "rss.xml", token)
    assert rss.status_code == 200 and rss.headers["content-type"].startswith("application/rss+xml")
    for file in ("rss.xml", "atom.xml"):  # feedparser 6.0 reads no JSON Feed: checked below
        parsed = feedparser.parse(_get(web, "enab", file, token).content)
        assert not parsed.bozo, (file, parsed.get("bozo_exception"))
        [entry] = parsed.entries
        assert entry.title == "Shelling kills two in Jasim"
        assert entry.link == f"https://news.example/shelling-kills-two-in-jasim-{article_id}/"
        assert entry.id.startswith("urn:uuid:")
        assert "Responsibility for the information" in entry.content[0].value
    channel = etree.fromstring(rss.content).find("channel")
    assert channel is not None
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    assert self_link is not None and self_link.get("rel") == "self"
    item = channel.find("item")
    assert item is not None
    tags = [child.tag for child in item]
    description = tags.index("description")
    assert description < tags.index("{http://purl.org/rss/1.0/modules/content/}encoded")
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator")
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    jsonfeed = _get(web, "enab", "feed.json", token).json()
    assert jsonfeed["version"] == "https://jsonfeed.org/version/1.1"
    assert {"title", "home_page_url", "feed_url", "items"} <= set(jsonfeed)
    [item_] = jsonfeed["items"]
    assert {"id", "url", "title", "content_html", "date_published", "date_modified"} <= set(item_)
    assert "says" in item_["content_html"] and "Responsibility" in item_["content_html"]
    for news_item in _get(web, "enab", "ninjs.json", token).json()["items"]:
        ninjs.validate(news_item)


def test_a_real_reader_reads_the_feeds(
    database: Database, feeds_settings: Settings, web: WebServer, tmp_path: Path
) -> None:
    token = _partner(database, "reader")
    newsroom = Newsroom(database, feeds_settings)
    for n in range(2):
        _publish(database, feeds_settings, newsroom, f"Story number {n} from Daraa")
    for file in ("rss.xml", "atom.xml"):
        urls = tmp_path / f"{file}.urls"
        urls.write_text(f"{web.url}/feeds/reader/{file}?token={token}\n")
        cache = tmp_path / f"{file}.db"
        subprocess.run(
            ["newsboat", "-x", "reload", "-u", str(urls), "-c", str(cache), "-C", "/dev/null"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with sqlite3.connect(cache) as db:
            titles = sorted(t for (t,) in db.execute("SELECT title FROM rss_item"))
        assert titles == ["Story number 0 from Daraa", "Story number 1 from Daraa"], file


def test_tokens_open_their_own_partners_feeds_only(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    mine = _partner(database, "mine")
    theirs = _partner(database, "theirs")
    _publish(database, feeds_settings, Newsroom(database, feeds_settings), "A story")
    assert _get(web, "mine", "rss.xml", mine).status_code == 200
    by_query = web.api.get(f"/feeds/mine/atom.xml?token={mine}")
    assert by_query.status_code == 200
    for file in FILES:
        assert _get(web, "mine", file, theirs).status_code == 401
        assert web.api.get(f"/feeds/mine/{file}").status_code == 401
        assert _get(web, "mine", file, "cfp_forged").status_code == 401
    assert _get(web, "mine", "other.xml", mine).status_code == 404


def test_feed_answers_speak_http_like_the_api(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    token = _partner(database, "http")
    _publish(database, feeds_settings, Newsroom(database, feeds_settings), "A story")
    full = _get(web, "http", "rss.xml", token)
    head = web.api.request("HEAD", "/feeds/http/rss.xml", token)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["etag"] == full.headers["etag"]
    posted = web.api.post("/feeds/http/rss.xml", token)
    assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"
    for path in ("/feeds/http", "/feeds/http/", "/feeds/http/rss.xml/more", "/feeds//rss.xml"):
        missing = web.api.get(path, token)
        assert missing.status_code == 404, path
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["status"] == 404
    refused = web.api.get("/feeds/http/rss.xml")
    assert refused.json() == {"type": "about:blank", "title": "a feed token is needed",
                              "status": 401}  # fmt: skip
    assert refused.headers["www-authenticate"] == "Bearer"
    counted = web.get("/metrics").text
    assert 'route="/feeds/{slug}/{file}",status="200"' in counted
    assert 'route="/feeds/{slug}/{file}",status="405"' in counted
    # The rest of the app is untouched by the feed server in front of it.
    assert "server-timing" in web.get("/healthz").headers


def test_drafts_and_withdrawn_articles_stay_out(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    token = _partner(database, "desk")
    newsroom = Newsroom(database, feeds_settings)
    draft = make_article(database, make_source(database))
    newsroom.approve(draft, "Approved but not published", "<p>x</p>")
    _publish(database, feeds_settings, newsroom, "Kept story")
    gone = _publish(database, feeds_settings, newsroom, "Withdrawn story")
    newsroom.withdraw(gone)
    _changed(database, feeds_settings)
    for file in ("rss.xml", "atom.xml"):
        titles = [e.title for e in feedparser.parse(_get(web, "desk", file, token).content).entries]
        assert titles == ["Kept story"], file
    items = _get(web, "desk", "feed.json", token).json()["items"]
    assert [i["title"] for i in items] == ["Kept story"]
    items = _get(web, "desk", "ninjs.json", token).json()["items"]
    status = {item["headlines"][0]["value"]: item["pubstatus"] for item in items}
    assert status == {"Kept story": "usable", "Withdrawn story": "canceled"}
    canceled = next(i for i in items if i["pubstatus"] == "canceled")
    assert "bodies" not in canceled
    for item in items:
        ninjs.validate(item)


def test_a_correction_keeps_the_id_and_bumps_updated(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    token = _partner(database, "wire")
    newsroom = Newsroom(database, feeds_settings)
    article_id = _publish(database, feeds_settings, newsroom, "Two killed")
    before = feedparser.parse(_get(web, "wire", "atom.xml", token).content).entries[0]
    newsroom.correct(article_id, "Three killed", "<p>Three.</p>")
    _changed(database, feeds_settings)
    after = feedparser.parse(_get(web, "wire", "atom.xml", token).content).entries[0]
    assert after.id == before.id and after.link == before.link
    assert after.title == "Three killed"
    assert dt.datetime.fromisoformat(after.updated) > dt.datetime.fromisoformat(before.updated)
    item = _get(web, "wire", "ninjs.json", token).json()["items"][0]
    assert (item["version"], item["pubstatus"]) == ("2", "usable")


def test_a_correction_drafts_metadata_never_reaches_partners(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    """While a correction is under way the enricher describes the draft for the desk, and
    partners still get the public version's tags, places and categories, their filters judging
    that version (found by tests/integration/test_partner_exposure.py)."""
    daraa = _partner(database, "daraa", places=["daraa"])
    homs = _partner(database, "homs", places=["homs"])
    newsroom = Newsroom(database, feeds_settings)
    article_id = make_article(database, make_source(database, name="Syria TV"))

    def enriched() -> None:  # what the enricher does after each save, then the publisher
        with UnitOfWork(database) as uow:
            enrich_translation(uow, article_id, tools())
            uow.commit()
        _changed(database, feeds_settings)

    def items(slug: str, token: str) -> list[dict[str, Any]]:
        return list(_get(web, slug, "feed.json", token).json()["items"])

    def bodies(slug: str, token: str) -> str:
        return "".join(_get(web, slug, file, token).text for file in FILES)

    newsroom.approve(article_id, "Bread prices in Daraa", "<p>Bread prices rose in Daraa.</p>")
    enriched()
    newsroom.act(article_id, newsroom.editor, wf.Action.PUBLISH)
    _changed(database, feeds_settings)
    assert [i["title"] for i in items("daraa", daraa)] == ["Bread prices in Daraa"]
    newsroom.act(article_id, newsroom.editor, wf.Action.CORRECT, note="wrong town")
    draft = TranslationInput("Shelling in Homs", "", "<p>Shelling killed civilians in Homs.</p>")
    newsroom.act(article_id, newsroom.editor, wf.Action.SAVE, draft)
    enriched()
    [item] = items("daraa", daraa)
    assert item["title"] == "Bread prices in Daraa" and "Daraa" in item["tags"]
    assert item["_crossfeed"]["places"] == ["Daraa"]
    for word in ("Homs", "Shelling", "Security"):
        assert word not in bodies("daraa", daraa), word
    assert items("homs", homs) == []

    newsroom.act(article_id, newsroom.editor, wf.Action.APPROVE)  # the draft goes out now
    _changed(database, feeds_settings)
    assert items("daraa", daraa) == []
    [item] = items("homs", homs)
    assert item["title"] == "Shelling in Homs" and "Security" in item["tags"]
    # A correction saved with the same text is described as its own version.
    newsroom.act(article_id, newsroom.editor, wf.Action.CORRECT, note="again")
    newsroom.act(article_id, newsroom.editor, wf.Action.SAVE, draft)
    enriched()
    newsroom.act(article_id, newsroom.editor, wf.Action.APPROVE)
    _changed(database, feeds_settings)
    [item] = items("homs", homs)
    assert item["_crossfeed"]["revision"] == 3 and item["_crossfeed"]["places"] == ["Homs"]


def test_unchanged_feeds_answer_304_and_a_change_changes_the_etag(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    token = _partner(database, "cache")
    newsroom = Newsroom(database, feeds_settings)
    _publish(database, feeds_settings, newsroom, "First")
    first = _get(web, "cache", "rss.xml", token)
    assert "max-age" in first.headers["cache-control"]
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert _get(web, "cache", "rss.xml", token, **{"If-None-Match": etag}).status_code == 304
    assert (
        _get(web, "cache", "rss.xml", token, **{"If-Modified-Since": modified}).status_code == 304
    )
    handlers.refresh_feeds(database, feeds_settings, None)  # nothing changed: same bytes
    assert _get(web, "cache", "rss.xml", token).headers["etag"] == etag
    _publish(database, feeds_settings, newsroom, "Second")
    second = _get(web, "cache", "rss.xml", token, **{"If-None-Match": etag})
    assert second.status_code == 200 and second.headers["etag"] != etag


def test_a_refresh_asked_for_while_another_renders_returns_at_once(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    """It does not hold a publisher process waiting: the one rendering looks again before it
    ends, and the beat's sweep asks again for whatever is still stale."""
    token = _partner(database, "busy")
    newsroom = Newsroom(database, feeds_settings)
    _publish(database, feeds_settings, newsroom, "First")
    etag = _get(web, "busy", "feed.json", token).headers["etag"]
    second = make_article(database, make_source(database, name="Outlet: Second"))
    newsroom.publish(second, title="Second")
    _plan_from_outbox(database, feeds_settings)  # planned: the feeds are stale, not rendered
    with exclusive(database, "feeds-refresh") as mine:  # another refresh is rendering
        assert mine
        assert handlers.refresh_feeds(database, feeds_settings, None) == 0
        with UnitOfWork(database, read_only=True) as uow:
            assert feeds.any_stale(uow.session)  # left for the one rendering, untouched
    assert handlers.refresh_feeds(database, feeds_settings, None) == 4
    answer = _get(web, "busy", "feed.json", token)
    assert answer.headers["etag"] != etag and "Second" in answer.text


def test_a_publication_asks_for_a_refresh_even_when_the_feeds_are_already_stale(
    database: Database, feeds_settings: Settings
) -> None:
    """The enricher and keyword edits mark documents stale without asking for a refresh; a
    publication that finds them so must still ask, or partners wait for the beat's sweep."""
    _partner(database, "asks")
    newsroom = Newsroom(database, feeds_settings)
    article_id = _publish(database, feeds_settings, newsroom, "First")  # rendered: fresh
    with UnitOfWork(database) as uow:
        feeds.mark_stale(uow.session)  # as the enricher does after enriching it
        planned = handlers.plan(uow, feeds_settings, article_id, 1, ledger.Action.PUBLISH)
        uow.commit()
    assert planned.refresh_feeds


def test_a_refresh_commits_each_document_as_it_is_rendered(
    database: Database, feeds_settings: Settings
) -> None:
    """Partners see each document once it is rendered, and a refresh never holds one
    document's row lock while it writes the next (held to its end, they deadlocked with the
    publications' and the enricher's `mark_stale`, and the whole refresh was thrown away)."""
    _partner(database, "steps")
    newsroom = Newsroom(database, feeds_settings)
    _publish(database, feeds_settings, newsroom, "First")
    second = make_article(database, make_source(database, name="Outlet: Second"))
    newsroom.publish(second, title="Second")
    _plan_from_outbox(database, feeds_settings)  # planned: the feeds are stale, not rendered
    seen: list[int] = []  # after each commit, how many documents a partner would see it in

    def look(_session: Session) -> None:
        with UnitOfWork(database, read_only=True) as other:  # reads only: never commits
            bodies = other.session.scalars(select(FeedDocument.body))
            seen.append(sum(b"Second" in body for body in bodies))

    event.listen(Session, "after_commit", look)
    try:
        assert handlers.refresh_feeds(database, feeds_settings, None) == len(FILES)
    finally:
        event.remove(Session, "after_commit", look)
    assert {1, 2, 3, 4} <= set(seen)  # one more document visible after each


def test_filters_choose_what_a_partner_gets(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    homs = _partner(database, "homs-only", places=["homs"])
    outlet = _partner(database, "enab-only", sources=["enab baladi"])
    idlib = _partner(database, "idlib-only", places=["idlib"])
    everything = _partner(database, "everything")
    newsroom = Newsroom(database, feeds_settings)
    _publish(database, feeds_settings, newsroom, "Daraa story", source="Syria TV",
             body="<p>Shelling hit Jasim in Daraa.</p>")  # fmt: skip
    _publish(database, feeds_settings, newsroom, "Bread story", source="Enab Baladi",
                          body="<p>Bread prices rose in Homs.</p>")  # fmt: skip
    _publish(database, feeds_settings, newsroom, "Idlib story", source="Orient",
             body="<p>Bread prices rose in Idlib.</p>")  # fmt: skip
    with UnitOfWork(database) as uow:  # the enricher's places, as its worker stores them
        for article_id in uow.session.scalars(select(Article.id)):
            enrich_translation(uow, article_id, tools())
        feeds.mark_stale(uow.session)
        uow.commit()
    handlers.refresh_feeds(database, feeds_settings, None)  # one refresh renders them all

    def titles(slug: str, file: str, token: str) -> list[str]:
        return [e.title for e in feedparser.parse(_get(web, slug, file, token).content).entries]

    assert titles("homs-only", "rss.xml", homs) == ["Bread story"]
    assert titles("enab-only", "atom.xml", outlet) == ["Bread story"]
    assert titles("idlib-only", "rss.xml", idlib) == ["Idlib story"]
    assert sorted(titles("everything", "atom.xml", everything)) == [
        "Bread story",
        "Daraa story",
        "Idlib story",
    ]


def test_older_items_are_on_the_next_pages(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    token = _partner(database, "pages")
    newsroom = Newsroom(database, feeds_settings)
    for n in range(7):  # three per page
        _publish(database, feeds_settings, newsroom, f"Story {n}")
    for file in ("atom.xml", "feed.json", "rss.xml"):
        seen: list[str] = []
        url: str | None = f"/feeds/pages/{file}"
        while url:
            response = web.api.get(url, token)
            assert response.status_code == 200, response.text
            if file == "feed.json":
                body = response.json()
                seen += [i["title"] for i in body["items"]]
                url = body.get("next_url")
            else:
                parsed = feedparser.parse(response.content)
                seen += [e.title for e in parsed.entries]
                url = next((link.href for link in parsed.feed.get("links", [])
                            if link.rel == "next"), None)  # fmt: skip
            if url:
                url = url.removeprefix(feeds_settings.public_url)
        assert seen == [f"Story {n}" for n in reversed(range(7))], file


def test_feeds_advertise_the_hub_and_the_publisher_pings_it(
    database: Database, feeds_settings: Settings, server: LocalServer
) -> None:
    server.route("/hub", Reply(204))
    settings = replace_settings(feeds_settings, feeds_websub_hub=server.url("/hub"),
                                fetch_allowed_hosts=[server.host_port])  # fmt: skip
    web = WebServer(settings).start()
    client = SafeClient(settings)
    try:
        token = _partner(database, "pushed")
        article_id = make_article(database, make_source(database))
        Newsroom(database, settings).publish(article_id, title="Pushed story")
        _plan_from_outbox(database, settings)
        with UnitOfWork(database) as uow:  # the partner's documents exist before the change
            feeds.refresh(uow.session, settings)
            uow.commit()
        Newsroom(database, settings).correct(article_id, "Pushed story, corrected", "<p>x</p>")
        _plan_from_outbox(database, settings)
        assert handlers.refresh_feeds(database, settings, client) == 4
        pinged = sorted(parse_qs(r.body.decode())["hub.url"][0] for r in server.hits("/hub"))
        assert pinged == sorted(f"{settings.public_url}/feeds/pushed/{f}" for f in FILES)
        rss = etree.fromstring(_get(web, "pushed", "rss.xml", token).content)
        hubs = rss.findall("channel/{http://www.w3.org/2005/Atom}link[@rel='hub']")
        assert [h.get("href") for h in hubs] == [server.url("/hub")]
        assert _get(web, "pushed", "feed.json", token).json()["hubs"][0]["url"] == server.url(
            "/hub"
        )
    finally:
        client.close()
        web.stop()


def test_a_cached_feed_is_served_from_memory_and_refreshed_after_its_time(
    database: Database, feeds_settings: Settings
) -> None:
    settings = replace_settings(feeds_settings, feeds_cache_seconds=0.5)
    web = WebServer(settings).start()
    try:
        token = _partner(database, "cached")
        newsroom = Newsroom(database, settings)
        _publish(database, settings, newsroom, "First")
        etag = _get(web, "cached", "atom.xml", token).headers["etag"]
        _publish(database, settings, newsroom, "Second")
        wait_for(
            lambda: _get(web, "cached", "atom.xml", token).headers["etag"] != etag,
            timeout=10, what="the new document after the cache's half second",
        )  # fmt: skip
        titles = [
            e.title
            for e in feedparser.parse(_get(web, "cached", "atom.xml", token).content).entries
        ]
        assert titles == ["Second", "First"]
    finally:
        web.stop()


@pytest.mark.parametrize("before", ["1e20:1", "1:99999999999999999999999", "x", ":", "1:-5"])
def test_a_bad_page_cursor_is_the_first_page_not_an_error(
    database: Database, feeds_settings: Settings, web: WebServer, before: str
) -> None:
    token = _partner(database, "cursor")
    _publish(database, feeds_settings, Newsroom(database, feeds_settings), "A story")
    answer = web.api.get(f"/feeds/cursor/rss.xml?before={before}", token)
    assert answer.status_code == 200
    assert [e.title for e in feedparser.parse(answer.content).entries] == ["A story"]


def test_admins_change_filters_rotate_tokens_and_switch_partners_off(
    database: Database, feeds_settings: Settings, web: WebServer
) -> None:
    old = _partner(database, "managed")
    admin = web.api.with_token(make_user(database, "feeds-admin", Role.ADMIN)[1])
    newsroom = Newsroom(database, feeds_settings)
    _publish(database, feeds_settings, newsroom, "Daraa story", source="Syria TV")
    _publish(database, feeds_settings, newsroom, "Idlib story", source="Orient")

    def titles(token: str) -> list[str]:
        answer = _get(web, "managed", "atom.xml", token)
        assert answer.status_code == 200, answer.text
        return [e.title for e in feedparser.parse(answer.content).entries]

    assert titles(old) == ["Idlib story", "Daraa story"]
    changed = admin.request("PATCH", "/api/v1/partners/managed",
                            json={"filters": {"sources": ["orient"]}})  # fmt: skip
    assert changed.status_code == 200 and changed.json()["filters"] == {"sources": ["orient"]}
    assert titles(old) == ["Idlib story"]
    rotated = admin.post("/api/v1/partners/managed/token")
    assert rotated.status_code == 200
    new = rotated.json()["token"]
    assert _get(web, "managed", "atom.xml", old).status_code == 401
    assert titles(new) == ["Idlib story"]
    off = admin.request("PATCH", "/api/v1/partners/managed", json={"active": False})
    assert off.status_code == 200
    assert _get(web, "managed", "atom.xml", new).status_code == 401
    missing = admin.request("PATCH", "/api/v1/partners/ghost", json={"active": False})
    assert missing.status_code == 404
    translator = make_user(database, "feeds-translator", Role.TRANSLATOR)[1]
    assert web.api.post("/api/v1/partners/managed/token", translator).status_code == 403


def test_a_partner_polling_too_fast_is_told_to_wait(
    database: Database, feeds_settings: Settings
) -> None:
    limited = WebServer(replace_settings(feeds_settings, feeds_rate_limit="3/minute")).start()
    try:
        eager = _partner(database, "eager")
        calm = _partner(database, "calm")
        _publish(database, feeds_settings, Newsroom(database, feeds_settings), "A story")
        answers = [_get(limited, "eager", "rss.xml", eager).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        refused = _get(limited, "eager", "atom.xml", eager)  # every format counts
        assert refused.status_code == 429 and 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.json()["title"] == "too many requests for this partner's feeds"
        assert _get(limited, "calm", "rss.xml", calm).status_code == 200  # its own count
    finally:
        limited.stop()
