"""The private-address guard on every request the system sends out, through each real path.

The outbound requests: source feeds (poller), full-text article pages (poller), WebSub hub
subscriptions (poller), WebSub publish pings (publisher), webhooks and WordPress (publisher),
LibreTranslate (machine drafts). For each: an allowed host:port (FETCH_ALLOWED_HOSTS) that
redirects (302, 307, 308) to a loopback address or port not allowed is refused, and so is a URL
pointing straight at one; the servers behind those addresses are real and listening (a control
reaches each when it is allowed), and receive nothing. Webhooks and WordPress do not follow
redirects at all, even to an allowed address: they fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import structlog
from sqlalchemy import select

from services.poller import handlers
from services.poller import websub as poller_websub
from services.publisher import handlers as publisher
from shared.admin.destinations import DestinationCreate, add_destination
from shared.admin.partners import PartnerCreate, add_partner
from shared.db import Database
from shared.http import BlockedAddress, SafeClient
from shared.models import Article, ArticleRevision, Delivery, Destination, Source, utcnow
from shared.settings import Settings
from shared.translation import LibreTranslate, TranslationUnavailable
from shared.uow import UnitOfWork
from tests.conftest import make_settings
from tests.support.factories import Newsroom, make_article, make_source
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply

REDIRECTS = (302, 307, 308)
REFUSED = "non-public address"  # BlockedAddress's message
_n = itertools.count(1)


@dataclass
class Net:
    """The allowed server, and the real servers behind addresses that are not allowed."""

    allowed: LocalServer
    other_port: LocalServer  # 127.0.0.1, another port
    second_loopback: LocalServer  # 127.0.0.2
    ipv6: LocalServer  # ::1

    def targets(self) -> list[tuple[str, LocalServer]]:
        """(base URL, the server that would answer it) for every way of naming loopback."""
        p = self.other_port.port
        return [
            (f"http://127.0.0.1:{p}", self.other_port),
            (f"http://{self.second_loopback.host_port}", self.second_loopback),
            (f"http://localhost:{p}", self.other_port),
            (f"http://{self.ipv6.host_port}", self.ipv6),
            (f"http://0.0.0.0:{p}", self.other_port),
            (f"http://2130706433:{p}", self.other_port),  # 127.0.0.1 as one decimal number
            (f"http://0177.0.0.1:{p}", self.other_port),  # and in octal
        ]

    def behind(self) -> list[LocalServer]:
        return [self.other_port, self.second_loopback, self.ipv6]

    def untouched(self) -> None:
        for target in self.behind():
            assert target.requests == [], f"{target.host_port} was reached: {target.requests}"

    def cases(self, path: str) -> Iterator[tuple[str, str, LocalServer]]:
        """(label, URL to give the system, the target) for each target, first redirected to
        from the allowed server (each redirect status in turn), then named directly."""
        for (base, target), status in zip(self.targets(), itertools.cycle(REDIRECTS), strict=False):
            n = next(_n)
            self.allowed.route(f"/r{n}{path}", Reply(status, headers={"Location": base + path}))
            yield f"{status} to {base}", self.allowed.url(f"/r{n}{path}"), target
        for base, target in self.targets():
            yield f"direct {base}", base + path, target


@pytest.fixture
def net(server: LocalServer) -> Iterator[Net]:
    others = [LocalServer().start(), LocalServer("127.0.0.2").start(), LocalServer("::1").start()]
    yield Net(server, *others)
    for other in others:
        other.stop()


@pytest.fixture
def guarded(tmp_path: Path, sqlite_url: str, net: Net) -> Settings:
    return make_settings(tmp_path / "var", database_url=sqlite_url,
                         fetch_allowed_hosts=[net.allowed.host_port],
                         site_url="https://news.example", full_text_per_poll=20)  # fmt: skip


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    yield db
    db.dispose()


def test_every_target_is_a_live_server_when_allowed(tmp_path: Path, net: Net) -> None:
    """The control: what the guard refuses below would otherwise have been answered."""
    for base, target in net.targets():
        target.route("/alive", Reply(200, b"yes"))
        host_port = base.removeprefix("http://")
        client = SafeClient(make_settings(tmp_path, fetch_allowed_hosts=[host_port]))
        assert client.get(base + "/alive").body == b"yes", base
        with pytest.raises(BlockedAddress, match=REFUSED):
            SafeClient(make_settings(tmp_path)).get(base + "/alive")
    assert len(net.other_port.requests) == 5
    assert len(net.second_loopback.requests) == len(net.ipv6.requests) == 1


def poll(database: Database, settings: Settings, url: str, full_text: bool = False) -> Source:
    with UnitOfWork(database) as uow:
        source = Source(name=f"Outlet {next(_n)}", url=url, language="ar", full_text=full_text,
                        next_poll_at=utcnow())  # fmt: skip
        uow.session.add(source)
        uow.commit()
        source_id = source.id
    with UnitOfWork(database) as uow:
        leases = handlers.take_due_sources(uow, utcnow(), settings.poll_lease_seconds, 100)
        uow.commit()
    [lease] = [lease for lease in leases if lease.source_id == source_id]
    handlers.poll_source(database, SafeClient(settings), settings, lease)
    with UnitOfWork(database, read_only=True) as uow:
        source = uow.session.get_one(Source, source_id)
        uow.session.expunge(source)
        return source


def test_source_feeds(database: Database, guarded: Settings, net: Net) -> None:
    for label, url, _ in net.cases("/feed.xml"):
        source = poll(database, guarded, url)
        assert source.last_outcome == "error" and REFUSED in (source.last_error or ""), label
    net.untouched()


def test_full_text_article_pages(database: Database, guarded: Settings, net: Net) -> None:
    cases = list(net.cases("/story.html"))
    items = [Item(f"g{n}", f"Story {n}", "<p>summary</p>", link=url)
             for n, (_, url, _) in enumerate(cases)]  # fmt: skip
    net.allowed.route("/feed.xml", Reply(200, rss(items)))
    source = poll(database, guarded, net.allowed.url("/feed.xml"), full_text=True)
    assert source.last_outcome == "ok"
    assert f"full text: {len(cases)} of {len(cases)} article pages unreadable" in (
        source.last_notes or ""
    )
    with UnitOfWork(database, read_only=True) as uow:
        bodies = uow.session.scalars(select(ArticleRevision.summary_html)).all()
    assert sorted(bodies) == ["<p>summary</p>"] * len(cases)  # the feed's text kept
    net.untouched()


def test_websub_subscription_requests(database: Database, guarded: Settings, net: Net) -> None:
    for label, url, _ in net.cases("/hub"):
        source_id = make_source(database)
        with UnitOfWork(database) as uow:
            source = uow.session.get_one(Source, source_id)
            source.websub_hub, source.websub_topic = url, "https://outlet.example/feed"
            source.websub_state = "subscribing"
            uow.commit()
        state = poller_websub.subscribe(database, SafeClient(guarded), guarded, source_id)
        with UnitOfWork(database, read_only=True) as uow:
            error = uow.session.get_one(Source, source_id).websub_error or ""
        assert state == "failed" and REFUSED in error, (label, error)
    net.untouched()


def test_websub_publish_pings(
    database: Database, guarded: Settings, net: Net, tmp_path: Path
) -> None:
    for label, url, _ in net.cases("/hub"):
        settings = make_settings(tmp_path / "var", database_url=guarded.database_url,
                                 fetch_allowed_hosts=guarded.fetch_allowed_hosts,
                                 feeds_websub_hub=url)  # fmt: skip
        with UnitOfWork(database) as uow:
            add_partner(uow, PartnerCreate(slug=f"p{next(_n)}", name="P", formats=["rss"]))
            uow.commit()
        with structlog.testing.capture_logs() as logs:
            assert publisher.refresh_feeds(database, settings, SafeClient(settings)) == 1
        [failed] = [e for e in logs if e["event"] == "websub_ping_failed"]
        assert REFUSED in failed["error"], label
    net.untouched()


def test_libretranslate(guarded: Settings, net: Net) -> None:
    for label, url, _ in net.cases("/translate"):
        base = url.removesuffix("/translate")  # CROSSFEED_MT_URL; the client adds /translate
        translator = LibreTranslate(SafeClient(guarded), base, api_key=None)
        with pytest.raises(TranslationUnavailable, match=REFUSED):
            translator.translate("عنوان", "<p>نص</p>", "ar", "en")
        assert label
    net.untouched()


def deliver_all(database: Database, settings: Settings, kinds_urls: list[tuple[str, str]]
                ) -> list[tuple[str, str | None]]:  # fmt: skip
    """Destinations at these URLs, an article published to them: each delivery sent once;
    (state, last error) of each, in order."""
    ids = []
    with UnitOfWork(database) as uow:
        for kind, url in kinds_urls:
            secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" if kind == "webhook" else "u:p"
            ids.append(add_destination(uow, settings, DestinationCreate(
                name=f"d{next(_n)}", kind=kind, url=url, secret=secret)).id)  # fmt: skip
        uow.commit()
    article_id = make_article(database, make_source(database))
    Newsroom(database, settings).publish(article_id)
    with UnitOfWork(database) as uow:
        revision = uow.session.get_one(Article, article_id).public_revision
        publisher.plan(uow, settings, article_id, revision, "publish")
        uow.commit()
    client = SafeClient(settings)
    outcomes = []
    for destination_id in ids:
        with UnitOfWork(database, read_only=True) as uow:
            delivery_id = uow.session.scalar(
                select(Delivery.id).where(Delivery.destination_id == destination_id)
            )
        assert delivery_id is not None
        publisher.deliver(database, settings, client, delivery_id)
        with UnitOfWork(database, read_only=True) as uow:
            delivery = uow.session.get_one(Delivery, delivery_id)
            assert uow.session.get_one(Destination, destination_id).url  # still there
            outcomes.append((delivery.state, delivery.last_error))
    return outcomes


@pytest.mark.parametrize("kind", ["webhook", "wordpress"])
def test_webhooks_and_wordpress_never_follow_redirects(
    database: Database, guarded: Settings, net: Net, kind: str
) -> None:
    cases = list(net.cases("/endpoint/"))
    # And a redirect to another path of the allowed server itself: not followed either.
    for status in REDIRECTS:
        net.allowed.route(f"/moved{status}/", Reply(status, headers={
            "Location": net.allowed.url("/endpoint/")}))  # fmt: skip
        cases.append((f"{status} within the allowed server", net.allowed.url(f"/moved{status}/"),
                      net.allowed))  # fmt: skip
    outcomes = deliver_all(database, guarded, [(kind, url) for _, url, _ in cases])
    for (label, _, _), (state, error) in zip(cases, outcomes, strict=True):
        if label.startswith("direct"):  # refused; retried later (names may resolve elsewhere)
            assert state == "failed" and REFUSED in (error or ""), (label, state, error)
        else:  # a redirect: failed for good, since the same request would be redirected again
            assert state == "dead" and f"HTTP {label[:3]}" in (error or ""), (label, error)
    net.untouched()
    assert net.allowed.hits("/endpoint/") == []
