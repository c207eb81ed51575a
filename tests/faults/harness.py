"""The fault suite's harness: the services as docker-compose.yml runs them, outlets whose
stories appear over time, a desk that publishes what reaches it, and the audit of what came
out at the other end.

A run is: outlets (a LocalServer) publish stories; "poll now" requests (as editors or WebSub
would make them) bring them in; poller, enricher and review workers take them to the desk;
two people (a translator and an editor, over the web API, as the desk's page does) claim,
translate, submit, approve and publish each one; the publisher sends each to the newsroom's
WordPress and a partner's webhook, and renders the partner's feeds. The tests inject their
fault in the middle of such a run, then `audit` checks that each story came out once.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import requests
from sqlalchemy import func, select

from shared.admin.destinations import DestinationCreate, add_destination
from shared.admin.partners import PartnerCreate, add_partner
from shared.admin.sources import SourceCreate, add_source
from shared.db import Database
from shared.domain.events import SourcePollRequested
from shared.domain.states import ArticleState, DeliveryState, Role
from shared.models import (
    Article,
    ArticleRevision,
    Delivery,
    Destination,
    Enrichment,
    EventReceipt,
    OutboxEvent,
    WorkflowEntry,
)
from shared.publishing.render import stable_id
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import settings_env
from tests.support.api import Api
from tests.support.compose import command
from tests.support.factories import make_user
from tests.support.feeds import Item, rss
from tests.support.httpserver import LocalServer, Reply, Request
from tests.support.processes import Proc, Processes
from tests.support.servers import free_port
from tests.support.wait import wait_for
from tests.support.wordpress import WordPressSite

# Short timers so that recovery happens within a test; the relations between them are the
# production ones, which settings enforce (visibility > time limit, redelivery > time limit,
# delivery lease > time limit, poll lease >= 2 x fetch deadline).
FAULT_TIMERS: dict[str, Any] = {
    "poll_sweep_seconds": 1,
    "poll_lease_seconds": 12,
    "poll_per_host": 4,
    "fetch_deadline": 6,
    "fetch_read_timeout": 5,
    "relay_interval_seconds": 0.1,
    "relay_housekeeping_seconds": 1,
    "review_sweep_seconds": 1,
    "publish_sweep_seconds": 1,
    "task_soft_time_limit": 15,
    "task_time_limit": 20,
    "broker_visibility_timeout": 60,
    "redelivery_after_seconds": 25,
    "delivery_lease_seconds": 25,
    "delivery_backoff_seconds": 1,
    "delivery_backoff_max_seconds": 8,
    "delivery_max_attempts": 100,
    "feeds_cache_seconds": 0,
    "feeds_rate_limit": "",
    "worker_concurrency": 2,
}
WORKERS = ("poller", "enricher", "review", "publisher")
WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


# ---------------------------------------------------------------------------- the services


class Stack:
    """The application's services, one process each as compose runs them (the commands are
    docker-compose.yml's), under compose's `restart: unless-stopped`: a process that exits is
    started again. Exits the test did not cause are counted in `crashes`."""

    def __init__(self, procs: Processes, settings: Settings) -> None:
        self.procs = procs
        self.settings = settings
        self.env = settings_env(settings)
        self.web_port = free_port()
        self.running: dict[str, Proc] = {}
        self.starts: collections.Counter[str] = collections.Counter()
        self.crashes: list[str] = []
        self._killed: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._restart_exited, daemon=True)

    @property
    def api(self) -> Api:
        return Api(f"http://127.0.0.1:{self.web_port}")

    def _args(self, service: str) -> list[str]:
        args = command(service)
        if service == "web":
            args[args.index("--host") + 1] = "127.0.0.1"
            args[args.index("--port") + 1] = str(self.web_port)
        return args

    def start(self, *services: str) -> Stack:
        for service in services:
            self._start(service)
        if not self._watcher.is_alive():
            self._watcher.start()
        if "web" in services:
            wait_for(self.api.ready, timeout=60, what="the web service to be ready")
        return self

    def _start(self, service: str) -> None:
        with self._lock:
            self.starts[service] += 1
            name = f"{service}.{self.starts[service]}"
            self.running[service] = self.procs.start(name, self._args(service), self.env)

    def kill(self, service: str) -> None:
        """SIGKILL the service's processes (its container, with a worker's pool): compose
        starts it again."""
        with self._lock:
            self._killed.add(service)
            proc = self.running[service]
        proc.kill()

    def busy(self, service: str) -> bool:
        """The worker holds a message it has not acknowledged: it is in the middle of a task
        (with late acknowledgement, Redis keeps such messages in its `unacked` hash)."""
        args = command(service)
        queue = args[args.index("--queues") + 1]
        client = redis.Redis.from_url(self.settings.broker_url)
        try:
            held = client.hvals(f"{self.settings.redis_prefix}unacked")
        finally:
            client.close()
        return any(json.loads(value)[-1] == queue for value in held)

    def kill_pool_process(self, service: str) -> bool:
        """SIGKILL one of a worker's pool processes (the worker itself replaces it); False if
        the worker is not up yet. A pool process lost while the worker starts makes Celery
        exit ("Could not start worker processes", its start-up check, made just after it logs
        that it is ready): compose would start it again, but that exit is this kill's doing,
        not a crash, so only a worker ready for a second is aimed at."""
        proc = self.running[service]
        ready = _ready_at(proc.output())
        if ready is None or time.time() - ready < 1:
            return False
        children = _children(proc.pid)
        if not children:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(random.choice(children), signal.SIGKILL)
        return True

    def _restart_exited(self) -> None:
        while not self._stop.wait(0.3):
            for service, proc in list(self.running.items()):
                if proc.alive() or self._stop.is_set():
                    continue
                with self._lock:
                    if service not in self._killed:
                        self.crashes.append(f"{service}: {proc.output()[-1500:]}")
                    self._killed.discard(service)
                self._start(service)

    def stop(self) -> None:
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)


def _ready_at(log: str) -> float | None:
    """When the worker whose log this is said it was ready (Celery's "celery@host ready.")."""
    for line in log.splitlines():
        if ' ready."' in line and "celery.apps.worker" in line:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                return dt.datetime.fromisoformat(json.loads(line)["timestamp"]).timestamp()
    return None


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


# ---------------------------------------------------------------------------- the outlets


class Outlets:
    """Sources whose feeds grow over `spread` seconds to `per_source` stories each; a thread
    asks for a poll of every source (the desk's "poll now", as WebSub would) until every
    story is in."""

    def __init__(
        self, server: LocalServer, database: Database, run: str, sources: int, per_source: int,
        spread: float,
    ) -> None:  # fmt: skip
        self.server = server
        self.database = database
        self.run = run
        self.per_source = per_source
        self.spread = spread
        self.started = 0.0
        self.source_ids: list[int] = []
        self.guids = {f"{run}-{s}-{k}" for s in range(sources) for k in range(per_source)}
        with UnitOfWork(database) as uow:
            for s in range(sources):
                path = f"/outlet/{s}/feed.xml"
                server.route(path, self._feed(s))
                source = add_source(
                    uow, SourceCreate(name=f"Outlet {run} {s}", url=server.url(path))
                )
                self.source_ids.append(source.id)
            uow.commit()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._ask_for_polls, daemon=True)

    def released(self) -> int:
        if not self.started:
            return 0
        share = (time.monotonic() - self.started) / self.spread
        return min(self.per_source, 1 + int(share * self.per_source))

    def _feed(self, s: int) -> Callable[[Request], Reply]:
        def reply(_request: Request) -> Reply:
            items = [
                Item(
                    f"{self.run}-{s}-{k}",
                    f"تقرير رقم {k} من المنفذ {s} حول الأوضاع في درعا",
                    f"<p>نص التقرير رقم {k} من المنفذ {s}: "
                    f"ارتفاع أسعار الخبز {k + s * 7} ليرة.</p>",
                    link=f"http://outlet{s}.example/{k}",
                )
                for k in range(self.released())
            ]
            return Reply(200, rss(items[-50:][::-1]))  # the newest first, 50 at most

        return reply

    def start(self) -> Outlets:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def _ask_for_polls(self) -> None:
        while not self._stop.wait(1.5):
            try:
                if count(self.database, Article) >= len(self.guids):
                    return
                with UnitOfWork(self.database) as uow:
                    for source_id in self.source_ids:
                        uow.emit(SourcePollRequested(source_id=source_id))
                    uow.commit()
            except Exception:  # noqa: BLE001 - the database may be down: ask again later
                continue

    def stop(self) -> None:
        self._stop.set()


