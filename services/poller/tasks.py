"""The poller's Celery tasks: thin wrappers that hand ids to the handlers."""

from __future__ import annotations

import functools

from celery import current_app
from sqlalchemy import select

from shared.db import get_database
from shared.domain.events import SourceContentPushed, SourcePollRequested
from shared.http import SafeClient
from shared.models import Source, utcnow
from shared.settings import get_settings
from shared.tasks import consumer, task
from shared.uow import UnitOfWork

from . import handlers, websub


@functools.cache
def _client() -> SafeClient:
    return SafeClient(get_settings())


def _send_poll(lease: handlers.PollLease) -> None:
    current_app.send_task("poller.poll_source", args=[lease.source_id, lease.token], queue="poll")


@task("poller.sweep_due_sources")
def sweep_due_sources() -> int:
    """Beat: lease every due source and send one poll task for each."""
    settings = get_settings()
    with UnitOfWork() as uow:
        leases = handlers.take_due_sources(
            uow, utcnow(), settings.poll_lease_seconds, settings.poll_per_host
        )
        for lease in leases:
            uow.after_commit(functools.partial(_send_poll, lease))
        uow.commit()
    return len(leases)


@task("poller.poll_source")
def poll_source(source_id: int, token: str) -> None:
    settings = get_settings()
    report = handlers.poll_source(
        get_database(), _client(), settings, handlers.PollLease(source_id, token)
    )
    if report is not None:
        _next_of_same_host(source_id)
    if report is not None and report.subscribe:
        current_app.send_task("poller.websub_subscribe", args=[source_id], queue="poll")


def _next_of_same_host(source_id: int) -> None:
    """A poll of this host just ended: start the next one due there rather than wait for the
    sweep (the per-host limit can leave a queue of due sources behind one host)."""
    settings = get_settings()
    with UnitOfWork() as uow:
        host = uow.session.scalar(select(Source.host).where(Source.id == source_id))
        if host is None:
            return
        leases = handlers.take_due_sources(
            uow, utcnow(), settings.poll_lease_seconds, settings.poll_per_host, limit=1, host=host
        )
        for lease in leases:
            uow.after_commit(functools.partial(_send_poll, lease))
        uow.commit()


@consumer("poller.poll_requested", SourcePollRequested)
def poll_requested(uow: UnitOfWork, event: SourcePollRequested) -> None:
    settings = get_settings()
    lease = handlers.request_poll(
        uow, event.source_id, utcnow(), settings.poll_lease_seconds, settings.poll_per_host
    )
    if lease is not None:
        uow.after_commit(functools.partial(_send_poll, lease))


@task("poller.websub_subscribe")
def websub_subscribe(source_id: int) -> None:
    websub.subscribe(get_database(), _client(), get_settings(), source_id)


@task("poller.sweep_websub")
def sweep_websub() -> int:
    """Beat: (re)send subscription requests that are due (renewals, retries)."""
    with UnitOfWork() as uow:
        due = websub.due_subscriptions(uow, get_settings(), utcnow())
        uow.commit()
    for source_id in due:
        current_app.send_task("poller.websub_subscribe", args=[source_id], queue="poll")
    return len(due)


@consumer("poller.content_pushed", SourceContentPushed)
def content_pushed(uow: UnitOfWork, event: SourceContentPushed) -> None:
    websub.ingest_pushed(uow, get_settings(), event.document_id)
