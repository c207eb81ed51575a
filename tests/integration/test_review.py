"""The editorial workflow through the API, on real databases, with real processes for timers."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import ArticleState, Role
from shared.editorial import timers
from shared.editorial.actions import take_action
from shared.errors import Conflict
from shared.models import Article, ArticleRevision, Delivery, Destination, OutboxEvent, User, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import REDIS_URL, make_settings, settings_env
from tests.support.factories import make_article, make_source, make_user
from tests.support.processes import Processes
from tests.support.wait import wait_for
from tests.support.web import WebServer

PROBLEM = "application/problem+json"


@pytest.fixture
def people(database: Database) -> dict[str, str]:
    """Tokens of two translators, two editors and an admin."""
    roles = {"tina": Role.TRANSLATOR, "tom": Role.TRANSLATOR, "ed": Role.EDITOR,
             "eve": Role.EDITOR, "ada": Role.ADMIN}  # fmt: skip
    return {name: make_user(database, name, role)[1] for name, role in roles.items()}


class Desk:
    """The API as one person uses it: reads the article's version, then acts with it."""

    def __init__(self, web: WebServer, token: str, article_id: int) -> None:
        self.api = web.api.with_token(token)
        self.path = f"/api/v1/articles/{article_id}"

    def article(self) -> dict[str, Any]:
        response = self.api.get(self.path)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def act(self, action: str, version: int | None = None, **body: Any) -> requests.Response:
        version = self.article()["lock_version"] if version is None else version
        return self.api.post(
            f"{self.path}/actions/{action}", json={"lock_version": version, **body}
        )

    def save(self, title: str, body_html: str = "", dek: str = "") -> requests.Response:
        version = self.article()["lock_version"]
        body = {"lock_version": version, "title": title, "dek": dek, "body_html": body_html}
        return self.api.request("PUT", f"{self.path}/translation", json=body)

    def to_review(self, title: str = "Story", body_html: str = "<p>Body</p>") -> None:
        """Claim, save and submit: the article waits in review."""
        ok(self.act("claim"))
        ok(self.save(title, body_html))
        ok(self.act("submit"))


def ok(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


def problem(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    return dict(response.json())


def test_a_story_from_the_desk_to_publication(
    web: WebServer, database: Database, people: dict[str, str]
) -> None:
    article_id = make_article(database, make_source(database))
    tina, ed = Desk(web, people["tina"], article_id), Desk(web, people["ed"], article_id)

    claimed = ok(tina.act("claim"))
    assert (claimed["state"], claimed["assignee"]) == ("translating", "tina")
    assert set(claimed["allowed_actions"]) == {"save", "submit", "release"}
    ok(tina.save("Power cuts in Daraa", "<p>New rationing</p><script>alert(1)</script>"))
    ok(tina.act("submit"))
    changes = ok(ed.act("request_changes", note="The second paragraph is missing"))
    assert (changes["state"], changes["assignee"]) == ("translating", "tina")
    second = ok(tina.save("Power cuts in Daraa", "<p>New rationing</p><p>Bread prices</p>"))
    assert second["translation"]["number"] == 2
    ok(tina.act("submit"))
    approved = ok(ed.act("approve"))
    assert approved["approved_translation_id"] == second["translation"]["id"]
    published = ok(ed.act("publish"))
    assert published["state"] == "published"
    assert published["site_published_at"] is not None

    history = [(h["action"], h["actor"], h["from_state"], h["to_state"])
               for h in published["history"]]  # fmt: skip
    assert history == [
        ("claim", "tina", "new", "translating"),
        ("save", "tina", "translating", "translating"),
        ("submit", "tina", "translating", "in_review"),
        ("request_changes", "ed", "in_review", "translating"),
        ("save", "tina", "translating", "translating"),
        ("submit", "tina", "translating", "in_review"),
        ("approve", "ed", "in_review", "approved"),
        ("publish", "ed", "approved", "published"),
    ]
    assert published["history"][3]["note"] == "The second paragraph is missing"
    times = [h["at"] for h in published["history"]]
    assert times == sorted(times)

    first = ok(tina.api.get(f"{tina.path}/versions/1"))
    assert "<script>" not in first["body_html"] and "alert" not in first["body_html"]
    diff = ok(tina.api.get(f"{tina.path}/diff", params={"from": 1, "to": 2}))
    assert "+Bread prices" in diff["lines"]
    with UnitOfWork(database, read_only=True) as uow:
        published_events = uow.session.scalars(
            select(OutboxEvent.data).where(OutboxEvent.type == "article.published")
        ).all()
        transitions = uow.session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.type == "article.transitioned")
        ).all()
    translation_id = second["translation"]["id"]
    assert published_events == [
        {
            "article_id": article_id,
            "correction": False,
            "translation_id": translation_id,
            "revision": 1,
        }
    ]
    assert len(transitions) == 8

    # The desk finds it by the translation's title too, and the detail shows where it went.
    found = tina.api.get("/api/v1/articles", params={"q": "Power cuts"}).json()["items"]
    assert [item["id"] for item in found] == [article_id]
    with UnitOfWork(database) as uow:  # as the publisher (issue 6) records a delivery
        site = Destination(name="Our site", kind="wordpress", url="https://news.example/")
        uow.session.add(site)
        uow.session.flush()
        uow.session.add(Delivery(article_id=article_id, revision=1, destination_id=site.id,
                                 action="publish", state="delivered", remote_id="wp-41",
                                 idempotency_key="k-1"))  # fmt: skip
        uow.commit()
    [delivery] = tina.article()["deliveries"]
    assert (delivery["destination"], delivery["state"], delivery["remote_id"]) == (
        "Our site", "delivered", "wp-41")  # fmt: skip


