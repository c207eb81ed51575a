"""Polling a source, in steps that keep network and CPU work out of transactions:

1. lease: the sweep (or a poll-now request) leases due sources, at most `poll_per_host` per
   host at a time; a poll starts by swapping the lease token for its own (a short
   transaction), so a duplicated message cannot poll twice;
2. fetch, with the source's validators (no transaction);
3. read: classify the answer and parse it (no transaction); for full-text sources, fetch
   new articles' pages;
4. record and ingest in one short transaction; a failure there is recorded in a fresh one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from shared import metrics, websub
from shared.db import TRANSIENT_ERRORS, Database
from shared.domain.states import PollOutcome, SourceStatus
from shared.feeds.budget import ByteBudget
from shared.feeds.parse import FeedParseError, ParsedFeed, parse_feed
from shared.http import FetchError, FetchResult, SafeClient
from shared.logs import bind_context
from shared.models import Article, Source, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork

from .fulltext import fill_full_text
from .identity import identity_rule
from .ingest import IngestReport, existing_articles, ingest_feed, unique_entries
from .schedule import IntervalPolicy, cache_max_age, next_poll_delay

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
    notes: list[str] = field(default_factory=list)
    subscribe: bool = False  # the feed names a WebSub hub we should subscribe to


def policy(settings: Settings) -> IntervalPolicy:
    return IntervalPolicy(
        settings.poll_default_interval_minutes,
        settings.poll_min_interval_minutes,
        settings.poll_max_interval_minutes,
        settings.poll_frequency_factor,
    )


# --- 1. leases ------------------------------------------------------------------------------


def _busy_hosts(uow: UnitOfWork, now: dt.datetime, host: str | None = None) -> Counter[str]:
    """Polls running per host (only `host`'s, when given)."""
    query = select(Source.host, func.count()).where(Source.poll_lease_until > now)
    if host is not None:
        query = query.where(Source.host == host)
    rows = uow.session.execute(query.group_by(Source.host)).all()
    return Counter({host: int(count) for host, count in rows})


def take_due_sources(
    uow: UnitOfWork,
    now: dt.datetime,
    lease_seconds: int,
    per_host: int,
    limit: int = 500,
    host: str | None = None,
) -> list[PollLease]:
    """Lease active sources whose poll is due, at most `per_host` polls per host at a time
    (only sources of `host`, when given)."""
    query = (
        select(Source.id, Source.host)
        .where(
            Source.status == SourceStatus.ACTIVE,
            Source.next_poll_at <= now,
            (Source.poll_lease_until.is_(None)) | (Source.poll_lease_until < now),
        )
        .order_by(Source.next_poll_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if host is not None:
        query = query.where(Source.host == host)
    due = uow.session.execute(query).all()
    if not due:
        return []  # the common case of a sweep: nothing to count hosts for
    busy = _busy_hosts(uow, now, host)
    leases = []
    for source_id, source_host in due:
        if busy[source_host] >= per_host:
            continue  # due, and taken by a later sweep once a poll of its host finishes
        busy[source_host] += 1
        leases.append(PollLease(source_id, str(uuid.uuid4())))
    if leases:
        until = now + dt.timedelta(seconds=lease_seconds)
        uow.session.execute(
            update(Source),
            [{"id": lease.source_id, "poll_lease_token": lease.token, "poll_lease_until": until}
             for lease in leases],
        )  # fmt: skip
    return leases


def request_poll(
    uow: UnitOfWork, source_id: int, now: dt.datetime, lease_seconds: int, per_host: int
) -> PollLease | None:
    """Make a source due now; lease it unless a poll is on its way or its host is busy."""
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
    if _busy_hosts(uow, now, source.host)[source.host] >= per_host:
        return None  # the next sweep takes it
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
    full_text: bool
    identity_rule: str


def _start(database: Database, lease: PollLease, lease_seconds: int) -> _Target | None:
    """Swap the sweep's token for this poll's own; None if another poll already took it."""
    own = str(uuid.uuid4())
    now = utcnow()
    with UnitOfWork(database) as uow:
        row = uow.session.execute(
            update(Source)
            .where(
                Source.id == lease.source_id,
                Source.poll_lease_token == lease.token,
                Source.status == SourceStatus.ACTIVE,
            )
            .values(
                poll_lease_token=own, poll_lease_until=now + dt.timedelta(seconds=lease_seconds)
            )
            .returning(
                Source.url, Source.etag, Source.last_modified, Source.content_hash,
                Source.full_text, Source.identity_rule,
            )
            .execution_options(synchronize_session=False)
        ).first()  # fmt: skip
        if row is None:
            return None
        uow.commit()
    return _Target(own, *row)


# --- 2, 3. fetch and read --------------------------------------------------------------------


@dataclass
class _Reading:
    """What the fetch and the reading of its answer found, before anything is stored."""

    result: FetchResult | None
    error: str | None = None
    outcome: PollOutcome = PollOutcome.OK
    fingerprint: str | None = None
    feed: ParsedFeed | None = None
    notes: list[str] = field(default_factory=list)
    keep_body: bool = False  # a body we could not read: kept (bounded) for debugging


def _fetch(client: SafeClient, target: _Target) -> _Reading:
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
        "application/json;q=0.9, application/xml;q=0.8, */*;q=0.5"
    }
    if target.etag:
        headers["If-None-Match"] = target.etag
    if target.last_modified:
        headers["If-Modified-Since"] = target.last_modified
    started = time.perf_counter()
    try:
        return _Reading(client.get(target.url, headers=headers))
    except FetchError as exc:
        return _Reading(None, error=str(exc), outcome=PollOutcome.ERROR)
    finally:
        metrics.FETCH_SECONDS.observe(time.perf_counter() - started)


def _read(reading: _Reading, target: _Target, settings: Settings) -> None:
    """Classify the answer and parse it, in place: no database, no transaction."""
    result = reading.result
    if result is None:
        return
    if result.status >= 400:
        reading.outcome = PollOutcome.ERROR
        reading.error = "HTTP 410 Gone" if result.status == 410 else f"HTTP {result.status}"
        return
    if result.not_modified:
        reading.outcome = PollOutcome.NOT_MODIFIED
        return
    reading.fingerprint = hashlib.sha256(_VOLATILE.sub(b"", result.body)).hexdigest()
    if reading.fingerprint == target.content_hash:
        reading.outcome = PollOutcome.UNCHANGED
        return
    try:
        feed = parse_document(result.body, result.url, result.headers.get("Content-Type"), settings)
    except FeedParseError as exc:
        reading.outcome = PollOutcome.ERROR
        reading.error = f"cannot parse the feed: {exc}"
        reading.keep_body = True
        return
    reading.notes.extend(feed_notes(feed))
    reading.feed = feed


def parse_document(
    body: bytes, url: str, content_type: str | None, settings: Settings
) -> ParsedFeed:
    """Parse a feed document, polled or pushed: within the process's parse budget, at most
    `poll_max_entries` entries read, the time observed. Raises FeedParseError."""
    started = time.perf_counter()
    try:
        with parse_budget(settings).hold(len(body)):
            return parse_feed(body, url, content_type, max_entries=settings.poll_max_entries)
    finally:
        metrics.PARSE_SECONDS.observe(time.perf_counter() - started)


@functools.cache
def _budget(total_bytes: int) -> ByteBudget:
    return ByteBudget(total_bytes)


def parse_budget(settings: Settings) -> ByteBudget:
    """The process's budget of document bytes parsed at once (shared by its threads)."""
    return _budget(settings.poll_parse_budget_mib * 2**20)


def feed_notes(feed: ParsedFeed) -> list[str]:
    """What a good parse noticed, for the source's health."""
    notes = []
    if feed.encoding_note:
        notes.append(f"encoding: {feed.encoding_note}")
    if feed.skipped:
        notes.append(f"{feed.skipped} unreadable entries skipped")
    read = feed.skipped + len(feed.entries)
    if feed.listed > read:
        notes.append(f"the feed lists {feed.listed:,} entries; read the first {read:,}")
    return notes


def _fill_full_text(
    database: Database,
    client: SafeClient,
    settings: Settings,
    lease: PollLease,
    target: _Target,
    reading: _Reading,
) -> None:
    """For a full-text source, fetch the pages of the entries not stored yet (no transaction)."""
    feed = reading.feed
    if feed is None or not target.full_text or not settings.full_text_per_poll:
        return
    # The rule ingest will use (it may move down a rule for this document), and the entries
    # it will keep, so the pages fetched are those of the stories it will store.
    rule, _ = identity_rule(target.identity_rule, feed.entries)
    entries = unique_entries(feed.entries, rule)
    with UnitOfWork(database, read_only=True) as uow:
        known = existing_articles(uow, lease.source_id, rule, entries)
    new = [entry for key, entry in entries.items() if key not in known]
    read, failed = fill_full_text(client, new, settings.full_text_per_poll)
    if failed:
        reading.notes.append(f"full text: {failed} of {read + failed} article pages unreadable")
    if len(new) > settings.full_text_per_poll:
        reading.notes.append(
            f"full text: {len(new) - settings.full_text_per_poll} new stories kept their summary"
        )


# --- 4. record -------------------------------------------------------------------------------


def poll_source(
    database: Database, client: SafeClient, settings: Settings, lease: PollLease
) -> PollReport | None:
    """Poll one leased source. Returns None when the lease was not ours (a duplicate message)."""
    bind_context(source_id=lease.source_id)
    target = _start(database, lease, settings.poll_lease_seconds)
    if target is None:
        log.info("poll_skipped_not_leased")
        return None
    reading = _fetch(client, target)
    _read(reading, target, settings)
    _fill_full_text(database, client, settings, lease, target, reading)
    try:
        report = _finish(database, settings, lease, target, reading)
    except TRANSIENT_ERRORS:
        raise  # the database is away: the task retries, or the lease expires and it is re-polled
    except Exception as exc:
        # A bug or a value the database refused: never lose the poll's outcome, so the source's
        # health shows it and the failure counts towards pausing it.
        log.exception("poll_record_failed")
        reading.outcome = PollOutcome.ERROR
        reading.error = f"internal error while storing the feed ({type(exc).__name__}: {exc})"[
            :2000
        ]
        reading.feed = None
        reading.keep_body = True
        report = _finish(database, settings, lease, target, reading)
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
        notes=report.notes or None,
    )
    return report


def _finish(
    database: Database,
    settings: Settings,
    lease: PollLease,
    target: _Target,
    reading: _Reading,
) -> PollReport | None:
    """Record the poll, and ingest what it read, in one transaction."""
    with UnitOfWork(database) as uow:
        source = uow.session.get(Source, lease.source_id)
        if source is None or source.poll_lease_token != target.token:
            log.warning("poll_lease_lost")  # an operator deleted or re-leased it meanwhile
            return None
        now = utcnow()
        report = PollReport(
            source.id,
            reading.outcome,
            reading.result.status if reading.result else None,
            reading.error,
            notes=reading.notes,
        )
        if reading.outcome == PollOutcome.ERROR:
            _record_failure(source, settings, now, report, reading)
        else:
            if reading.feed is not None:
                report.ingest = store_feed(uow, source, reading.feed, now, report.notes)
                source.content_hash = reading.fingerprint
                report.subscribe = _note_hub(source, reading)
            _record_success(uow, source, settings, now, report, reading)
        source.poll_lease_token = None
        source.poll_lease_until = None
        source.last_polled_at = now
        uow.commit()
    return report


def store_feed(
    uow: UnitOfWork, source: Source, feed: ParsedFeed, now: dt.datetime, notes: list[str]
) -> IngestReport:
    """Ingest a parsed feed (polled or pushed) under the source's identity rule, changing the
    rule first when the feed breaks it."""
    rule, note = identity_rule(source.identity_rule, feed.entries)
    if note:
        source.identity_rule, source.identity_note = rule, f"{now:%Y-%m-%d}: {note}"
        notes.append(note)
        log.warning("identity_rule_changed", rule=rule, why=note)
    return ingest_feed(uow, source, feed, now)


def _note_hub(source: Source, reading: _Reading) -> bool:
    """Record a WebSub hub the feed (or its Link header) names; True to subscribe now."""
    feed, result = reading.feed, reading.result
    assert feed is not None
    assert result is not None
    hub = feed.hub_url or result.link("hub")
    self_url = feed.self_url or result.link("self")
    if not hub or not hub.startswith(("http://", "https://")):
        return False
    return websub.prepare(source, hub, self_url or source.url)


def _record_success(
    uow: UnitOfWork,
    source: Source,
    settings: Settings,
    now: dt.datetime,
    report: PollReport,
    reading: _Reading,
) -> None:
    result = reading.result
    assert result is not None
    source.last_status_code = result.status
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
    if reading.feed is not None:
        source.last_notes = "; ".join(report.notes) or None
    source.next_poll_at = now + next_poll_delay(
        policy(settings),
        pinned_minutes=source.interval_minutes,
        stories_last_week=(  # counted only when it matters: a pinned interval ignores it
            None if source.interval_minutes is not None else stories_last_week(uow, source.id, now)
        ),
        ttl_minutes=reading.feed.ttl_minutes if reading.feed else None,
        max_age=cache_max_age(result.headers.get("Cache-Control")),
        at_least_minutes=(
            settings.websub_safety_poll_minutes if source.websub_state == "active" else None
        ),
    )


def _record_failure(
    source: Source, settings: Settings, now: dt.datetime, report: PollReport, reading: _Reading
) -> None:
    result = reading.result
    if result is not None:
        source.last_status_code = result.status
        if reading.keep_body:
            source.last_failed_body = result.body[:FAILED_BODY_LIMIT]
        if result.status == 410:
            source.status = SourceStatus.PAUSED
            source.paused_reason = "410 Gone: the outlet says this feed no longer exists"
            source.last_outcome, source.last_error = report.outcome, report.error
            return
    source.consecutive_failures += 1
    source.last_outcome = report.outcome
    source.last_error = report.error
    source.next_poll_at = now + next_poll_delay(
        policy(settings),
        pinned_minutes=source.interval_minutes,
        failures=source.consecutive_failures,
        retry_after=result.retry_after if result is not None else None,
    )
    if source.consecutive_failures >= settings.poll_max_failures:
        source.status = SourceStatus.PAUSED
        source.paused_reason = (
            f"paused after {source.consecutive_failures} consecutive failures; last: {report.error}"
        )
        log.warning("source_paused", reason=source.paused_reason)


def stories_last_week(uow: UnitOfWork, source_id: int, now: dt.datetime) -> int | None:
    """Stories the source published in the last seven days (by their own dates, so a new
    feed's backlog already shows its rhythm); None when it has no stories at all."""
    count = uow.session.scalar(
        select(func.count()).where(
            Article.source_id == source_id,
            Article.source_published_at > now - dt.timedelta(days=7),
        )
    )
    if count:
        return int(count)
    has_any = uow.session.scalar(select(Article.id).where(Article.source_id == source_id).limit(1))
    return 0 if has_any is not None else None


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
