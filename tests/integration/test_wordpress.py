"""Publishing to a real WordPress on 127.0.0.1 (set up by scripts/wordpress-up.sh): posts
created, corrected, trashed; terms reused; no duplicate post after a crash; an outage waits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from services.enricher.handlers import enrich_translation, tools
from services.publisher import handlers
from shared.admin.destinations import DestinationCreate, add_destination
from shared.db import Database
from shared.domain import workflow as wf
from shared.domain.states import DeliveryState
from shared.http import SafeClient
from shared.models import Delivery, Destination
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.conftest import replace_settings
from tests.integration.test_publishing import _delivery, _make_due, _plan_from_outbox
from tests.support.factories import Newsroom, make_article, make_source
from tests.support.wordpress import WordPressSite, wordpress_site

BODY = (
    "<p>Two civilians were killed and five wounded on Tuesday by artillery shelling on the "
    "eastern quarter of Jasim in the northern Daraa countryside, the Syrian Civil Defence "
    "said.</p>"
)


@pytest.fixture(scope="session")
def site() -> WordPressSite:
    return wordpress_site()


@pytest.fixture
def publishing(settings: Settings, site: WordPressSite) -> Settings:
    return replace_settings(settings, fetch_allowed_hosts=[site.host_port])


@pytest.fixture
def client(publishing: Settings) -> Iterator[SafeClient]:
    c = SafeClient(publishing)
    yield c
    c.close()


def _site_destination(database: Database, settings: Settings, site: WordPressSite) -> int:
    with UnitOfWork(database) as uow:
        destination = add_destination(uow, settings, DestinationCreate(
            name="the site", kind="wordpress", url=site.url, secret=site.secret,
        ))  # fmt: skip
        uow.commit()
        return destination.id


def _publish(database: Database, settings: Settings, newsroom: Newsroom) -> tuple[int, str]:
    title = f"Shelling kills two in Jasim {uuid.uuid4().hex[:8]}"
    article_id = make_article(database, make_source(database, name=f"Syria TV {title[-8:]}"))
    newsroom.approve(article_id, title, BODY)
    with UnitOfWork(database) as uow:  # the enricher's tags, as its worker would store them
        enrich_translation(uow, article_id, tools())
        uow.commit()
    newsroom.act(article_id, newsroom.editor, wf.Action.PUBLISH)
    return article_id, title


def _deliver_all(database: Database, settings: Settings, client: SafeClient) -> list[Delivery]:
    """Plan what the outbox's new events ask for, send each delivery once; the ledger rows."""
    planned = _plan_from_outbox(database, settings)
    for delivery_id in planned:
        handlers.deliver(database, settings, client, delivery_id)
    return [_delivery(database, delivery_id) for delivery_id in planned]


def test_a_published_article_becomes_a_post_with_its_terms_then_is_corrected_and_trashed(
    database: Database, publishing: Settings, site: WordPressSite, client: SafeClient
) -> None:
    _site_destination(database, publishing, site)
    newsroom = Newsroom(database, publishing)
    article_id, title = _publish(database, publishing, newsroom)
    [delivery] = _deliver_all(database, publishing, client)
    assert delivery.state == DeliveryState.DELIVERED, delivery.last_error
    post = site.get(f"posts/{delivery.remote_id}", context="edit")
    assert post["title"]["raw"] == title
    assert post["status"] == "publish"
    assert post["slug"] == f"{title.lower().replace(' ', '-')}-{article_id}"
    assert "Syria TV" in post["content"]["raw"] and "Responsibility" in post["content"]["raw"]
    tags = {t["name"] for t in site.get("tags", include=",".join(map(str, post["tags"])))}
    assert {"Jasim", "Daraa"} <= tags

    newsroom.correct(article_id, f"{title}, corrected", BODY.replace("five", "six"))
    [correction] = _deliver_all(database, publishing, client)
    assert correction.state == DeliveryState.DELIVERED, correction.last_error
    assert correction.remote_id == delivery.remote_id  # the same post, updated
    post = site.get(f"posts/{delivery.remote_id}", context="edit")
    assert post["title"]["raw"] == f"{title}, corrected"
    assert "six wounded" in post["content"]["raw"]

    newsroom.withdraw(article_id)
    [withdrawal] = _deliver_all(database, publishing, client)
    assert withdrawal.state == DeliveryState.DELIVERED, withdrawal.last_error
    assert site.get(f"posts/{delivery.remote_id}", context="edit")["status"] == "trash"