def test_refusals_are_clear_problems_never_500s(
    web: WebServer, database: Database, people: dict[str, str]
) -> None:
    article_id = make_article(database, make_source(database))
    tina, tom, ed = (Desk(web, people[n], article_id) for n in ("tina", "tom", "ed"))

    forbidden = problem(tina.act("approve"), 403)
    assert "editor role" in forbidden["detail"]
    ok(tina.act("claim"))
    illegal = problem(tom.act("claim"), 409)
    assert "translating" in illegal["detail"]
    assert "assigned" in problem(tom.save("Mine now"), 403)["detail"]
    assert "save a translation first" in problem(tina.act("submit"), 409)["detail"]
    stale = problem(tina.act("release", version=1), 409)
    assert stale["lock_version"] == tina.article()["lock_version"]
    assert "reload" in stale["detail"]
    assert problem(tina.act("fly"), 422)["errors"]
    assert problem(ed.act("expire_claim"), 403)["detail"]
    assert "never published" in problem(ed.act("withdraw", note="error"), 409)["detail"]
    assert problem(tina.api.get(f"/api/v1/articles/{10**20}"), 422)
    assert problem(tina.api.get(f"{tina.path}/diff", params={"from": 10**20, "to": 1}), 422)
    assert problem(ed.act("assign", assignee="nobody"), 422)["detail"] == "no user 'nobody'"
    assert problem(tina.api.get("/api/v1/articles/999999"), 404)
    ok(ed.act("assign", assignee="tom"))
    assert ok(tom.save("Now it is mine"))["translation"]["translator"] == "tom"


