"""The publisher's Celery tasks."""

from __future__ import annotations

import functools

from celery import current_app

from shared.db import get_database
from shared.domain.events import ArticlePublished, ArticleWithdrawn
from shared.http import SafeClient
from shared.publishing import ledger
from shared.publishing.ledger import Action
from shared.settings import get_settings
from shared.tasks import consumer, task
from shared.uow import UnitOfWork

from . import handlers


def _send(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        current_app.send_task("publisher.deliver", args=[delivery_id], queue="publish")


@consumer("publisher.article_published", ArticlePublished)
def article_published(uow: UnitOfWork, event: ArticlePublished) -> None:
    action = Action.CORRECT if event.correction else Action.PUBLISH
    created = handlers.plan(uow, event.article_id, event.revision, action)
    uow.after_commit(functools.partial(_send, created))


@consumer("publisher.article_withdrawn", ArticleWithdrawn)
def article_withdrawn(uow: UnitOfWork, event: ArticleWithdrawn) -> None:
    created = handlers.plan(uow, event.article_id, event.revision, Action.WITHDRAW)
    uow.after_commit(functools.partial(_send, created))


@functools.cache
def _client() -> SafeClient:
    return SafeClient(get_settings())


@task("publisher.deliver")
def deliver(delivery_id: int) -> str | None:
    """Send one delivery (a no-op unless it is due and nobody else holds it)."""
    return handlers.deliver(get_database(), get_settings(), _client(), delivery_id)


@task("publisher.sweep_deliveries")
def sweep_deliveries() -> int:
    """Beat: send the deliveries whose time came (retries, and ones a dead worker left)."""
    with UnitOfWork(get_database(), read_only=True) as uow:
        due = ledger.due(uow.session)
    _send(due)
    return len(due)