# ---------------------------------------------------------------------------- the desk


class Desk:
    """A translator and an editor taking every article that reaches the desk to publication,
    over the web API as the desk's page does. Errors (a server being restarted, a conflict)
    are counted and the article is taken up again on the next pass."""

    def __init__(self, api: Api, database: Database, run: str) -> None:
        self.run = run
        self.translator = api.with_token(make_user(database, f"tr-{run}", Role.TRANSLATOR)[1])
        self.editor = api.with_token(make_user(database, f"ed-{run}", Role.EDITOR)[1])
        self.published: set[int] = set()
        self.errors: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, str] = {}  # the first error of each kind, for the report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, daemon=True)

    def title(self, article_id: int) -> str:
        return f"Bread prices in Daraa, report {article_id} [{self.run}]"

    def start(self) -> Desk:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                waiting = self._waiting()
            except requests.RequestException as exc:
                self._note(type(exc).__name__, str(exc))
                self._stop.wait(0.5)
                continue
            for item in waiting:
                if self._stop.is_set():
                    return
                self._take(item["id"], item["state"], item["lock_version"])
            if not waiting:
                self._stop.wait(0.3)

    def _note(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        self.samples.setdefault(kind, detail[:300])

    def _waiting(self) -> list[dict[str, Any]]:
        """Articles on the desk not yet published, oldest first (one page of each state)."""
        found: list[dict[str, Any]] = []
        for state in ("new", "translating", "in_review", "approved"):
            answer = self.editor.get("/api/v1/articles", params={"state": state, "limit": 100})
            if answer.status_code != 200:
                self._note(f"list {answer.status_code}", answer.text)
                continue
            found += [a for a in answer.json()["items"] if a["queued_at"] or state != "new"]
        return sorted(found, key=lambda a: a["id"])

    def _take(self, article_id: int, state: str, version: int) -> None:
        path = f"/api/v1/articles/{article_id}"
        steps: list[tuple[Api, str, str, dict[str, Any]]] = []
        body = (
            f"<p>The price of a bundle of bread rose in Daraa, the outlet reported in its "
            f"report {article_id}.</p>"
        )
        if state == "new":
            steps.append((self.translator, "POST", "/actions/claim", {}))
        if state in ("new", "translating"):
            steps += [
                (self.translator, "PUT", "/translation",
                 {"title": self.title(article_id), "dek": "", "body_html": body}),
                (self.translator, "POST", "/actions/submit", {}),
            ]  # fmt: skip
        if state in ("new", "translating", "in_review"):
            steps.append((self.editor, "POST", "/actions/approve", {}))
        steps.append((self.editor, "POST", "/actions/publish", {}))
        for who, method, step, payload in steps:
            try:
                answer = who.request(
                    method, path + step, json={**payload, "lock_version": version}, timeout=30
                )
            except requests.RequestException as exc:
                self._note(type(exc).__name__, str(exc))
                return
            if answer.status_code != 200:
                self._note(f"{step} {answer.status_code}", answer.text)
                return  # taken up again from its state on the next pass
            version = answer.json()["lock_version"]
        self.published.add(article_id)


# ---------------------------------------------------------------------------- destinations


@dataclass
class Destinations:
    webhook_id: int
    wordpress_id: int
    partner_slug: str
    partner_token: str


def add_destinations(
    database: Database, settings: Settings, receiver: LocalServer, wordpress_url: str,
    site: WordPressSite, run: str,
) -> Destinations:  # fmt: skip
    """The newsroom's WordPress (at `wordpress_url`, the site itself or a proxy in front of
    it), a webhook on `receiver` at /hook, and a partner taking every article's feeds."""
    with UnitOfWork(database) as uow:
        hook = add_destination(uow, settings, DestinationCreate(
            name=f"hook {run}", kind="webhook", url=receiver.url("/hook"), secret=WEBHOOK_SECRET,
        ))  # fmt: skip
        press = add_destination(uow, settings, DestinationCreate(
            name=f"site {run}", kind="wordpress", url=wordpress_url, secret=site.secret,
        ))  # fmt: skip
        partner, token = add_partner(uow, PartnerCreate(slug=f"p-{run}", name=f"Partner {run}"))
        uow.commit()
        return Destinations(hook.id, press.id, partner.slug, token)


# ---------------------------------------------------------------------------- the audit


def count(database: Database, model: type, *where: Any) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def settled(database: Database, articles: int, destinations: int) -> bool:
    """Every article published and delivered everywhere, every event done, the feeds fresh."""
    with database.session() as session:
        published = session.scalar(
            select(func.count()).where(Article.state == ArticleState.PUBLISHED)
        )
        delivered = session.scalar(
            select(func.count()).where(Delivery.state == DeliveryState.DELIVERED)
        )
        open_events = session.scalar(select(func.count()).where(OutboxEvent.completed_at.is_(None)))
    return published == articles and delivered == articles * destinations and open_events == 0


@dataclass
class Audit:
    """What came out of a run, each promise checked; `summary` is printed by the tests."""

    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def expect(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)

    def summary(self) -> str:
        return json.dumps(self.figures, sort_keys=True, default=str)


def audit(
    database: Database, settings: Settings, outlets: Outlets, destinations: Destinations,
    receiver: LocalServer, site: WordPressSite, api: Api, run: str,
) -> Audit:  # fmt: skip
    """Each story ingested once, enriched once, queued once, and delivered once to each
    destination: one WordPress post, one webhook id, one entry in the partner's feed."""
    result = Audit()
    expected = len(outlets.guids)
    with database.session() as session:
        articles = {a: g or "" for a, g in session.execute(select(Article.id, Article.guid))}
        revisions = collections.Counter(session.scalars(select(ArticleRevision.article_id)))
        events = collections.Counter(
            (row.type, (row.data or {}).get("article_id"), (row.data or {}).get("subject"))
            for row in session.execute(select(OutboxEvent.type, OutboxEvent.data))
        )
        source_enrichments = collections.Counter(
            session.scalars(select(Enrichment.article_id).where(Enrichment.subject == "source"))
        )
        queued = collections.Counter(
            session.scalars(select(WorkflowEntry.article_id).where(WorkflowEntry.action == "queue"))
        )
        deliveries = list(session.execute(select(
            Delivery.article_id, Delivery.destination_id, Delivery.state, Delivery.remote_id,
            Delivery.idempotency_key, Delivery.attempts,
        )))  # fmt: skip
        receipts = session.scalar(select(func.count()).select_from(EventReceipt))
        redispatched = session.scalar(select(func.count()).where(OutboxEvent.dispatch_count > 1))
        disabled = list(session.scalars(select(Destination.name).where(~Destination.enabled)))
    result.figures |= {
        "articles": len(articles), "receipts": receipts, "events_sent_again": redispatched,
        "delivery_attempts": sum(d.attempts for d in deliveries),
    }  # fmt: skip

    # Ingested once: every story, no other, one article and one revision each.
    result.expect(set(articles.values()) == outlets.guids,
                  f"{len(outlets.guids - set(articles.values()))} stories missing, "
                  f"{len(set(articles.values()) - outlets.guids)} unexpected")  # fmt: skip
    result.expect(len(articles) == expected, f"{len(articles)} articles for {expected} stories")
    twice = [a for a, n in revisions.items() if n != 1]
    result.expect(not twice, f"articles with other than one source revision: {twice[:10]}")
    for kind, subject in (("article.ingested", None), ("article.queued", None),
                          ("article.enriched", "source")):  # fmt: skip
        per_article = {a: n for (t, a, s), n in events.items() if t == kind and s == subject}
        times = {a: per_article.get(a, 0) for a in articles if per_article.get(a, 0) != 1}
        result.expect(not times, f"{kind} ({subject}) not once for {len(times)} articles: "
                                 f"{list(times.items())[:10]}")  # fmt: skip
    wrong = [a for a in articles if source_enrichments[a] != 1 or queued[a] != 1]
    result.expect(not wrong, f"articles not enriched or queued exactly once: {wrong[:10]}")

    # Delivered once per destination.
    per_pair = collections.Counter((d.article_id, d.destination_id) for d in deliveries)
    for destination in (destinations.webhook_id, destinations.wordpress_id):
        missing = [a for a in articles if per_pair[(a, destination)] != 1]
        result.expect(not missing, f"articles without exactly one delivery to destination "
                                   f"{destination}: {missing[:10]}")  # fmt: skip
    undelivered = [d for d in deliveries if d.state != DeliveryState.DELIVERED]
    result.expect(not undelivered, f"{len(undelivered)} deliveries not delivered: "
                                   f"{undelivered[:5]}")  # fmt: skip
    result.expect(not disabled, f"destinations switched off: {disabled}")

    _audit_webhooks(result, articles, deliveries, destinations, receiver)
    _audit_wordpress(result, articles, deliveries, destinations, site, run)
    _audit_feed(result, settings, articles, destinations, api)
    return result


def _audit_webhooks(
    result: Audit, articles: dict[int, str], deliveries: list[Any], destinations: Destinations,
    receiver: LocalServer,
) -> None:  # fmt: skip
    ids_by_article: dict[int, set[str]] = collections.defaultdict(set)
    received = receiver.hits("/hook")
    for request in received:
        payload = json.loads(request.body)
        ids_by_article[payload["data"]["article_id"]].add(request.headers["webhook-id"])
    ours = {d.idempotency_key for d in deliveries if d.destination_id == destinations.webhook_id}
    result.figures["webhook_requests"] = len(received)
    result.figures["webhook_repeats_same_id"] = len(received) - sum(
        len(ids) for ids in ids_by_article.values()
    )
    several = {a: ids for a, ids in ids_by_article.items() if len(ids) != 1}
    result.expect(not several, f"articles whose webhook came with several ids: "
                               f"{list(several.items())[:5]}")  # fmt: skip
    result.expect(set(ids_by_article) == set(articles),
                  f"{len(set(articles) - set(ids_by_article))} articles never reached the "
                  "webhook")  # fmt: skip
    strangers = set().union(*ids_by_article.values()) - ours if ids_by_article else set()
    result.expect(not strangers, f"webhook ids no delivery made: {sorted(strangers)[:5]}")


def _audit_wordpress(
    result: Audit, articles: dict[int, str], deliveries: list[Any], destinations: Destinations,
    site: WordPressSite, run: str,
) -> None:  # fmt: skip
    posts = list(wordpress_posts(site, run))
    result.figures["wordpress_posts"] = len(posts)
    by_title = collections.Counter(post["title"]["raw"] for post in posts)
    doubled = [title for title, n in by_title.items() if n > 1]
    result.expect(not doubled, f"duplicate WordPress posts: {doubled[:5]}")
    result.expect(len(posts) == len(articles), f"{len(posts)} posts for {len(articles)} articles")
    remote = {d.remote_id for d in deliveries if d.destination_id == destinations.wordpress_id}
    result.expect(remote == {str(post["id"]) for post in posts},
                  "the ledger's post ids differ from the site's posts")  # fmt: skip


def wordpress_posts(site: WordPressSite, run: str) -> Iterator[dict[str, Any]]:
    """Every post (any status) whose title carries the run's mark."""
    page = 1
    while True:
        batch = site.get(
            "posts", search=run, per_page="100", page=str(page), context="edit",
            status="publish,future,draft,pending,private,trash",
        )  # fmt: skip
        if not isinstance(batch, list) or not batch:
            return
        yield from (post for post in batch if run in post["title"]["raw"])
        page += 1


def _audit_feed(
    result: Audit, settings: Settings, articles: dict[int, str], destinations: Destinations,
    api: Api,
) -> None:  # fmt: skip
    seen: collections.Counter[str] = collections.Counter()
    partner = api.with_token(destinations.partner_token)
    path: str | None = f"/feeds/{destinations.partner_slug}/feed.json"
    while path:
        answer = partner.get(path, timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        document = answer.json()
        seen.update(item["id"] for item in document["items"])
        following = urlsplit(document.get("next_url") or "")
        path = f"{following.path}?{following.query}" if following.path else None
    wanted = {stable_id(settings, article_id) for article_id in articles}
    result.figures["feed_items"] = sum(seen.values())
    result.expect(set(seen) == wanted,
                  f"the partner's feed misses {len(wanted - set(seen))} articles, "
                  f"has {len(set(seen) - wanted)} others")  # fmt: skip
    result.expect(all(n == 1 for n in seen.values()), "an article twice in the partner's feed")


def remove_posts(site: WordPressSite, run: str) -> None:
    """The run's posts deleted from the shared site (the test cleans up after itself)."""
    for post in list(wordpress_posts(site, run)):
        site.delete(f"posts/{post['id']}")


# ---------------------------------------------------------------------------- a whole run


class Run:
    """One run: the services, the outlets, the desk and the destinations, on `settings`'s
    database and broker; `settle` waits for every story to come out, `audit` checks how."""

    def __init__(
        self, settings: Settings, procs: Processes, server: LocalServer, site: WordPressSite,
        sources: int, per_source: int, spread: float, wordpress_url: str | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings
        self.server = server
        self.site = site
        self.mark = f"run{random.getrandbits(40):010x}"
        self.database = Database(settings.database_url)
        server.route("/hook", Reply(204))
        self.destinations = add_destinations(
            self.database, settings, server, wordpress_url or site.url, site, self.mark
        )
        self.stack = Stack(procs, settings)
        self.outlets = Outlets(server, self.database, self.mark, sources, per_source, spread)
        self.desk = Desk(self.stack.api, self.database, self.mark)
        self.expected = sources * per_source

    def start(self) -> Run:
        self.stack.start("web", "relay", "beat", *WORKERS)
        self.desk.start()
        self.outlets.start()
        return self

    def progress(self) -> dict[str, int]:
        with self.database.session() as session:
            states = dict(
                session.execute(select(Article.state, func.count()).group_by(Article.state)).all()
            )
            deliveries = dict(
                session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)).all()
            )
        return {**{f"articles_{k}": v for k, v in states.items()},
                **{f"deliveries_{k}": v for k, v in deliveries.items()}}  # fmt: skip

    def settle(self, timeout: float) -> None:
        try:
            wait_for(
                lambda: settled(self.database, self.expected, destinations=2),
                timeout=timeout, interval=1.0,
                what=f"all {self.expected} stories published and delivered",
            )  # fmt: skip
        except AssertionError as exc:
            raise AssertionError(f"{exc}; progress: {self.progress()}") from None

    def audit(self) -> Audit:
        result = audit(self.database, self.settings, self.outlets, self.destinations,
                       self.server, self.site, self.stack.api, self.mark)  # fmt: skip
        result.figures["desk_errors"] = dict(self.desk.errors)
        result.figures["desk_error_samples"] = self.desk.samples
        result.figures["crashes"] = len(self.stack.crashes)
        return result

    def close(self) -> None:
        self.outlets.stop()
        self.desk.stop()
        self.stack.stop()
        with contextlib.suppress(Exception):
            remove_posts(self.site, self.mark)
        self.database.dispose()