def test_two_editors_racing_get_exactly_one_success(
    web: WebServer, database: Database, people: dict[str, str]
) -> None:
    for _ in range(5):
        article_id = make_article(database, make_source(database))
        tina = Desk(web, people["tina"], article_id)
        tina.to_review("Title")
        version = tina.article()["lock_version"]
        editors = [Desk(web, people[n], article_id) for n in ("ed", "eve")]
        barrier = threading.Barrier(2)
        results: list[int] = []

        threads = [
            threading.Thread(target=_race, args=(barrier, results, desk, action, version))
            for desk, action in zip(editors, ("approve", "request_changes"), strict=True)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [200, 409]
        history = tina.article()["history"]
        assert sum(h["action"] in ("approve", "request_changes") for h in history) == 1


def _race(
    barrier: threading.Barrier, results: list[int], desk: Desk, action: str, version: int
) -> None:
    barrier.wait()
    note = "needs work" if action == "request_changes" else None
    results.append(desk.act(action, version=version, note=note).status_code)


def test_a_flagged_article_shows_what_the_outlet_changed(
    web: WebServer, database: Database, people: dict[str, str]
) -> None:
    article_id = make_article(database, make_source(database), body="<p>Ten killed</p>")
    tina = Desk(web, people["tina"], article_id)
    ok(tina.act("claim"))
    ok(tina.save("Ten killed", "<p>Ten killed</p>"))
    with UnitOfWork(database) as uow:  # the outlet revises the story, as the poller stores it
        article = uow.session.get_one(Article, article_id)
        revision = ArticleRevision(
            article_id=article_id, number=2, title="خبر", content_html="<p>Twelve killed</p>",
            content_hash="x",
        )  # fmt: skip
        uow.session.add(revision)
        uow.session.flush()
        article.current_revision_id = revision.id
        article.source_revised = True
        uow.commit()
    assert tina.article()["source_revised"] is True
    diff = ok(tina.api.get(f"{tina.path}/source-diff"))
    assert (diff["before"], diff["after"]) == ("source revision 1", "source revision 2")
    assert "-Ten killed" in diff["lines"] and "+Twelve killed" in diff["lines"]
    saved = ok(tina.save("Twelve killed", "<p>Twelve killed</p>"))
    assert saved["source_revised"] is False  # saved against the newest source text


def test_lapsed_claims_return_to_the_desk(
    database: Database, settings: Settings, web: WebServer, people: dict[str, str]
) -> None:
    article_id = make_article(database, make_source(database))
    tina = Desk(web, people["tina"], article_id)
    ok(tina.act("claim"))
    assert timers.sweep(database, settings) == 0
    later = utcnow() + dt.timedelta(minutes=settings.claim_minutes + 1)
    assert timers.sweep(database, settings, now=later) == 1
    article = tina.article()
    assert (article["state"], article["assignee"]) == ("new", None)
    assert article["history"][-1]["action"] == "expire_claim"
    assert article["history"][-1]["actor"] is None


def test_scheduled_articles_publish_on_time_with_the_real_worker_and_beat(
    tmp_path: Path, pg_url: str, pg_database: Database, redis_prefix: str, procs: Processes
) -> None:
    settings = make_settings(tmp_path / "var", database_url=pg_url, broker_url=REDIS_URL,
                             redis_prefix=redis_prefix, review_sweep_seconds=0.5)  # fmt: skip
    database = pg_database
    web = WebServer(settings).start()
    try:
        editor = make_user(database, f"ed-{redis_prefix[:8]}", Role.EDITOR)[1]
        article_id = make_article(database, make_source(database))
        ed = Desk(web, editor, article_id)
        ed.to_review("Scheduled story")
        ok(ed.act("approve"))
        at = utcnow() + dt.timedelta(seconds=3)
        scheduled = ok(ed.act("schedule", at=at.isoformat()))
        assert scheduled["state"] == "scheduled"
        env = settings_env(settings)
        procs.start("worker", ["worker", "--queues", "review"], env)
        procs.start("beat", ["beat"], env)
        published = wait_for(
            lambda: (a := ed.article())["state"] == "published" and a,
            timeout=60,
            what="the scheduled article to publish",
        )
        last = published["history"][-1]
        assert (last["action"], last["actor"]) == ("publish_scheduled", None)
        assert dt.datetime.fromisoformat(last["at"]) >= at
    finally:
        web.stop()


def test_a_write_based_on_an_earlier_read_in_the_same_session_is_refused(
    pg_database: Database, settings: Settings
) -> None:
    """The lock re-reads the row: a session that loaded the article before someone else changed
    it must not act on its stale copy (a lost update)."""

    database = pg_database
    tina = make_user(database, "tina", Role.TRANSLATOR)[0]
    tom = make_user(database, "tom", Role.TRANSLATOR)[0]
    article_id = make_article(database, make_source(database))
    with UnitOfWork(database) as slow:
        seen = slow.session.get_one(Article, article_id).lock_version  # loaded early
        with UnitOfWork(database) as fast:
            take_action(fast, article_id, fast.session.get_one(User, tom),
                        wf.Request(wf.Action.CLAIM), settings, seen)  # fmt: skip
            fast.commit()
        with pytest.raises(Conflict, match="changed since you loaded it"):
            take_action(slow, article_id, slow.session.get_one(User, tina),
                        wf.Request(wf.Action.CLAIM), settings, seen)  # fmt: skip


def test_unscheduling_before_the_time_keeps_the_article_back(
    database: Database, settings: Settings, web: WebServer, people: dict[str, str]
) -> None:
    article_id = make_article(database, make_source(database))
    ed = Desk(web, people["ed"], article_id)
    ed.to_review()
    ok(ed.act("approve"))
    ok(ed.act("schedule", at=(utcnow() + dt.timedelta(hours=1)).isoformat()))
    ok(ed.act("unschedule"))
    assert timers.sweep(database, settings, now=utcnow() + dt.timedelta(hours=2)) == 0
    assert ed.article()["state"] == "approved"
    # A sweep that read the article as due just before an editor unscheduled it: under the
    # lock the rules see it is no longer scheduled, and nothing is published.
    ok(ed.act("schedule", at=(utcnow() + dt.timedelta(hours=1)).isoformat()))
    later = utcnow() + dt.timedelta(hours=2)
    listed = timers.due(database, later)
    assert listed == [(article_id, wf.Action.PUBLISH_SCHEDULED)]
    ok(ed.act("unschedule"))
    assert timers.fire(database, settings, listed, later) == 0
    assert ed.article()["state"] == ArticleState.APPROVED