def test_a_crash_between_the_post_and_the_commit_does_not_post_twice(
    database: Database, publishing: Settings, site: WordPressSite, client: SafeClient
) -> None:
    _site_destination(database, publishing, site)
    _publish(database, publishing, Newsroom(database, publishing))
    [delivery] = _deliver_all(database, publishing, client)
    # As if the worker died after WordPress created the post, before the ledger recorded it:
    # the delivery is still `sending` without a remote id, and its lease runs out.
    with UnitOfWork(database) as uow:
        uow.session.execute(
            update(Delivery).where(Delivery.id == delivery.id)
            .values(state=DeliveryState.SENDING.value, remote_id=None)
        )  # fmt: skip
        uow.commit()
    _make_due(database, delivery.id)
    assert handlers.deliver(database, publishing, client, delivery.id) == "delivered"
    again = _delivery(database, delivery.id)
    assert again.remote_id == delivery.remote_id  # found by its slug, not created again
    slug = site.get(f"posts/{delivery.remote_id}", context="edit")["slug"]
    assert len(site.get("posts", slug=slug, context="edit")) == 1


def test_a_site_outage_waits_and_resumes(
    database: Database, publishing: Settings, site: WordPressSite, client: SafeClient
) -> None:
    destination_id = _site_destination(database, publishing, site)
    with UnitOfWork(database) as uow:  # the site is down: nothing listens there
        uow.session.get_one(Destination, destination_id).url = "http://127.0.0.1:9"
        uow.commit()
    settings = replace_settings(publishing, fetch_allowed_hosts=[site.host_port, "127.0.0.1:9"])
    _publish(database, settings, Newsroom(database, settings))
    [delivery] = _deliver_all(database, settings, client)
    assert delivery.state == DeliveryState.FAILED
    assert delivery.next_attempt_at is not None
    with UnitOfWork(database) as uow:  # the site is back
        uow.session.get_one(Destination, destination_id).url = site.url
        uow.commit()
    _make_due(database, delivery.id)
    assert handlers.deliver(database, settings, client, delivery.id) == "delivered"


def test_a_wrong_application_password_fails_at_once_with_a_clear_error(
    database: Database, publishing: Settings, site: WordPressSite, client: SafeClient
) -> None:
    with UnitOfWork(database) as uow:
        add_destination(uow, publishing, DestinationCreate(
            name="the site", kind="wordpress", url=site.url, secret=f"{site.user}:wrong",
        ))  # fmt: skip
        uow.commit()
    _publish(database, publishing, Newsroom(database, publishing))
    [delivery] = _deliver_all(database, publishing, client)
    assert delivery.state == DeliveryState.DEAD
    assert "401" in (delivery.last_error or "")


def test_titles_are_text_on_the_site_whatever_they_contain(
    database: Database, publishing: Settings, site: WordPressSite, client: SafeClient
) -> None:
    _site_destination(database, publishing, site)
    newsroom = Newsroom(database, publishing)
    article_id = make_article(database, make_source(database, name=f"Horan {uuid.uuid4().hex[:6]}"))
    # Text that reads as markup (the editor typed it; the desk sent it escaped, as text).
    title = f"Bread &amp; fuel &lt;script&gt;alert(1)&lt;/script&gt; {uuid.uuid4().hex[:8]}"
    newsroom.approve(article_id, title, BODY, dek="Prices &lt;b&gt;up&lt;/b&gt;")
    newsroom.act(article_id, newsroom.editor, wf.Action.PUBLISH)
    [delivery] = _deliver_all(database, publishing, client)
    assert delivery.state == DeliveryState.DELIVERED, delivery.last_error
    post = site.get(f"posts/{delivery.remote_id}", context="edit")
    # Shown by the site as the text the editor wrote, never as markup.
    assert "<script" not in post["title"]["rendered"] and "<b>" not in post["excerpt"]["rendered"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in post["title"]["rendered"]
    assert "&lt;b&gt;up&lt;/b&gt;" in post["excerpt"]["rendered"]
