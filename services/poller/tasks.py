"""The poller's Celery tasks: thin wrappers that hand ids to the handlers."""

from __future__ import annotations

import functools

from celery import current_app

from shared.db import get_database
from shared.domain.events import SourcePollRequested
from shared.http import SafeClient
from shared.models import utcnow
from shared.settings import get_settings
from shared.tasks import consumer, task
from shared.uow import UnitOfWork

from . import handlers


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
        leases = handlers.take_due_sources(uow, utcnow(), settings.poll_lease_seconds)
        for lease in leases:
            uow.after_commit(functools.partial(_send_poll, lease))
        uow.commit()
    return len(leases)


@task("poller.poll_source")
def poll_source(source_id: int, token: str) -> None:
    handlers.poll_source(
        get_database(), _client(), get_settings(), handlers.PollLease(source_id, token)
    )


@consumer("poller.poll_requested", SourcePollRequested)
def poll_requested(uow: UnitOfWork, event: SourcePollRequested) -> None:
    lease = handlers.request_poll(uow, event.source_id, utcnow(), get_settings().poll_lease_seconds)
    if lease is not None:
        uow.after_commit(functools.partial(_send_poll, lease))
