"""Polling a source: take the lease, fetch (outside any transaction), ingest, record health."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shared import metrics
from shared.db import TRANSIENT_ERRORS, Database
from shared.domain.states import PollOutcome, SourceStatus
from shared.feeds.parse import FeedParseError, parse_feed
from shared.http import FetchError, FetchResult, SafeClient
from shared.logs import bind_context
from shared.models import Source, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork

from .ingest import IngestReport, ingest_feed
from .schedule import IntervalPolicy, next_poll_delay

log = structlog.get_logger(__name__)

FAILED_BODY_LIMIT = 256 * 1024
# Parts of a feed that change on every request without any news changing.
_VOLATILE = re.compile(
    rb"<!--.*?-->|<(lastBuildDate|pubDate|updated|generator)>[^<]*</\1>", re.DOTALL
)


@dataclass(frozen=True)
class PollLease:
    source_id: int
    token: str


@dataclass
class PollReport:
    source_id: int
    outcome: PollOutcome
    status: int | None = None
    error: str | None = None
    ingest: IngestReport | None = None


def policy(settings: Settings) -> IntervalPolicy:
    return IntervalPolicy(
        settings.poll_default_interval_minutes,
        settings.poll_min_interval_minutes,
        settings.poll_max_interval_minutes,
    )


def take_due_sources(
    uow: UnitOfWork, now: dt.datetime, lease_seconds: int, limit: int = 500
) -> list[PollLease]:
    """Lease every active source whose poll is due and not already leased."""
    sources = uow.session.scalars(
        select(Source)
        .where(
            Source.status == SourceStatus.ACTIVE,
            Source.next_poll_at <= now,
            (Source.poll_lease_until.is_(None)) | (Source.poll_lease_until < now),
        )
        .order_by(Source.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [_lease(source, now, lease_seconds) for source in sources]


def request_poll(
    uow: UnitOfWork, source_id: int, now: dt.datetime, lease_seconds: int
) -> PollLease | None:
    """Make a source due now; lease it unless a poll is already on its way."""
    source = uow.session.get(Source, source_id)
    if source is None:
        log.info("poll_request_ignored_no_source", source_id=source_id)
        return None
    if source.status != SourceStatus.ACTIVE:
        log.info("poll_request_ignored_paused", source_id=source_id)
        return None
    source.next_poll_at = now
    if source.poll_lease_until is not None and source.poll_lease_until > now:
        return None
    return _lease(source, now, lease_seconds)


def _lease(source: Source, now: dt.datetime, lease_seconds: int) -> PollLease:
    source.poll_lease_token = str(uuid.uuid4())
    source.poll_lease_until = now + dt.timedelta(seconds=lease_seconds)
    return PollLease(source.id, source.poll_lease_token)


@dataclass(frozen=True)
class _Target:
    token: str
    url: str
    etag: str | None
    last_modified: str | None
    content_hash: str | None


def _start(database: Database, lease: PollLease, lease_seconds: int) -> _Target | None:
    """Swap the sweep's token for this poll's own; None if another poll already took it."""
    own = str(uuid.uuid4())
    now = utcnow()
    with UnitOfWork(database) as uow:
        swapped = uow.session.execute(
            update(Source)
            .where(
                Source.id == lease.source_id,
                Source.poll_lease_token == lease.token,
                Source.status == SourceStatus.ACTIVE,
            )
            .values(
                poll_lease_token=own, poll_lease_until=now + dt.timedelta(seconds=lease_seconds)
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(swapped, "rowcount", 0) != 1:
            return None
        source = uow.session.get_one(Source, lease.source_id)
        target = _Target(own, source.url, source.etag, source.last_modified, source.content_hash)
        uow.commit()
    return target


def poll_source(
    database: Database, client: SafeClient, settings: Settings, lease: PollLease
) -> PollReport | None:
    """Poll one leased source. Returns None when the lease was not ours (a duplicate message)."""
    bind_context(source_id=lease.source_id)
    target = _start(database, lease, settings.poll_lease_seconds)
    if target is None:
        log.info("poll_skipped_not_leased")
        return None
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json;q=0.9, application/xml;q=0.8, */*;q=0.5"
    }
    if target.etag:
        headers["If-None-Match"] = target.etag
    if target.last_modified:
        headers["If-Modified-Since"] = target.last_modified
    started = time.perf_counter()
    result: FetchResult | None = None
    error: str | None = None
    try:
        result = client.get(target.url, headers=headers)
    except FetchError as exc:
        error = str(exc)
    metrics.FETCH_SECONDS.observe(time.perf_counter() - started)

    try:
        report = _finish(database, settings, lease, target, result, error)
    except TRANSIENT_ERRORS:
        raise  # the database is away: the task retries, or the lease expires and it is re-polled
    except Exception as exc:
        # A bug or a value the database refused: never lose the poll's outcome, so the source's
        # health shows it and the failure counts towards pausing it.
        log.exception("poll_record_failed")
        failure = f"internal error while storing the feed ({type(exc).__name__}: {exc})"[:2000]
        report = _finish(database, settings, lease, target, result, failure, store=False)
    if report is None:
        return None
    metrics.POLLS.labels(report.outcome.value).inc()
    if report.ingest:
        metrics.ENTRIES.labels("new").inc(report.ingest.new)
        metrics.ENTRIES.labels("revised").inc(report.ingest.revised)
    log.info(
        "polled",
        outcome=report.outcome.value,
        status=report.status,
        error=report.error,
        new=report.ingest.new if report.ingest else 0,
        revised=report.ingest.revised if report.ingest else 0,
    )
    return report


def _finish(
    database: Database,
    settings: Settings,
    lease: PollLease,
    target: _Target,
    result: FetchResult | None,
    error: str | None,
    store: bool = True,
) -> PollReport | None:
    """Record the poll (and with `store`, ingest what it fetched) in one transaction."""
    with UnitOfWork(database) as uow:
        source = uow.session.get(Source, lease.source_id)
        if source is None or source.poll_lease_token != target.token:
            log.warning("poll_lease_lost")  # an operator deleted or re-leased it meanwhile
            return None
        now = utcnow()
        if store:
            report = _record(uow, source, settings, target, result, error, now)
        else:
            if result is not None:
                source.last_failed_body = result.body[:FAILED_BODY_LIMIT]
            status = result.status if result is not None else None
            report = _failure(
                source, settings, now, PollReport(source.id, PollOutcome.ERROR, status, error)
            )
        source.poll_lease_token = None
        source.poll_lease_until = None
        source.last_polled_at = now
        uow.commit()
    return report


def _record(
    uow: UnitOfWork,
    source: Source,
    settings: Settings,
    target: _Target,
    result: FetchResult | None,
    error: str | None,
    now: dt.datetime,
) -> PollReport:
    if result is None:
        return _failure(
            source, settings, now, PollReport(source.id, PollOutcome.ERROR, error=error)
        )
    report = PollReport(source.id, PollOutcome.OK, status=result.status)
    source.last_status_code = result.status
    if result.status == 410:
        source.status = SourceStatus.PAUSED
        source.paused_reason = "410 Gone: the outlet says this feed no longer exists"
        report.outcome, report.error = PollOutcome.ERROR, "HTTP 410 Gone"
        source.last_outcome, source.last_error = report.outcome, report.error
        return report
    if result.status in (429, 503) or result.status >= 400:
        report.outcome, report.error = PollOutcome.ERROR, f"HTTP {result.status}"
        return _failure(source, settings, now, report, retry_after=result.retry_after)
    if result.not_modified:
        report.outcome = PollOutcome.NOT_MODIFIED
        return _success(uow, source, settings, now, report, result)
    fingerprint = hashlib.sha256(_VOLATILE.sub(b"", result.body)).hexdigest()
    if fingerprint == target.content_hash:
        report.outcome = PollOutcome.UNCHANGED
        return _success(uow, source, settings, now, report, result)
    started = time.perf_counter()
    try:
        feed = parse_feed(result.body, result.url, result.headers.get("Content-Type"))
    except FeedParseError as exc:
        metrics.PARSE_SECONDS.observe(time.perf_counter() - started)
        source.last_failed_body = result.body[:FAILED_BODY_LIMIT]
        report.outcome, report.error = PollOutcome.ERROR, f"cannot parse the feed: {exc}"
        return _failure(source, settings, now, report)
    metrics.PARSE_SECONDS.observe(time.perf_counter() - started)
    report.ingest = ingest_feed(uow, source, feed, now)
    source.content_hash = fingerprint
    return _success(uow, source, settings, now, report, result, ttl_minutes=feed.ttl_minutes)


def _success(
    uow: UnitOfWork,
    source: Source,
    settings: Settings,
    now: dt.datetime,
    report: PollReport,
    result: FetchResult,
    ttl_minutes: int | None = None,
) -> PollReport:
    # A permanent redirect is remembered only once the new address has served the feed.
    if result.permanent_url != source.url:
        _follow_permanent_redirect(uow, source, result.permanent_url)
    if not result.not_modified:
        # Validators longer than we store are not stored: a clipped ETag would never match.
        source.etag = _fitting(result.headers.get("ETag"), 512)
        source.last_modified = _fitting(result.headers.get("Last-Modified"), 128)
    source.consecutive_failures = 0
    source.last_success_at = now
    source.last_outcome = report.outcome
    source.last_error = None
    source.next_poll_at = now + next_poll_delay(
        policy(settings), pinned_minutes=source.interval_minutes, ttl_minutes=ttl_minutes
    )
    return report


def _failure(
    source: Source,
    settings: Settings,
    now: dt.datetime,
    report: PollReport,
    retry_after: dt.timedelta | None = None,
) -> PollReport:
    source.consecutive_failures += 1
    source.last_outcome = report.outcome
    source.last_error = report.error
    source.next_poll_at = now + next_poll_delay(
        policy(settings),
        pinned_minutes=source.interval_minutes,
        failures=source.consecutive_failures,
        retry_after=retry_after,
    )
    if source.consecutive_failures >= settings.poll_max_failures:
        source.status = SourceStatus.PAUSED
        source.paused_reason = (
            f"paused after {source.consecutive_failures} consecutive failures; last: {report.error}"
        )
        log.warning("source_paused", reason=source.paused_reason)
    return report


def _fitting(value: str | None, limit: int) -> str | None:
    return value if value is not None and len(value) <= limit else None


def _follow_permanent_redirect(uow: UnitOfWork, source: Source, new_url: str) -> None:
    old = source.url
    if len(new_url) > 2048:
        log.warning("redirect_target_too_long", url=new_url[:200])
        return
    try:
        with uow.session.begin_nested():
            source.url = new_url
            source.previous_url = old
            uow.session.flush()
    except IntegrityError:
        source.url = old
        log.warning("redirect_target_is_another_source", url=new_url)
        return
    log.info("source_moved_permanently", old_url=old, new_url=new_url)
