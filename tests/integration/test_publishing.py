"""Publishing: the one renderer, the delivery ledger and signed webhooks, on real databases
and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from standardwebhooks import Webhook

from services.publisher import handlers
from services.publisher.destinations import webhook_secrets
from shared.admin.destinations import DestinationCreate, add_destination
from shared.admin.partners import (
    PartnerCreate,
    PartnerFilters,
    PartnerUpdate,
    add_partner,
    update_partner,
)
from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.events import ArticlePublished, ArticleWithdrawn
from shared.domain.states import DeliveryState, Role
from shared.http import SafeClient
from shared.models import Delivery, Destination, OutboxEvent, utcnow
from shared.publishing import ledger
from shared.publishing.render import NotPublished, render
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import replace_settings, settings_env
from tests.support.factories import Newsroom, make_article, make_source, make_user
from tests.support.httpserver import LocalServer, Reply
from tests.support.processes import run
from tests.support.web import WebServer

SECRET_OLD = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_NEW = "whsec_" + "c2VjcmV0LWZvci1yb3RhdGlvbi10ZXN0cw=="


@pytest.fixture
def publishing(settings: Settings, server: LocalServer) -> Settings:
    """Settings that let the publisher reach the test receiver on loopback."""
    return replace_settings(
        settings, fetch_allowed_hosts=[server.host_port], site_url="https://news.example"
    )


@pytest.fixture
def client(publishing: Settings) -> Iterator[SafeClient]:
    c = SafeClient(publishing)
    yield c
    c.close()


def _webhook(database: Database, settings: Settings, url: str, secret: str = SECRET_OLD,
             name: str = "partner hook") -> int:  # fmt: skip
    with UnitOfWork(database) as uow:
        destination = add_destination(
            uow, settings, DestinationCreate(name=name, kind="webhook", url=url, secret=secret)
        )
        uow.commit()
        return destination.id


def _published(database: Database, settings: Settings, title: str = "Shelling kills two") -> int:
    source = make_source(database, name="Syria TV")
    article_id = make_article(database, source, title="قصف")
    body = "<p>Two civilians were killed.</p><script>x</script>"
    Newsroom(database, settings).publish(article_id, title=title, body=body)
    return article_id


def _hooked(database: Database, settings: Settings, server: LocalServer,
            reply: Reply) -> tuple[int, int]:  # fmt: skip
    """A webhook answering `reply`, an article published, its delivery planned: the article's
    and the delivery's ids."""
    server.route("/hook", reply)
    _webhook(database, settings, server.url("/hook"))
    article_id = _published(database, settings)
    [delivery_id] = _plan_from_outbox(database, settings)
    return article_id, delivery_id


def _plan_from_outbox(database: Database, settings: Settings) -> list[int]:
    """What the publisher's consumers do with the outbox's publication events."""
    created: list[int] = []
    with UnitOfWork(database) as uow:
        events = uow.session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.type.in_([ArticlePublished.type, ArticleWithdrawn.type]))
            .order_by(OutboxEvent.seq)
        ).all()
        for event in events:
            data = event.data
            if event.type == ArticlePublished.type:
                action = ledger.Action.CORRECT if data["correction"] else ledger.Action.PUBLISH
            else:
                action = ledger.Action.WITHDRAW
            planned = handlers.plan(uow, settings, data["article_id"], data["revision"], action)
            created += planned.deliveries
        uow.commit()
    return created


def _delivery(database: Database, delivery_id: int) -> Delivery:
    with UnitOfWork(database, read_only=True) as uow:
        delivery = uow.session.get_one(Delivery, delivery_id)
        uow.session.expunge(delivery)
        return delivery


def _make_due(database: Database, delivery_id: int) -> None:
    """Let the retry's time come (the sweep would send it then)."""
    with UnitOfWork(database) as uow:
        uow.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id)
            .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1))
        )
        uow.commit()


