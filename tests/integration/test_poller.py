"""Polling real HTTP servers into real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import undefer

from services.poller import handlers
from services.poller.ingest import ingest_feed
from shared.db import Database
from shared.domain.states import PollOutcome, SourceStatus
from shared.feeds.parse import parse_feed
from shared.http import SafeClient
from shared.models import Article, ArticleRevision, OutboxEvent, Source, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import make_settings
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ITEMS = [Item(f"guid-{n}", f"خبر رقم {n}", f"<p>نص الخبر {n}</p>") for n in range(3)]


@pytest.fixture
def poll_settings(settings: Settings, server: LocalServer) -> Settings:
    return make_settings(
        settings.data_dir,
        database_url=settings.database_url,
        fetch_allowed_hosts=[server.host_port],
        poll_max_failures=3,
    )


@pytest.fixture
def source_id(database: Database, server: LocalServer) -> int:
    with UnitOfWork(database) as uow:
        source = Source(name="Horan Today", url=server.url("/feed"), language="ar")
        uow.session.add(source)
        uow.commit()
        return source.id


Poll = Callable[[], handlers.PollReport | None]


@pytest.fixture
def poll(database: Database, poll_settings: Settings, source_id: int) -> Poll:
    client = SafeClient(poll_settings)

    def run() -> handlers.PollReport | None:
        make_due(database, source_id)
        with UnitOfWork(database) as uow:
            leases = handlers.take_due_sources(
                uow, utcnow(), poll_settings.poll_lease_seconds, poll_settings.poll_per_host
            )
            uow.commit()
        assert [lease.source_id for lease in leases] == [source_id]
        return handlers.poll_source(database, client, poll_settings, leases[0])

    return run


def make_due(database: Database, source_id: int) -> None:
    with database.session() as session:
        session.execute(update(Source).where(Source.id == source_id).values(next_poll_at=utcnow()))
        session.commit()


def source(database: Database, source_id: int) -> Source:
    with database.session() as session:
        return session.get_one(Source, source_id, options=[undefer(Source.last_failed_body)])


def events(database: Database) -> list[tuple[str, dict[str, object]]]:
    with database.session() as session:
        return [
            (e.type, e.data) for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
        ]


def articles(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Article)) or 0)


def test_new_items_are_ingested_once_with_their_events(
    database: Database, server: LocalServer, poll: Poll
) -> None:
    server.route("/feed", Reply(200, rss(ITEMS)))
    report = poll()
    assert report is not None and report.outcome == PollOutcome.OK
    assert report.ingest is not None and report.ingest.new == 3
    assert articles(database) == 3
    assert [kind for kind, _ in events(database)] == ["article.ingested"] * 3
    with database.session() as session:
        article = session.scalars(select(Article).where(Article.guid == "guid-0")).one()
        revision = session.get_one(ArticleRevision, article.current_revision_id)
    assert (revision.number, revision.title) == (1, "خبر رقم 0")
    assert article.state == "new" and article.language == "ar"
    assert article.source_published_at == dt.datetime(2025, 11, 24, 16, tzinfo=dt.UTC)

    server.route("/feed", Reply(200, rss([*ITEMS, Item("guid-9", "جديد")])))
    report = poll()
    assert report is not None and report.ingest is not None
    assert (report.ingest.new, report.ingest.unchanged) == (1, 3)
    assert articles(database) == 4


def test_conditional_get_ends_the_poll_without_parsing(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    def conditional(request: object) -> Reply:
        if getattr(request, "headers", {}).get("If-None-Match") == '"v1"':
            return Reply(304)
        return Reply(
            200, rss(ITEMS), {"ETag": '"v1"', "Last-Modified": "Mon, 24 Nov 2025 16:00:00 GMT"}
        )

    server.route("/feed", conditional)
    poll()
    report = poll()
    assert report is not None and report.outcome == PollOutcome.NOT_MODIFIED
    assert report.ingest is None
    second = server.hits("/feed")[1]
    assert second.headers["If-Modified-Since"] == "Mon, 24 Nov 2025 16:00:00 GMT"
    assert source(database, source_id).etag == '"v1"'  # kept across the 304


def test_an_unchanged_body_is_not_parsed_even_with_a_new_build_date(
    database: Database, server: LocalServer, poll: Poll
) -> None:
    server.route(
        "/feed",
        Reply(
            200,
            rss(
                ITEMS, extra_channel="<lastBuildDate>Mon, 24 Nov 2025 10:00:00 GMT</lastBuildDate>"
            ),
        ),
    )
    poll()
    server.route(
        "/feed",
        Reply(
            200,
            rss(
                ITEMS,
                extra_channel="<lastBuildDate>Tue, 25 Nov 2025 11:11:11 GMT</lastBuildDate>"
                "<!-- generated in 3 ms -->",
            ),
        ),
    )
    report = poll()
    assert report is not None and report.outcome == PollOutcome.UNCHANGED
    assert report.ingest is None
    assert len(events(database)) == 3


def test_a_changed_story_gets_a_new_revision_and_nothing_is_lost(
    database: Database, server: LocalServer, poll: Poll
) -> None:
    server.route("/feed", Reply(200, rss(ITEMS)))
    poll()
    changed = [Item("guid-0", "خبر رقم 0 (محدث)", "<p>نص معدل</p>")]  # the others left the feed
    server.route("/feed", Reply(200, rss(changed)))
    report = poll()
    assert report is not None and report.ingest is not None
    assert (report.ingest.new, report.ingest.revised) == (0, 1)
    assert articles(database) == 3  # items that left the feed are kept
    with database.session() as session:
        article = session.scalars(select(Article).where(Article.guid == "guid-0")).one()
        numbers = session.scalars(
            select(ArticleRevision.number).where(ArticleRevision.article_id == article.id)
        ).all()
        current = session.get_one(ArticleRevision, article.current_revision_id)
    assert sorted(numbers) == [1, 2]
    assert (current.number, current.title) == (2, "خبر رقم 0 (محدث)")
    kinds = [kind for kind, _ in events(database)]
    assert kinds[-1] == "article.source_revised"
    assert events(database)[-1][1]["article_id"] == article.id


def test_repeated_guids_change_the_identity_rule_and_say_why(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(200, rss([
        Item("g1", "قصة أولى", link="https://outlet.example/1"),
        Item("g2", "قصة ثانية", link="https://outlet.example/2"),
    ])))  # fmt: skip
    poll()
    assert articles(database) == 2
    # The CMS breaks: every item now carries the same guid.
    server.route("/feed", Reply(200, rss([
        Item("same", "قصة ثالثة", link="https://outlet.example/3"),
        Item("same", "قصة أولى", link="https://outlet.example/1"),
        Item("same", "قصة ثانية", link="https://outlet.example/2"),
    ])))  # fmt: skip
    report = poll()
    assert report is not None and report.ingest is not None
    assert (report.ingest.new, report.ingest.unchanged) == (1, 2)  # the old two are recognised
    assert articles(database) == 3
    changed = source(database, source_id)
    assert changed.identity_rule == "link"
    assert changed.identity_note is not None
    assert "guid 'same' is used by 3 different stories" in changed.identity_note
    assert "recognising stories by link from now on" in (changed.last_notes or "")


def test_repeated_guids_without_links_fall_back_to_content(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(200, rss([Item("same", "أ"), Item("same", "ب")])))
    poll()
    assert articles(database) == 2
    assert source(database, source_id).identity_rule == "hash"


def test_410_gone_pauses_the_source(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(410))
    poll()
    paused = source(database, source_id)
    assert paused.status == SourceStatus.PAUSED
    assert paused.paused_reason is not None and "410 Gone" in paused.paused_reason


def test_failures_back_off_then_pause_with_the_last_error(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(500))
    delays = []
    for expected_failures in (1, 2):
        before = utcnow()
        poll()
        current = source(database, source_id)
        assert current.consecutive_failures == expected_failures
        assert current.status == SourceStatus.ACTIVE
        delays.append((current.next_poll_at - before).total_seconds())
    assert delays[1] > delays[0] >= 15 * 60  # doubled from the default interval
    poll()
    paused = source(database, source_id)
    assert paused.status == SourceStatus.PAUSED
    assert paused.last_error == "HTTP 500"
    assert paused.paused_reason == "paused after 3 consecutive failures; last: HTTP 500"


def test_a_success_clears_the_failures(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(503))
    poll()
    server.route("/feed", Reply(200, rss(ITEMS)))
    poll()
    healed = source(database, source_id)
    assert (healed.consecutive_failures, healed.last_error, healed.last_outcome) == (0, None, "ok")


def test_retry_after_is_honoured(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(429, headers={"Retry-After": "7200"}))
    before = utcnow()
    poll()
    assert source(database, source_id).next_poll_at >= before + dt.timedelta(hours=2)


def test_a_parse_failure_keeps_the_body_for_debugging(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(200, b"<html><body>Site under maintenance</body></html>"))
    report = poll()
    assert report is not None and report.outcome == PollOutcome.ERROR
    failed = source(database, source_id)
    assert failed.last_error is not None and failed.last_error.startswith("cannot parse the feed")
    assert failed.last_failed_body == b"<html><body>Site under maintenance</body></html>"


def test_a_permanent_redirect_moves_the_source(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(301, headers={"Location": "/v2/feed"}))
    server.route("/v2/feed", Reply(200, rss(ITEMS)))
    poll()
    assert source(database, source_id).url == server.url("/v2/feed")


def test_a_temporary_redirect_does_not(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(302, headers={"Location": "/mirror"}))
    server.route("/mirror", Reply(200, rss(ITEMS)))
    poll()
    assert source(database, source_id).url == server.url("/feed")
    assert articles(database) == 3


def test_a_duplicated_poll_message_does_not_poll_twice(
    database: Database, server: LocalServer, poll_settings: Settings, source_id: int
) -> None:
    server.route("/feed", Reply(200, rss(ITEMS)))
    with UnitOfWork(database) as uow:
        [lease] = handlers.take_due_sources(uow, utcnow(), 600, per_host=2)
        uow.commit()
    client = SafeClient(poll_settings)
    assert handlers.poll_source(database, client, poll_settings, lease) is not None
    assert handlers.poll_source(database, client, poll_settings, lease) is None
    assert len(server.hits("/feed")) == 1


def test_a_leased_source_is_not_swept_again_until_the_lease_expires(
    database: Database, source_id: int
) -> None:
    now = utcnow()
    with UnitOfWork(database) as uow:
        assert len(handlers.take_due_sources(uow, now, 600, per_host=2)) == 1
        uow.commit()
    with UnitOfWork(database) as uow:
        assert (
            handlers.take_due_sources(uow, now + dt.timedelta(seconds=599), 600, per_host=2) == []
        )
        assert (
            len(handlers.take_due_sources(uow, now + dt.timedelta(seconds=601), 600, per_host=2))
            == 1
        )


def test_poll_now_leases_unless_a_poll_is_on_its_way(database: Database, source_id: int) -> None:
    now = utcnow()
    with UnitOfWork(database) as uow:
        first = handlers.request_poll(uow, source_id, now, 600, per_host=2)
        uow.commit()
    with UnitOfWork(database) as uow:
        second = handlers.request_poll(uow, source_id, now, 600, per_host=2)
        missing = handlers.request_poll(uow, 999_999, now, 600, per_host=2)
    assert first is not None and second is None and missing is None


def test_concurrent_ingest_of_the_same_feed_stores_each_article_once(
    database: Database, source_id: int
) -> None:
    feed = parse_feed(rss([Item(f"g{n}", f"t{n}") for n in range(20)]), "https://x.example/")
    start = threading.Barrier(4)

    def ingest() -> int:
        start.wait()
        with UnitOfWork(database) as uow:
            src = uow.session.get_one(Source, source_id)
            report = ingest_feed(uow, src, feed, utcnow())
            uow.commit()
        return report.new

    with ThreadPoolExecutor(4) as pool:
        new = list(pool.map(lambda _: ingest(), range(4)))
    assert sum(new) == 20
    assert articles(database) == 20
    assert len(events(database)) == 20


def test_a_failure_while_storing_is_recorded_and_frees_the_lease(
    database: Database,
    server: LocalServer,
    poll: Poll,
    source_id: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.route("/feed", Reply(200, rss(ITEMS)))

    def broken_ingest(*_args: object, **_kwargs: object) -> None:
        raise ValueError("a value the database refused")

    monkeypatch.setattr(handlers, "ingest_feed", broken_ingest)  # an injected fault
    report = poll()
    assert report is not None and report.outcome == PollOutcome.ERROR
    failed = source(database, source_id)
    assert failed.last_error == (
        "internal error while storing the feed (ValueError: a value the database refused)"
    )
    assert (failed.consecutive_failures, failed.poll_lease_token) == (1, None)
    assert failed.last_failed_body == rss(ITEMS)
    assert articles(database) == 0 and events(database) == []
    monkeypatch.undo()
    poll()
    assert articles(database) == 3  # the next poll stores it


def test_over_long_validators_are_not_stored(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route(
        "/feed", Reply(200, rss(ITEMS), {"ETag": '"' + "e" * 600 + '"', "Last-Modified": "x" * 200})
    )
    report = poll()
    assert report is not None and report.outcome == PollOutcome.OK
    stored = source(database, source_id)
    assert (stored.etag, stored.last_modified) == (None, None)
    assert articles(database) == 3


def test_a_permanent_redirect_to_an_error_does_not_move_the_source(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(301, headers={"Location": "/gone"}))
    server.route("/gone", Reply(404))
    poll()
    assert source(database, source_id).url == server.url("/feed")
    server.route("/gone", Reply(200, b"<html>not a feed</html>"))
    poll()
    assert source(database, source_id).url == server.url("/feed")
    server.route("/gone", Reply(200, rss(ITEMS)))
    poll()
    moved = source(database, source_id)
    assert (moved.url, moved.previous_url) == (server.url("/gone"), server.url("/feed"))


def published_items(count: int, every: dt.timedelta) -> list[Item]:
    now = time.time()
    return [
        Item(f"g{n}", f"خبر {n}", published=now - n * every.total_seconds()) for n in range(count)
    ]


def test_the_interval_adapts_to_how_often_the_outlet_publishes(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    # 42 stories a week (one every 4 hours): 10080 / (42 x 3) = 80 minutes.
    server.route("/feed", Reply(200, rss(published_items(42, dt.timedelta(hours=4)))))
    before = utcnow()
    poll()
    delay = (source(database, source_id).next_poll_at - before).total_seconds() / 60
    assert 79 <= delay <= 81


def test_a_quiet_outlet_is_polled_at_the_maximum_interval(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    # Nothing published in the last week (the newest story is nine days old).
    old = [Item(f"g{n}", f"خبر {n}", published=time.time() - (9 + n) * 86400) for n in range(3)]
    server.route("/feed", Reply(200, rss(old)))
    before = utcnow()
    poll()
    delay = (source(database, source_id).next_poll_at - before).total_seconds() / 60
    assert 239 <= delay <= 241  # the maximum, 240 minutes


def test_cache_control_max_age_is_a_floor(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    server.route("/feed", Reply(200, rss(ITEMS), {"Cache-Control": "public, max-age=7200"}))
    before = utcnow()
    poll()
    assert source(database, source_id).next_poll_at >= before + dt.timedelta(hours=2)


def test_a_pinned_interval_wins(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    with database.session() as session:
        session.execute(update(Source).values(interval_minutes=7))
        session.commit()
    server.route("/feed", Reply(200, rss(published_items(42, dt.timedelta(hours=4)))))
    before = utcnow()
    poll()
    delay = (source(database, source_id).next_poll_at - before).total_seconds() / 60
    assert 6.9 <= delay <= 7.1


def test_polls_of_one_host_are_limited(database: Database) -> None:
    with UnitOfWork(database) as uow:
        for n in range(5):
            uow.session.add(
                Source(name=f"Same host {n}", url=f"https://one.example/{n}.xml", language="ar")
            )
        uow.session.add(Source(name="Other host", url="https://two.example/feed", language="ar"))
        uow.session.add(
            Source(name="Other port", url="https://one.example:8443/feed", language="ar")
        )
        uow.commit()
    now = utcnow()
    with UnitOfWork(database) as uow:
        leases = handlers.take_due_sources(uow, now, 600, per_host=2)
        uow.commit()
    with database.session() as session:
        hosts = Counter(
            session.scalar(select(Source.host).where(Source.id == lease.source_id))
            for lease in leases
        )
    assert hosts == {"one.example": 2, "two.example": 1, "one.example:8443": 1}
    with UnitOfWork(database) as uow:
        assert handlers.take_due_sources(uow, now, 600, per_host=2) == []  # still busy
        waiting = uow.session.scalar(select(Source.id).where(Source.name == "Same host 4"))
        assert waiting is not None
        assert handlers.request_poll(uow, waiting, now, 600, per_host=2) is None


def test_a_huge_feed_is_read_up_to_the_cap(
    database: Database, server: LocalServer, settings: Settings, source_id: int
) -> None:
    capped = make_settings(
        settings.data_dir,
        database_url=settings.database_url,
        fetch_allowed_hosts=[server.host_port],
        poll_max_entries=50,
    )
    server.route("/feed", Reply(200, rss([Item(f"g{n}", f"t{n}") for n in range(2000)])))
    make_due(database, source_id)
    with UnitOfWork(database) as uow:
        [lease] = handlers.take_due_sources(uow, utcnow(), 600, per_host=2)
        uow.commit()
    report = handlers.poll_source(database, SafeClient(capped), capped, lease)
    assert report is not None and report.ingest is not None and report.ingest.new == 50
    assert (
        source(database, source_id).last_notes == "the feed lists 2,000 entries; read the first 50"
    )


def test_a_wrongly_declared_encoding_is_read_and_noted(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    body = rss([Item("g", "انقطاع المياه في جاسم")]).decode().encode("cp1256")
    server.route("/feed", Reply(200, body, {"Content-Type": "application/rss+xml; charset=utf-8"}))
    poll()
    with database.session() as session:
        title = session.scalar(select(ArticleRevision.title))
    assert title == "انقطاع المياه في جاسم"
    assert source(database, source_id).last_notes == "encoding: declared utf-8; read as cp1256"


def poll_revised(database: Database) -> int:
    """Source revisions beyond each article's first."""
    with database.session() as session:
        return int(session.scalar(select(func.count()).where(ArticleRevision.number > 1)) or 0)


