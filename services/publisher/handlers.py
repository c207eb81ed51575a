"""The publisher's work: plan deliveries when an article goes public (or stops being), and
send one delivery (claim, send outside any transaction, record the outcome)."""

from __future__ import annotations

import structlog

from shared import crypto
from shared.db import Database
from shared.http import SafeClient
from shared.models import Destination
from shared.publishing import ledger
from shared.publishing.ledger import Claimed
from shared.publishing.render import NotPublished, PublishedArticle, render
from shared.settings import Settings
from shared.uow import UnitOfWork

from .destinations import SENDERS, DeliveryFailed, Target

log = structlog.get_logger(__name__)


def plan(uow: UnitOfWork, article_id: int, revision: int, action: str) -> list[int]:
    """Deliveries of this public revision to every enabled destination (none twice)."""
    created = ledger.plan(uow.session, article_id, revision, action)
    if created:
        log.info("deliveries_planned", article_id=article_id, revision=revision,
                 action=action, deliveries=created)  # fmt: skip
    return created


def deliver(
    database: Database, settings: Settings, client: SafeClient, delivery_id: int
) -> str | None:
    """Send one delivery if it is due; returns the state it ended in (None: not due, or taken
    by another worker). Never raises for the destination's faults: they are recorded."""
    with UnitOfWork(database) as uow:
        claimed = ledger.claim(uow.session, settings, delivery_id)
        if claimed is None:
            return None
        destination = uow.session.get_one(Destination, claimed.destination_id)
        target, problem = _target(settings, destination)
        article: PublishedArticle | None = None
        try:
            article = render(uow.session, settings, claimed.article_id)
        except NotPublished:
            article = None  # never published: a withdrawal has nothing to take down
        uow.commit()
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
        return _record_failure(database, settings, claimed, exc)
    with UnitOfWork(database) as uow:
        recorded = ledger.delivered(uow.session, claimed, remote_id)
        uow.commit()
    log.info("delivered", delivery_id=claimed.id, article_id=claimed.article_id,
             destination_id=claimed.destination_id, remote_id=remote_id,
             attempt=claimed.attempt)  # fmt: skip
    return "delivered" if recorded else None


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