def test_the_renderer_gives_the_approved_text_with_attribution_and_disclaimer(
    database: Database, publishing: Settings
) -> None:
    article_id = _published(database, publishing)
    with UnitOfWork(database, read_only=True) as uow:
        article = render(uow.session, publishing, article_id)
    assert article.title == "Shelling kills two"
    assert "<script>" not in article.body_html and "Two civilians" in article.body_html
    assert article.attribution == "Shelling kills two, Syria TV says"
    assert "Responsibility for the information" in article.disclaimer
    assert article.attribution in article.content_html
    assert article.disclaimer in article.content_html
    assert article.slug == f"shelling-kills-two-{article_id}"
    assert article.canonical_url == f"https://news.example/shelling-kills-two-{article_id}/"
    assert article.revision == 1 and article.status == "published"
    assert article.id.startswith("urn:uuid:")
    assert article.translator is not None


def test_a_draft_is_never_rendered(database: Database, publishing: Settings) -> None:
    source = make_source(database)
    article_id = make_article(database, source)
    Newsroom(database, publishing).approve(article_id, "Approved, not published", "<p>x</p>")
    with UnitOfWork(database, read_only=True) as uow, pytest.raises(NotPublished):
        render(uow.session, publishing, article_id)


def test_corrections_keep_the_id_and_url_and_bump_the_revision(
    database: Database, publishing: Settings
) -> None:
    article_id = _published(database, publishing)
    with UnitOfWork(database, read_only=True) as uow:
        first = render(uow.session, publishing, article_id)
    Newsroom(database, publishing).correct(article_id, "Shelling kills three", "<p>Three.</p>")
    with UnitOfWork(database, read_only=True) as uow:
        corrected = render(uow.session, publishing, article_id)
    assert corrected.title == "Shelling kills three"
    assert (corrected.id, corrected.slug, corrected.canonical_url) == (
        first.id, first.slug, first.canonical_url
    )  # fmt: skip
    assert corrected.revision == 2
    assert corrected.updated_at > first.updated_at
    assert corrected.first_published_at == first.first_published_at


