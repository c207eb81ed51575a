"""The publisher's Celery tasks."""

from __future__ import annotations

import functools

from celery import current_app

from shared.db import get_database
from shared.domain.events import ArticlePublished, ArticleWithdrawn
from shared.http import SafeClient
from shared.publishing import feeds, ledger
from shared.publishing.ledger import Action
from shared.settings import get_settings
from shared.tasks import consumer, task
from shared.uow import UnitOfWork

from . import handlers


def _send_planned(planned: handlers.Planned) -> None:
    for delivery_id in planned.deliveries:
        current_app.send_task("publisher.deliver", args=[delivery_id], queue="publish")
    if planned.refresh_feeds:
        current_app.send_task("publisher.refresh_feeds", queue="publish")


@consumer("publisher.article_published", ArticlePublished)
def article_published(uow: UnitOfWork, event: ArticlePublished) -> None:
    action = Action.CORRECT if event.correction else Action.PUBLISH
    uow.after_commit(functools.partial(_send_planned, handlers.plan(
        uow, get_settings(), event.article_id, event.revision, action)))  # fmt: skip


@consumer("publisher.article_withdrawn", ArticleWithdrawn)
def article_withdrawn(uow: UnitOfWork, event: ArticleWithdrawn) -> None:
    uow.after_commit(functools.partial(_send_planned, handlers.plan(
        uow, get_settings(), event.article_id, event.revision, Action.WITHDRAW)))  # fmt: skip


@functools.cache
def _client() -> SafeClient:
    return SafeClient(get_settings())


@task("publisher.deliver")
def deliver(delivery_id: int) -> str | None:
    """Send one delivery (a no-op unless it is due and nobody else holds it)."""
    return handlers.deliver(get_database(), get_settings(), _client(), delivery_id)


@task("publisher.refresh_feeds")
def refresh_feeds() -> int:
    """Render the partners' feeds that content changes made stale."""
    return handlers.refresh_feeds(get_database(), get_settings(), _client())


@task("publisher.sweep_deliveries")
def sweep_deliveries() -> int:
    """Beat: send the deliveries whose time came (retries, and ones a dead worker left), and
    render stale feeds (in case the task asking for it was lost)."""
    with UnitOfWork(get_database(), read_only=True) as uow:
        due = ledger.due(uow.session)
        stale = feeds.any_stale(uow.session)
    _send_planned(handlers.Planned(due, stale))
    return len(due)