ARTICLE_PAGE = (CORPUS / "pages" / "jasim-water.html").read_text(encoding="utf-8")


def test_a_full_text_source_gets_the_article_page(
    database: Database, server: LocalServer, poll: Poll, source_id: int
) -> None:
    with database.session() as session:
        session.execute(update(Source).values(full_text=True))
        session.commit()
    server.route(
        "/story/1", Reply(200, ARTICLE_PAGE.encode("cp1256"), {"Content-Type": "text/html"})
    )
    server.route("/story/2", Reply(404))
    server.route("/feed", Reply(200, rss([
        Item("g1", "انقطاع المياه في جاسم", "<p>ملخص قصير</p>", server.url("/story/1")),
        Item("g2", "قصة أخرى", "<p>ملخص آخر</p>", server.url("/story/2")),
    ])))  # fmt: skip
    poll()
    with database.session() as session:
        bodies = dict(
            session.execute(select(ArticleRevision.title, ArticleRevision.content_html)).all()
        )
    assert "ثلاثة أيام بسبب أعطال" in bodies["انقطاع المياه في جاسم"]
    assert "اتصل بنا" not in bodies["انقطاع المياه في جاسم"]  # navigation left out
    assert "جميع الحقوق" not in bodies["انقطاع المياه في جاسم"]  # and the footer
    assert "<p>" in bodies["انقطاع المياه في جاسم"]
    assert bodies["قصة أخرى"] == ""  # the page failed: the summary stays (in summary_html)
    assert source(database, source_id).last_notes == "full text: 1 of 2 article pages unreadable"
    poll()  # stories already stored are not fetched again
    assert len(server.hits("/story/1")) == 1
    # The feed changes elsewhere (a new story): the stored ones, whose text came from their
    # pages, are not "revised" back to the feed's summary.
    server.route("/story/3", Reply(404))
    server.route("/feed", Reply(200, rss([
        Item("g3", "قصة ثالثة", "<p>ملخص ثالث</p>", server.url("/story/3")),
        Item("g1", "انقطاع المياه في جاسم", "<p>ملخص قصير</p>", server.url("/story/1")),
        Item("g2", "قصة أخرى", "<p>ملخص آخر</p>", server.url("/story/2")),
    ])))  # fmt: skip
    report = poll()
    assert report is not None and report.ingest is not None
    assert (report.ingest.new, report.ingest.revised, poll_revised(database)) == (1, 0, 0)