def test_each_publication_is_planned_once_and_a_disabled_destination_waits_for_it(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    server.route("/a", Reply(204))
    server.route("/b", Reply(204))
    _webhook(database, publishing, server.url("/a"), name="a")
    disabled = _webhook(database, publishing, server.url("/b"), name="b")
    with UnitOfWork(database) as uow:
        uow.session.get_one(Destination, disabled).enabled = False
        uow.commit()
    _published(database, publishing)
    created = _plan_from_outbox(database, publishing)
    assert len(created) == 2
    assert _plan_from_outbox(database, publishing) == []  # a redelivered event plans nothing new
    with UnitOfWork(database, read_only=True) as uow:
        due = ledger.due(uow.session)
    assert len(due) == 1  # the disabled one waits...
    for delivery_id in created:
        handlers.deliver(database, publishing, client, delivery_id)
    assert (len(server.hits("/a")), len(server.hits("/b"))) == (1, 0)
    with UnitOfWork(database) as uow:
        uow.session.get_one(Destination, disabled).enabled = True
        uow.commit()
    for delivery_id in created:  # ...and goes out once the destination is back
        handlers.deliver(database, publishing, client, delivery_id)
    assert (len(server.hits("/a")), len(server.hits("/b"))) == (1, 1)


def test_webhooks_are_signed_by_every_secret_and_keep_their_id_across_retries(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    answers = iter([Reply(503, b"busy"), Reply(204)])
    server.route("/hook", lambda _request: next(answers))
    _webhook(database, publishing, server.url("/hook"), secret=f"{SECRET_OLD} {SECRET_NEW}")
    article_id = _published(database, publishing)
    [delivery_id] = _plan_from_outbox(database, publishing)

    assert handlers.deliver(database, publishing, client, delivery_id) == DeliveryState.FAILED
    failed = _delivery(database, delivery_id)
    assert failed.attempts == 1 and "503" in (failed.last_error or "")
    assert handlers.deliver(database, publishing, client, delivery_id) is None  # not yet due
    _make_due(database, delivery_id)
    assert handlers.deliver(database, publishing, client, delivery_id) == "delivered"

    first, second = server.hits("/hook")
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for request in (first, second):
        for secret in webhook_secrets(f"{SECRET_OLD} {SECRET_NEW}"):
            # The spec's reference library accepts the request with either secret.
            payload = Webhook(secret).verify(request.body, request.headers)
            assert payload["type"] == "article.published"
    data = json.loads(second.body)["data"]
    assert data["article_id"] == article_id
    assert data["attribution"] in data["content_html"]
    assert _delivery(database, delivery_id).state == DeliveryState.DELIVERED


def test_a_tampered_webhook_does_not_verify(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    _, delivery_id = _hooked(database, publishing, server, Reply(200))
    handlers.deliver(database, publishing, client, delivery_id)
    [request] = server.hits("/hook")
    tampered = request.body.replace(b"Shelling", b"Shelled!")
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET_OLD).verify(tampered, request.headers)


@pytest.mark.parametrize(
    ("reply", "state"),
    [(Reply(400, b"bad"), DeliveryState.DEAD), (Reply(422), DeliveryState.DEAD),
     (Reply(408), DeliveryState.FAILED), (Reply(500), DeliveryState.FAILED)],
)  # fmt: skip
def test_client_errors_fail_at_once_and_the_rest_are_retried(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient,
    reply: Reply, state: DeliveryState,
) -> None:  # fmt: skip
    _, delivery_id = _hooked(database, publishing, server, reply)
    assert handlers.deliver(database, publishing, client, delivery_id) == state
    assert len(server.hits("/hook")) == 1


def test_gone_disables_the_endpoint(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    server.route("/hook", Reply(410))
    destination_id = _webhook(database, publishing, server.url("/hook"))
    article_id = _published(database, publishing)
    [delivery_id] = _plan_from_outbox(database, publishing)
    assert handlers.deliver(database, publishing, client, delivery_id) == DeliveryState.DEAD
    with UnitOfWork(database, read_only=True) as uow:
        destination = uow.session.get_one(Destination, destination_id)
        assert destination.enabled is False
        assert "410" in (destination.disabled_reason or "")
    Newsroom(database, publishing).withdraw(article_id)
    [withdrawal] = _plan_from_outbox(database, publishing)
    assert handlers.deliver(database, publishing, client, withdrawal) is None  # it waits
    assert len(server.hits("/hook")) == 1  # nothing more goes to a disabled endpoint


def test_retry_after_is_honoured(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    _, delivery_id = _hooked(
        database, publishing, server, Reply(429, headers={"Retry-After": "7200"})
    )
    before = utcnow()
    assert handlers.deliver(database, publishing, client, delivery_id) == DeliveryState.FAILED
    next_attempt = _delivery(database, delivery_id).next_attempt_at
    assert next_attempt is not None
    assert next_attempt >= before + dt.timedelta(seconds=7200)


def test_the_last_attempt_is_dead_and_a_replay_sends_it_again(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    settings = replace_settings(publishing, delivery_max_attempts=2)
    answers = iter([Reply(500), Reply(500), Reply(200)])
    server.route("/hook", lambda _request: next(answers))
    _webhook(database, settings, server.url("/hook"))
    _published(database, settings)
    [delivery_id] = _plan_from_outbox(database, publishing)
    assert handlers.deliver(database, settings, client, delivery_id) == DeliveryState.FAILED
    _make_due(database, delivery_id)
    assert handlers.deliver(database, settings, client, delivery_id) == DeliveryState.DEAD
    _make_due(database, delivery_id)
    assert handlers.deliver(database, settings, client, delivery_id) is None  # dead stays dead
    with UnitOfWork(database) as uow:
        assert ledger.replay(uow.session, [delivery_id]) == 1
        uow.commit()
    assert handlers.deliver(database, settings, client, delivery_id) == "delivered"
    assert len(server.hits("/hook")) == 3


def test_a_delivery_left_sending_by_a_killed_worker_is_sent_after_its_lease(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    _, delivery_id = _hooked(database, publishing, server, Reply(200))
    with UnitOfWork(database) as uow:  # a worker claims it, then dies before sending
        assert ledger.claim(uow.session, publishing, delivery_id) is not None
        uow.commit()
    with UnitOfWork(database, read_only=True) as uow:
        assert delivery_id not in ledger.due(uow.session)  # leased
        lease_end = _delivery(database, delivery_id).next_attempt_at
        assert lease_end is not None
        assert delivery_id in ledger.due(uow.session, now=lease_end + dt.timedelta(seconds=1))
    _make_due(database, delivery_id)
    assert handlers.deliver(database, publishing, client, delivery_id) == "delivered"
    assert _delivery(database, delivery_id).attempts == 2


def test_a_late_outcome_from_a_worker_whose_lease_ran_out_is_dropped(
    database: Database, publishing: Settings
) -> None:
    _webhook(database, publishing, "http://127.0.0.1:9/hook")
    _published(database, publishing)
    [delivery_id] = _plan_from_outbox(database, publishing)
    with UnitOfWork(database) as uow:
        slow = ledger.claim(uow.session, publishing, delivery_id)
        uow.commit()
    _make_due(database, delivery_id)
    with UnitOfWork(database) as uow:
        fast = ledger.claim(uow.session, publishing, delivery_id)
        assert fast is not None
        assert ledger.delivered(uow.session, fast, "remote-1")
        uow.commit()
    assert slow is not None
    with UnitOfWork(database) as uow:
        assert ledger.failed(uow.session, publishing, slow, "timed out") is None
        uow.commit()
    assert _delivery(database, delivery_id).state == DeliveryState.DELIVERED


def test_a_newer_revision_supersedes_what_has_not_gone_out(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    server.route("/hook", Reply(500))
    _webhook(database, publishing, server.url("/hook"))
    article_id = _published(database, publishing)
    [first] = _plan_from_outbox(database, publishing)
    handlers.deliver(database, publishing, client, first)
    Newsroom(database, publishing).correct(article_id, "Shelling kills three", "<p>Three.</p>")
    [second] = _plan_from_outbox(database, publishing)
    assert _delivery(database, first).state == DeliveryState.SUPERSEDED
    server.route("/hook", Reply(200))
    assert handlers.deliver(database, publishing, client, second) == "delivered"
    payload = json.loads(server.hits("/hook")[-1].body)
    assert payload["type"] == "article.corrected"
    assert payload["data"]["title"] == "Shelling kills three"
    assert payload["data"]["revision"] == 2


def test_a_withdrawal_is_announced(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    server.route("/hook", Reply(200))
    _webhook(database, publishing, server.url("/hook"))
    article_id = _published(database, publishing)
    for delivery_id in _plan_from_outbox(database, publishing):
        handlers.deliver(database, publishing, client, delivery_id)
    Newsroom(database, publishing).withdraw(article_id)
    [withdrawal] = _plan_from_outbox(database, publishing)
    assert handlers.deliver(database, publishing, client, withdrawal) == "delivered"
    payload = json.loads(server.hits("/hook")[-1].body)
    assert payload["type"] == "article.withdrawn"
    assert payload["data"]["article_id"] == article_id
    assert "body_html" not in payload["data"]  # a withdrawn text is not sent again


def test_backoff_grows_is_capped_and_jittered(publishing: Settings) -> None:
    settings = replace_settings(
        publishing, delivery_backoff_seconds=10, delivery_backoff_max_seconds=100
    )
    waits = [ledger.backoff(settings, attempt).total_seconds() for attempt in range(1, 9)]
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20
    assert all(50 <= w <= 100 for w in waits[4:])
    assert len({ledger.backoff(settings, 3) for _ in range(20)}) > 1


def test_operators_add_destinations_and_replay_dead_deliveries_from_the_command_line(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    env = {**settings_env(publishing), "COLUMNS": "200"}  # a wide terminal: whole cells
    added = run(["destinations", "add", "partner hook", "--kind", "webhook",
                 "--url", server.url("/hook")], env)  # fmt: skip
    assert added.returncode == 0, added.stderr
    generated = added.stdout.strip().splitlines()[-1]
    assert generated.startswith("whsec_")
    bad = run(["destinations", "add", "site", "--kind", "wordpress", "--url",
               "http://127.0.0.1:8081", "--secret", "no-colon"], env)  # fmt: skip
    assert bad.returncode == 2 and "user:application-password" in bad.stderr

    server.route("/hook", Reply(400, b"unknown field"))
    _published(database, publishing)
    [delivery_id] = _plan_from_outbox(database, publishing)
    assert handlers.deliver(database, publishing, client, delivery_id) == DeliveryState.DEAD
    listed = run(["deliveries", "list", "--state", "dead"], env)
    assert listed.returncode == 0 and "partner hook" in listed.stdout and "400" in listed.stdout
    assert run(["deliveries", "replay"], env).returncode == 2
    replayed = run(["deliveries", "replay", str(delivery_id)], env)
    assert replayed.returncode == 0 and "1 delivery will be sent again" in replayed.stdout
    server.route("/hook", Reply(200))
    assert handlers.deliver(database, publishing, client, delivery_id) == "delivered"
    # The generated secret is the one that signs.
    Webhook(generated).verify(server.hits("/hook")[-1].body, server.hits("/hook")[-1].headers)


def test_editors_see_deliveries_and_replay_them_through_the_api(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    article_id, delivery_id = _hooked(database, publishing, server, Reply(404))
    handlers.deliver(database, publishing, client, delivery_id)
    editor = make_user(database, "desk-editor", Role.EDITOR)[1]
    translator = make_user(database, "desk-translator", Role.TRANSLATOR)[1]
    web = WebServer(publishing).start()
    try:
        api = web.api.with_token(editor)
        detail = api.get(f"/api/v1/articles/{article_id}").json()
        assert [(d["destination"], d["state"]) for d in detail["deliveries"]] == [
            ("partner hook", "dead")
        ]
        dead = api.get("/api/v1/deliveries", params={"state": "dead"}).json()
        assert [d["id"] for d in dead] == [delivery_id]
        assert api.post("/api/v1/deliveries/replay", json={}).status_code == 422
        denied = web.api.with_token(translator).post(
            "/api/v1/deliveries/replay", json={"all_dead": True}
        )
        assert denied.status_code == 403
        replayed = api.post("/api/v1/deliveries/replay", json={"ids": [delivery_id]})
        assert replayed.json() == {"replayed": 1}
        assert _delivery(database, delivery_id).state == DeliveryState.PENDING
        body = {"name": "bad", "kind": "webhook", "url": server.url("/x"), "secret": "plain"}
        refused = api.post("/api/v1/destinations", json=body)
        assert refused.status_code == 403  # admins only
    finally:
        web.stop()


def test_a_withdrawal_during_a_correction_takes_down_what_was_published(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    """The correction clears the approval; the public still saw the published version, and
    the withdrawal must identify it (not treat the article as never published)."""
    server.route("/hook", Reply(200))
    _webhook(database, publishing, server.url("/hook"))
    article_id = _published(database, publishing)
    newsroom = Newsroom(database, publishing)
    newsroom.act(article_id, newsroom.editor, wf.Action.CORRECT, note="a figure is wrong")
    with UnitOfWork(database, read_only=True) as uow:  # while corrected: still the published text
        assert render(uow.session, publishing, article_id).title == "Shelling kills two"
    newsroom.withdraw(article_id)
    for delivery_id in _plan_from_outbox(database, publishing):
        handlers.deliver(database, publishing, client, delivery_id)
    payload = json.loads(server.hits("/hook")[-1].body)
    assert payload["type"] == "article.withdrawn"
    assert payload["data"]["id"].startswith("urn:uuid:")


def test_one_article_goes_to_one_destination_one_delivery_at_a_time(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    server.route("/hook", Reply(200))
    _webhook(database, publishing, server.url("/hook"))
    article_id = _published(database, publishing)
    [first] = _plan_from_outbox(database, publishing)
    with UnitOfWork(database) as uow:  # a worker is sending the first (slowly)
        assert ledger.claim(uow.session, publishing, first) is not None
        uow.commit()
    Newsroom(database, publishing).correct(article_id, "Shelling kills three", "<p>Three.</p>")
    [second] = _plan_from_outbox(database, publishing)
    assert handlers.deliver(database, publishing, client, second) is None  # waits its turn
    waiting = _delivery(database, second)
    assert waiting.state == DeliveryState.PENDING
    assert waiting.next_attempt_at == _delivery(database, first).next_attempt_at
    # The first worker dies; once its lease runs out, the older one is superseded, not sent.
    _make_due(database, first)
    assert handlers.deliver(database, publishing, client, first) is None
    assert _delivery(database, first).state == DeliveryState.SUPERSEDED
    _make_due(database, second)
    assert handlers.deliver(database, publishing, client, second) == "delivered"
    assert json.loads(server.hits("/hook")[-1].body)["data"]["title"] == "Shelling kills three"


def test_an_unexpected_answer_is_recorded_and_retried_not_lost(
    database: Database, publishing: Settings, server: LocalServer, client: SafeClient
) -> None:
    _, delivery_id = _hooked(
        database, publishing, server, Reply(429, headers={"Retry-After": "99999999999999999"})
    )
    assert handlers.deliver(database, publishing, client, delivery_id) == DeliveryState.FAILED
    server.route("/hook", Reply(302, headers={"Location": server.url("/elsewhere")}))
    _make_due(database, delivery_id)
    assert handlers.deliver(database, publishing, client, delivery_id) == DeliveryState.DEAD
    assert "302" in (_delivery(database, delivery_id).last_error or "")
    assert server.hits("/elsewhere") == []  # a POST is never turned into a GET elsewhere


def test_a_partners_webhook_gets_what_its_filters_choose_and_every_later_revision(
    database: Database, publishing: Settings, server: LocalServer
) -> None:
    server.route("/hook", Reply(204))
    server.route("/all", Reply(204))
    with UnitOfWork(database) as uow:
        baladi = PartnerFilters(sources=["Enab Baladi"])
        add_partner(uow, PartnerCreate(slug="baladi-only", name="Baladi only", filters=baladi))
        add_partner(uow, PartnerCreate(slug="switched-off", name="Off"))
        add_destination(uow, publishing, DestinationCreate(
            name="baladi hook", kind="webhook", url=server.url("/hook"), secret=SECRET_OLD,
            partner="baladi-only",
        ))  # fmt: skip
        off = add_destination(uow, publishing, DestinationCreate(
            name="off hook", kind="webhook", url=server.url("/all"), secret=SECRET_OLD,
            partner="switched-off",
        ))  # fmt: skip
        uow.commit()
    site = _webhook(database, publishing, server.url("/all"), name="site")
    with UnitOfWork(database) as uow:
        update_partner(uow, "switched-off", PartnerUpdate(active=False))
        uow.commit()
    newsroom = Newsroom(database, publishing)
    theirs = make_article(database, make_source(database, name="Enab Baladi"))
    other = make_article(database, make_source(database, name="Zaman al-Wasl"))
    newsroom.publish(theirs, title="Bread in Idlib")
    newsroom.publish(other, title="Water in Raqqa")
    _plan_from_outbox(database, publishing)
    hooks = {d.id: d.name for d in _destinations(database)}
    planned = {(d.article_id, hooks[d.destination_id]) for d in _deliveries_of(database)}
    assert planned == {(theirs, "baladi hook"), (theirs, "site"), (other, "site")}
    assert off.id not in {d.destination_id for d in _deliveries_of(database)}
    assert site in {d.destination_id for d in _deliveries_of(database)}
    # Once the story went to the partner, its withdrawal follows it there, whatever the
    # filters say of the withdrawn article.
    with UnitOfWork(database) as uow:
        update_partner(uow, "baladi-only", PartnerUpdate(
            filters=PartnerFilters(sources=["Someone else"])))  # fmt: skip
        uow.commit()
    newsroom.withdraw(theirs)
    _plan_from_outbox(database, publishing)
    withdrawals = {(d.article_id, hooks[d.destination_id])
                   for d in _deliveries_of(database) if d.action == "withdraw"}  # fmt: skip
    assert withdrawals == {(theirs, "baladi hook"), (theirs, "site")}


def _destinations(database: Database) -> list[Destination]:
    with UnitOfWork(database, read_only=True) as uow:
        rows = list(uow.session.scalars(select(Destination)))
        uow.session.expunge_all()
        return rows


def _deliveries_of(database: Database) -> list[Delivery]:
    with UnitOfWork(database, read_only=True) as uow:
        rows = list(uow.session.scalars(select(Delivery).order_by(Delivery.id)))
        uow.session.expunge_all()
        return rows
