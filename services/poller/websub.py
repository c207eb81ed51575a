"""WebSub on the poller's side: subscribing to hubs, renewing leases, ingesting pushes.

The protocol's shared pieces are in shared.websub (the web answers the hub's callbacks with
them). Network I/O happens outside transactions: the request's fields are prepared in one,
sent, and the answer recorded in another.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import structlog
from sqlalchemy import delete, select

from shared import websub
from shared.db import Database
from shared.feeds.parse import FeedParseError
from shared.http import FetchError, SafeClient
from shared.logs import bind_context
from shared.models import PushedDocument, Source, utcnow
from shared.security import redact
from shared.settings import Settings
from shared.uow import UnitOfWork

from .handlers import feed_notes, parse_document, store_feed

log = structlog.get_logger(__name__)

PUSHED_RETENTION = dt.timedelta(days=1)


def subscribe(database: Database, client: SafeClient, settings: Settings, source_id: int) -> str:
    """Send the source's hub a subscription request; the state it leaves the source in."""
    bind_context(source_id=source_id)
    with UnitOfWork(database) as uow:
        source = uow.session.get(Source, source_id)
        if source is None or not source.websub_hub or source.websub_state == "none":
            return "none"
        hub = source.websub_hub
        form = websub.subscription_form(source, settings)
        uow.commit()
    error = None
    try:
        answer = client.request(
            "POST",
            hub,
            data=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            max_bytes=64 * 1024,
        )
        if not 200 <= answer.status < 300:
            # A hub's error page may repeat the form: the secret must not be kept or logged.
            shown = redact(repr(answer.body[:200]), form["hub.secret"])
            error = f"the hub answered HTTP {answer.status}: {shown}"
    except FetchError as exc:
        error = f"cannot reach the hub: {exc}"
    with UnitOfWork(database) as uow:
        source = uow.session.get(Source, source_id)
        if source is None:
            return "none"
        if error:
            source.websub_state, source.websub_error = "failed", error[:500]
            log.warning("websub_subscribe_failed", hub=hub, error=error)
        elif source.websub_state != "active":
            source.websub_state = "subscribing"  # the hub verifies intent next
        state = source.websub_state
        uow.commit()
    return state


def due_subscriptions(uow: UnitOfWork, settings: Settings, now: dt.datetime) -> list[int]:
    """Sources whose subscription should be requested (again), and old pushes pruned."""
    uow.session.execute(
        delete(PushedDocument).where(PushedDocument.processed_at < now - PUSHED_RETENTION)
    )
    sources = uow.session.scalars(
        select(Source).where(Source.websub_state != "none", Source.status == "active")
    )
    return [
        source.id
        for source in sources
        if websub.due_for_subscription(source, now, settings.websub_lease_seconds)
    ]


def ingest_pushed(uow: UnitOfWork, settings: Settings, document_id: int) -> int:
    """Ingest a document a hub pushed; the number of new stories."""
    document = uow.session.get(PushedDocument, document_id)
    if document is None or document.processed_at is not None:
        return 0
    source = uow.session.get_one(Source, document.source_id)
    bind_context(source_id=source.id)
    document.processed_at = now = utcnow()
    try:
        feed = parse_document(document.body, source.url, document.content_type, settings)
    except FeedParseError as exc:
        log.warning("websub_push_unreadable", error=str(exc))
        source.last_notes = f"a pushed document could not be read: {exc}"[:2000]
        return 0
    notes = feed_notes(feed)
    report = store_feed(uow, source, feed, now, notes)
    log.info("websub_push_ingested", new=report.new, revised=report.revised, notes=notes or None)
    return report.new
