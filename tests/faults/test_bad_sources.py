"""Outlets' servers that hang, drip, redirect in a loop or answer a gibibyte, polled by the real
poller worker beside healthy outlets: each bad poll ends by itself within the fetch deadline
or size cap, with the reason in the source's health, and the healthy outlets keep their
schedule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.admin.sources import SourceCreate, add_source
from shared.db import Database
from shared.models import Article, Source
from shared.uow import UnitOfWork
from tests.conftest import REDIS_URL, make_settings
from tests.faults.harness import FAULT_TIMERS, Stack, count
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply, Request
from tests.support.processes import Processes
from tests.support.wait import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

GIB = 1024**3
PIECE = b"<item>" + b"x" * (64 * 1024 - 6)  # 64 KiB of feed-like bytes


class BadOutlets:
    """One server, a bad behaviour per path; it notes what each client did."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.release = threading.Event()  # ends the hanging answers when the test is over
        self.sent: dict[str, int] = {}  # bytes written before the client hung up
        self.hung_up: set[str] = set()
        server.route("/hang", self._hang)
        server.route("/drip", self._streaming("/drip", self._drip, length=None))
        server.route("/huge", self._streaming("/huge", self._endless, length=GIB))
        server.route("/endless", self._streaming("/endless", self._endless, length=None))
        server.route("/loop/a", Reply(302, headers={"Location": "/loop/b"}))
        server.route("/loop/b", Reply(302, headers={"Location": "/loop/a"}))
        self.paths = ["/hang", "/drip", "/huge", "/endless", "/loop/a"]

    def _hang(self, _request: Request) -> Reply:
        """Accept, read the request, and answer nothing for ten minutes."""
        self.release.wait(600)
        return Reply(503)

    def _drip(self) -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>'
        while not self.release.is_set():  # a byte every half second, for ever
            yield b"x"
            self.release.wait(0.5)

    def _endless(self) -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><rss version="2.0"><channel>'
        for _ in range(GIB // len(PIECE)):
            yield PIECE

    def _streaming(
        self, path: str, pieces: Callable[[], Iterator[bytes]], length: int | None
    ) -> Reply:
        def counted() -> Iterator[bytes]:
            self.sent[path] = 0
            try:
                for piece in pieces():
                    yield piece
                    self.sent[path] += len(piece)
            finally:
                if not self.release.is_set():
                    self.hung_up.add(path)

        return Reply(200, stream=counted, stream_length=length)


def test_bad_servers_never_hold_a_worker_and_good_sources_keep_their_schedule(
    tmp_path: Path, pg_url: str, pg_database: Database, redis_prefix: str, server: LocalServer,
    procs: Processes,
) -> None:  # fmt: skip
    bad = BadOutlets(server)
    good = LocalServer().start()  # healthy outlets on a host of their own, as in life
    try:
        for n in range(3):
            good.route(f"/good/{n}", _growing(good, n))
        settings = make_settings(
            tmp_path / "var", database_url=pg_url, broker_url=REDIS_URL,
            redis_prefix=redis_prefix, fetch_allowed_hosts=[server.host_port, good.host_port],
            **{**FAULT_TIMERS, "poll_min_interval_minutes": 1},
        )  # fmt: skip
        with UnitOfWork(pg_database) as uow:
            for path in bad.paths:
                add_source(uow, SourceCreate(name=f"bad {path}", url=server.url(path),
                                             interval_minutes=1))  # fmt: skip
            for n in range(3):
                add_source(uow, SourceCreate(name=f"good {n}", url=good.url(f"/good/{n}"),
                                             interval_minutes=1))  # fmt: skip
            uow.commit()
        stack = Stack(procs, settings).start("relay", "beat", "poller")
        try:
            # Every bad poll has ended and been recorded, and the good outlets have been polled
            # on their one-minute schedule at least twice since, while the bad ones misbehaved.
            wait_for(lambda: all(_health(pg_database, f"bad {p}")[0] for p in bad.paths),
                     timeout=120, what="every bad poll to end and be recorded")  # fmt: skip
            first = {n: len(good.hits(f"/good/{n}")) for n in range(3)}
            wait_for(
                lambda: all(len(good.hits(f"/good/{n}")) >= first[n] + 2 for n in range(3)),
                timeout=200, interval=1, what="two more scheduled polls of every good outlet",
            )  # fmt: skip
            # Read while the hanging server is still holding its requests unanswered.
            errors = {path: _health(pg_database, f"bad {path}") for path in bad.paths}
        finally:
            stack.stop()
        assert not stack.crashes, stack.crashes
        assert stack.starts["poller"] == 1  # never stuck, never restarted
    finally:
        bad.release.set()
        good.stop()

    outcome, error = errors["/hang"]
    assert outcome == "error" and ("within 6 s" in error or "timed out" in error), error
    outcome, error = errors["/drip"]
    assert outcome == "error" and "not received within 6 s" in error, error
    for path in ("/huge", "/endless"):
        outcome, error = errors[path]
        assert outcome == "error" and "byte limit" in error, error
    outcome, error = errors["/loop/a"]
    assert outcome == "error" and "redirect" in error.lower(), error
    # The client, not the server, ended each one: the server still had bytes to send, or had
    # not answered at all.
    assert {"/drip", "/endless"} <= bad.hung_up
    # The client stopped reading at its cap; the server wrote a few MiB more into the
    # loopback's socket buffers before it learned, and never came near the gibibyte.
    assert bad.sent["/endless"] < 3 * settings.fetch_max_bytes
    assert bad.sent.get("/huge", 0) < GIB
    # Each poll of a good outlet found one more story, and every one of them is in.
    for n in range(3):
        assert _health(pg_database, f"good {n}") == ("ok", "")
        polls = len(good.hits(f"/good/{n}"))
        assert count(pg_database, Article, Article.guid.like(f"good-{n}-%")) == polls


def _growing(good: LocalServer, n: int) -> Callable[[Request], Reply]:
    """A feed with a story more at each poll (this request is already among the hits)."""

    def reply(_request: Request) -> Reply:
        polls = len(good.hits(f"/good/{n}"))
        return Reply(200, rss([Item(f"good-{n}-{k}", f"خبر {k} من المنفذ السليم {n}")
                               for k in range(polls)]))  # fmt: skip

    return reply


def _health(database: Database, name: str) -> tuple[str, str]:
    """The source's last outcome and error ("" when none); outcome "" before any poll."""
    with database.session() as session:
        row = session.execute(
            select(Source.last_outcome, Source.last_error).where(Source.name == name)
        ).one()
    return row.last_outcome or "", row.last_error or ""
