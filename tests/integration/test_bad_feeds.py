"""Hostile and broken feeds (tests/corpus/feeds) through the real poll path.

Each gets a recorded error or a bounded, sanitised ingest; none raises, fetches anything, or
stops the good source beside it from being polled. A real worker then polls them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from services.poller import handlers
from shared.db import Database
from shared.domain.states import PollOutcome, SourceStatus
from shared.http import SafeClient
from shared.models import Article, ArticleRevision, Source, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import make_settings, settings_env
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply
from tests.support.processes import Processes
from tests.support.wait import wait_for

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "feeds"
GOOD = rss([Item("urn:good:1", "خبر سليم"), Item("urn:good:2", "خبر سليم آخر")])


def deep_xml() -> bytes:
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        b"<title>deep</title><guid>urn:deep</guid>" + b"<x>" * 100_000 + b"</x>" * 100_000
        + b"</item></channel></rss>"
    )  # fmt: skip


def deep_html() -> bytes:
    return rss([Item("urn:deep-html", "عميق", "<div>" * 100_000 + "نص")])


def huge_feed() -> bytes:
    return rss([Item(f"urn:{n}", f"t{n}") for n in range(20_000)])


def huge_title() -> bytes:
    return rss([Item("urn:long", "ع" * 2_000_000)])


@dataclass(frozen=True)
class Case:
    body: Callable[[LocalServer], bytes]
    outcome: PollOutcome
    error: str | None = None  # substring of the recorded error
    titles: tuple[str, ...] | None = None  # what was stored, when anything is


def corpus(name: str) -> Callable[[LocalServer], bytes]:
    def body(server: LocalServer) -> bytes:
        return (CORPUS / name).read_bytes().replace(b"{PORT}", str(server.port).encode())

    return body


CASES = {
    "malformed": Case(corpus("malformed.xml"), PollOutcome.OK, titles=("خبر رقم 1", "")),
    "html page": Case(corpus("html-page.html"), PollOutcome.ERROR, "serves a web page"),
    "empty": Case(corpus("empty.xml"), PollOutcome.ERROR, "empty document"),
    "whitespace": Case(corpus("whitespace-only.xml"), PollOutcome.ERROR, "empty document"),
    "truncated": Case(
        corpus("truncated.xml"), PollOutcome.OK, titles=("خبر رقم 1", "خبر رقم 2", "خبر رقم 3")
    ),
    "entity bomb": Case(corpus("entity-bomb.xml"), PollOutcome.OK, titles=("&lol9;",)),
    "external entity, file": Case(
        corpus("external-entity-file.xml"), PollOutcome.OK, titles=("leak:",)
    ),
    "external entity, http": Case(
        corpus("external-entity-http.xml"), PollOutcome.OK, titles=("remote:",)
    ),
    "binary": Case(corpus("binary.bin"), PollOutcome.ERROR, "not an RSS or Atom feed"),
    "scripts": Case(corpus("script-injection.xml"), PollOutcome.OK, titles=("عنوان",)),
    "rss 0.91": Case(corpus("rss-0.91.xml"), PollOutcome.OK, titles=("خبر من الأرشيف",)),
    "rss 0.92": Case(corpus("rss-0.92.xml"), PollOutcome.OK, titles=("خبر ثان",)),
    "rss 1.0": Case(corpus("rss-1.0-rdf.xml"), PollOutcome.OK, titles=("خبر بصيغة RDF",)),
    "odd json feed": Case(corpus("json-feed-odd.json"), PollOutcome.OK, titles=("", "")),
    "cut json feed": Case(corpus("not-json.json"), PollOutcome.ERROR, "invalid JSON"),
    "deep xml": Case(lambda _s: deep_xml(), PollOutcome.OK, titles=("deep",)),
    "deep html": Case(lambda _s: deep_html(), PollOutcome.OK, titles=("عميق",)),
    "20,000 items": Case(lambda _s: huge_feed(), PollOutcome.OK),
    "2 MB title": Case(lambda _s: huge_title(), PollOutcome.OK),
}


def poll_all(database: Database, settings: Settings) -> dict[int, handlers.PollReport | None]:
    with UnitOfWork(database) as uow:
        leases = handlers.take_due_sources(uow, utcnow(), 600, per_host=10)
        uow.commit()
    client = SafeClient(settings)
    return {
        lease.source_id: handlers.poll_source(database, client, settings, lease) for lease in leases
    }


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_feed_is_recorded_and_the_good_one_still_polled(
    name: str, database: Database, settings: Settings, server: LocalServer
) -> None:
    case = CASES[name]
    server.route("/bad", Reply(200, case.body(server)))
    server.route("/good", Reply(200, GOOD))
    settings = make_settings(
        settings.data_dir, database_url=settings.database_url,
        fetch_allowed_hosts=[server.host_port],
    )  # fmt: skip
    with UnitOfWork(database) as uow:
        bad = Source(name="Bad", url=server.url("/bad"), language="ar")
        good = Source(name="Good", url=server.url("/good"), language="ar")
        uow.session.add_all([bad, good])
        uow.commit()
        bad_id, good_id = bad.id, good.id

    reports = poll_all(database, settings)

    report = reports[bad_id]
    assert report is not None and report.outcome == case.outcome, report
    with database.session() as session:
        source = session.get_one(Source, bad_id)
        stored = session.execute(
            select(ArticleRevision.title, ArticleRevision.content_html, Article.url)
            .join(Article, Article.id == ArticleRevision.article_id)
            .where(Article.source_id == bad_id)
            .order_by(Article.id)
        ).all()
        good_articles = session.scalars(
            select(Article.id).where(Article.source_id == good_id)
        ).all()
    assert source.last_polled_at is not None and source.poll_lease_token is None
    if case.error:
        assert case.error in (source.last_error or "")
        assert source.consecutive_failures == 1 and source.status == SourceStatus.ACTIVE
        assert stored == []
    if case.titles is not None:
        assert tuple(title for title, _, _ in stored) == case.titles
    for title, content, url in stored:
        everything = f"{title} {content} {url}".lower()
        for forbidden in (
            "<script",
            "onclick",
            "onerror",
            "<iframe",
            "javascript:",
            "<style",
            "root:x:0",
            "lollollol",
        ):
            assert forbidden not in everything, (name, forbidden)
        assert len(title) <= 1_000 and len(content) <= 500_000
    assert len(stored) <= settings.poll_max_entries
    assert server.hits("/xxe-probe") == []  # no external entity was ever fetched
    assert len(good_articles) == 2, "the good source beside it was not ingested"


def test_a_real_worker_survives_the_whole_corpus(
    tmp_path: Path, sqlite_url: str, server: LocalServer, procs: Processes
) -> None:
    settings = make_settings(
        tmp_path / "var", database_url=sqlite_url,
        fetch_allowed_hosts=[server.host_port], poll_sweep_seconds=1, poll_per_host=4,
    )  # fmt: skip
    database = Database(settings.database_url)
    with UnitOfWork(database) as uow:
        for n, (name, case) in enumerate(CASES.items()):
            server.route(f"/bad/{n}", Reply(200, case.body(server)))
            uow.session.add(Source(name=name, url=server.url(f"/bad/{n}"), language="ar"))
        server.route("/good", Reply(200, GOOD))
        uow.session.add(Source(name="Good", url=server.url("/good"), language="ar"))
        uow.commit()
    worker = procs.start("worker", ["worker", "--queues", "poll"], settings_env(settings))
    procs.start("beat", ["beat"], settings_env(settings))

    def all_polled() -> bool:
        with database.session() as session:
            return all(session.scalars(select(Source.last_polled_at)))

    wait_for(all_polled, timeout=180, interval=0.5, what="every source to be polled once")
    assert worker.alive()
    status = Path(f"/proc/{worker.pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", status)
    assert match is not None
    rss_kib = int(match.group(1))
    assert rss_kib < 600 * 1024, f"worker holds {rss_kib // 1024} MiB after the corpus"
    with database.session() as session:
        good = session.scalars(select(Source).where(Source.name == "Good")).one()
        assert good.last_outcome == "ok"
        errors = dict(session.execute(select(Source.name, Source.last_error)).all())
    assert errors["html page"] == "cannot parse the feed: the address serves a web page, not a feed"
    database.dispose()
