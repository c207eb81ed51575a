"""The publisher's work: plan deliveries when an article goes public (or stops being), and
send one delivery (claim, send outside any transaction, record the outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import structlog
from sqlalchemy import select

from shared import crypto
from shared.db import Database, exclusive
from shared.http import SafeClient
from shared.http.errors import FetchError
from shared.models import Destination, Partner
from shared.publishing import feeds, ledger
from shared.publishing.ledger import Claimed
from shared.publishing.render import NotPublished, PublishedArticle, render
from shared.security import redact
from shared.settings import Settings
from shared.uow import UnitOfWork

from .destinations import SENDERS, DeliveryFailed, Target

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Planned:
    deliveries: list[int]  # new deliveries, to send once committed
    refresh_feeds: bool  # the partners' feeds became stale: ask for a refresh


def plan(
    uow: UnitOfWork, settings: Settings, article_id: int, revision: int, action: str
) -> Planned:
    """Deliveries of this public revision to every destination (none twice; a partner's
    webhook when the partner's filters choose the article); and the partners' feeds, which
    carry every public change, are to be rendered again."""
    rendered: list[PublishedArticle] = []

    def wants(filters: dict[str, Any]) -> bool:
        if not filters:
            return True
        if not rendered:  # rendered once, and only for a partner with filters
            rendered.append(render(uow.session, settings, article_id))
        return feeds.matches(filters, rendered[0])

    created = ledger.plan(uow.session, article_id, revision, action, wants)
    feeds.mark_stale(uow.session)
    if created:
        log.info("deliveries_planned", article_id=article_id, revision=revision,
                 action=action, deliveries=created)  # fmt: skip
    # Asked every time, not only when this marked the documents stale: others (the enricher,
    # keyword edits) mark them without asking, and a refresh already running returns at once.
    return Planned(created, True)


def deliver(
    database: Database, settings: Settings, client: SafeClient, delivery_id: int
) -> str | None:
    """Send one delivery if it is due; returns the state it ended in (None: not due, or taken
    by another worker). Never raises: whatever goes wrong is recorded on the delivery, which
    is retried, then dead."""
    with UnitOfWork(database) as uow:
        claimed = ledger.claim(uow.session, settings, delivery_id)
        uow.commit()  # also what claim decided when it did not claim (superseded, later)
    if claimed is None:
        return None
    article: PublishedArticle | None = None
    try:
        with UnitOfWork(database, read_only=True) as uow:
            destination = uow.session.get_one(Destination, claimed.destination_id)
            target, problem = _target(settings, destination)
            try:
                article = render(uow.session, settings, claimed.article_id)
            except NotPublished:
                article = None  # never published: a withdrawal has nothing to take down
    except Exception as exc:
        log.exception("delivery_prepare_failed", delivery_id=claimed.id)
        failure = DeliveryFailed(f"could not prepare the delivery: {type(exc).__name__}: {exc}")
        return _record_failure(database, settings, claimed, failure)
    if problem is not None or target is None:
        return _record_failure(
            database, settings, claimed, DeliveryFailed(problem or "", retry=False)
        )
    sender = SENDERS.get(target.kind)
    if sender is None:
        return _record_failure(
            database, settings, claimed, DeliveryFailed(f"unknown kind {target.kind}", retry=False)
        )
    try:
        remote_id = sender(client, target, claimed, article)
    except DeliveryFailed as exc:
        return _record_failure(database, settings, claimed, _without_secret(exc, target))
    except Exception as exc:  # noqa: BLE001 - recorded; logged without a traceback that may hold credentials
        log.error("delivery_send_failed", delivery_id=claimed.id,
                  error=redact(f"{type(exc).__name__}: {exc}", target.secret))  # fmt: skip
        failure = DeliveryFailed(f"unexpected error: {type(exc).__name__}: {exc}")
        return _record_failure(database, settings, claimed, _without_secret(failure, target))
    with UnitOfWork(database) as uow:
        recorded = ledger.delivered(uow.session, claimed, remote_id)
        uow.commit()
    log.info("delivered", delivery_id=claimed.id, article_id=claimed.article_id,
             destination_id=claimed.destination_id, remote_id=remote_id,
             attempt=claimed.attempt)  # fmt: skip
    return "delivered" if recorded else None


def _without_secret(failure: DeliveryFailed, target: Target) -> DeliveryFailed:
    """The failure as it may be stored, logged and shown: a site's error page may repeat the
    request it was sent, credentials included."""
    message = redact(str(failure), target.secret)
    if message == str(failure):
        return failure
    return DeliveryFailed(message, retry=failure.retry, retry_after=failure.retry_after,
                          disable=failure.disable)  # fmt: skip


def _target(settings: Settings, destination: Destination) -> tuple[Target | None, str | None]:
    if not destination.enabled:
        return None, f"destination {destination.name} is disabled"
    secret = None
    if destination.secret_encrypted:
        try:
            secret = crypto.decrypt(settings, destination.secret_encrypted)
        except crypto.CannotDecrypt:
            return None, (
                f"the credentials of destination {destination.name} cannot be read with this "
                "secret key: set them again"
            )
    return Target(destination.id, destination.kind, destination.url, dict(destination.config),
                  secret), None  # fmt: skip


def _record_failure(
    database: Database, settings: Settings, claimed: Claimed, exc: DeliveryFailed
) -> str | None:
    with UnitOfWork(database) as uow:
        state = ledger.failed(
            uow.session, settings, claimed, str(exc), retry=exc.retry, retry_after=exc.retry_after
        )
        if exc.disable:
            destination = uow.session.get_one(Destination, claimed.destination_id)
            destination.enabled = False
            destination.disabled_reason = str(exc)
        uow.commit()
    log.warning("delivery_failed", delivery_id=claimed.id, article_id=claimed.article_id,
                destination_id=claimed.destination_id, attempt=claimed.attempt, state=state,
                error=str(exc), disabled=exc.disable)  # fmt: skip
    return state


def refresh_feeds(database: Database, settings: Settings, client: SafeClient | None) -> int:
    """Render partners' stale feed documents again; ping the WebSub hub for those whose bytes
    changed (a failed ping is logged: partners still poll). Returns how many changed.

    One refresh renders at a time (the newest bytes are stored last). A refresh asked for
    while another runs returns at once instead of holding a publisher process while it waits:
    the running one looks for stale documents again before it ends, and after."""
    changed = 0
    while True:
        with exclusive(database, "feeds-refresh") as mine:
            if not mine:
                return changed
            while keys := _claim_stale(database):
                changed += _render(database, settings, client, keys)
        with UnitOfWork(database, read_only=True) as uow:
            if not feeds.any_stale(uow.session):  # marked while the lock was being let go
                return changed


def _claim_stale(database: Database) -> list[tuple[int, str]]:
    with UnitOfWork(database) as uow:
        keys = feeds.claim_stale(uow.session) + feeds.missing(uow.session)
        uow.commit()
    return keys


def _render(
    database: Database, settings: Settings, client: SafeClient | None, keys: list[tuple[int, str]]
) -> int:
    try:
        with UnitOfWork(database) as uow:
            changed = feeds.refresh(uow.session, settings, keys, commit=uow.commit)
            uow.commit()
    except BaseException:
        # Not rendered: stale again, so the retry or the next sweep renders them.
        with UnitOfWork(database) as uow:
            feeds.mark_stale(uow.session, keys)
            uow.commit()
        raise
    if changed:
        log.info("feeds_changed", documents=len(changed))
    if changed and settings.feeds_websub_hub and client is not None:
        with UnitOfWork(database, read_only=True) as uow:
            slugs = dict(uow.session.execute(select(Partner.id, Partner.slug)).all())
        for partner_id, fmt in changed:
            feed = feeds.feed_url(settings, slugs[partner_id], fmt)
            _ping_hub(client, settings.feeds_websub_hub, feed)
    return len(changed)


def _ping_hub(client: SafeClient, hub: str, feed: str) -> None:
    body = urlencode({"hub.mode": "publish", "hub.url": feed}).encode()
    try:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        result = client.request("POST", hub, data=body, headers=form)
    except FetchError as exc:
        log.warning("websub_ping_failed", hub=hub, feed=feed, error=str(exc))
        return
    if not 200 <= result.status < 300:
        log.warning("websub_ping_refused", hub=hub, feed=feed, status=result.status)
