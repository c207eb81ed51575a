"""What `crossfeed status`, /readyz and /metrics report: the system's state, from the database
and the broker."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from celery import Celery
from sqlalchemy import func, select

from shared.celery_app import queue_depths
from shared.db import Database
from shared.domain.states import ArticleState
from shared.editorial import desk
from shared.models import Article, Delivery, Destination, Source, utcnow
from shared.outbox import OutboxStats, outbox_stats


@dataclass
class SourceHealth:
    id: int
    name: str
    url: str
    status: str
    paused_reason: str | None
    last_polled_at: dt.datetime | None
    last_outcome: str | None
    last_error: str | None
    next_poll_at: dt.datetime
    consecutive_failures: int
    articles: int
    per_day: float  # new articles a day, over the last week


@dataclass
class DeliveryLine:
    article_id: int
    destination: str
    action: str
    state: str
    attempts: int
    last_error: str | None
    updated_at: dt.datetime


@dataclass
class SystemStatus:
    articles_by_state: dict[str, int]
    queued_for_review: int
    sources: list[SourceHealth]
    outbox: OutboxStats
    queues: dict[str, int] | None
    broker_error: str | None = None
    deliveries: list[DeliveryLine] = field(default_factory=list)

    @property
    def articles(self) -> int:
        return sum(self.articles_by_state.values())


def source_health(database: Database) -> list[SourceHealth]:
    with database.session(read_only=True) as session:
        counts = dict(
            session.execute(
                select(Article.source_id, func.count()).group_by(Article.source_id)
            ).all()
        )
        week_ago = utcnow() - dt.timedelta(days=7)
        recent = dict(
            session.execute(
                select(Article.source_id, func.count())
                .where(Article.first_seen_at >= week_ago)
                .group_by(Article.source_id)
            ).all()
        )
        return [
            SourceHealth(
                id=s.id,
                name=s.name,
                url=s.url,
                status=s.status,
                paused_reason=s.paused_reason,
                last_polled_at=s.last_polled_at,
                last_outcome=s.last_outcome,
                last_error=s.last_error,
                next_poll_at=s.next_poll_at,
                consecutive_failures=s.consecutive_failures,
                articles=int(counts.get(s.id, 0)),
                per_day=round(int(recent.get(s.id, 0)) / 7, 1),
            )
            for s in session.scalars(select(Source).order_by(Source.name))
        ]


def article_counts(database: Database) -> tuple[dict[str, int], int]:
    """Articles by workflow state (every state present), and how many are on the desk."""
    with database.session(read_only=True) as session:
        by_state = desk.counts(session)
        queued = session.scalar(
            select(func.count()).where(
                Article.state == ArticleState.NEW, Article.queued_at.is_not(None)
            )
        )
    return by_state, int(queued or 0)


def recent_deliveries(database: Database, limit: int = 10) -> list[DeliveryLine]:
    with database.session(read_only=True) as session:
        rows = session.execute(
            select(Delivery, Destination.name)
            .join(Destination, Destination.id == Delivery.destination_id)
            .order_by(Delivery.updated_at.desc())
            .limit(limit)
        ).all()
        return [
            DeliveryLine(
                d.article_id, name, d.action, d.state, d.attempts, d.last_error, d.updated_at
            )
            for d, name in rows
        ]


def collect_status(database: Database, app: Celery | None) -> SystemStatus:
    by_state, queued = article_counts(database)
    queues: dict[str, int] | None = None
    broker_error = None
    if app is not None:
        try:
            queues = queue_depths(app)
        except Exception as exc:  # noqa: BLE001 - any broker failure is reported, not raised
            broker_error = f"{type(exc).__name__}: {exc}"
    return SystemStatus(
        articles_by_state=by_state,
        queued_for_review=queued,
        sources=source_health(database),
        outbox=outbox_stats(database),
        queues=queues,
        broker_error=broker_error,
        deliveries=recent_deliveries(database),
    )
