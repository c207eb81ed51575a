"""The delivery ledger: one row per (article revision, destination), driven by the database.

A publication, correction or withdrawal plans a delivery to every enabled destination. A
delivery is claimed (state `sending`, leased until `next_attempt_at`) in a short transaction,
sent outside any transaction, and its outcome recorded in another. Retries are rows due again,
swept by beat, never long Celery countdowns: a killed worker, a flushed broker or a restart
loses nothing, because the lease of a delivery left `sending` runs out and the sweep takes it
again. Sending twice is harmless: each destination makes a delivery idempotent (the stored
remote id or the deterministic slug for WordPress, the stable `webhook-id` for webhooks).

A newer revision supersedes a delivery of an older one to the same destination that has not
gone out yet: each delivery sends the article's current public state, so the older one would
only repeat it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.db import dialect_insert, serialise
from shared.domain.states import DeliveryState
from shared.models import Delivery, Destination, Partner, utcnow
from shared.settings import Settings

OPEN = (DeliveryState.PENDING, DeliveryState.FAILED, DeliveryState.DEAD)
# States a delivery can be claimed from (SENDING: when its lease ran out).
CLAIMABLE = (DeliveryState.PENDING, DeliveryState.FAILED, DeliveryState.SENDING)
ERROR_MAX = 2000  # characters of an error message kept


class Action:
    PUBLISH = "publish"
    CORRECT = "correct"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class Claimed:
    """A delivery this worker may send now (its lease runs until `lease_until`)."""

    id: int
    article_id: int
    revision: int
    destination_id: int
    action: str
    attempt: int
    idempotency_key: str
    remote_id: str | None  # from this or an earlier delivery of the article to the destination


def idempotency_key(article_id: int, revision: int, destination_id: int) -> str:
    """Stable for one delivery across every retry: the webhook-id, the ledger's unique key."""
    digest = hashlib.sha256(f"{article_id}:{revision}:{destination_id}".encode()).hexdigest()
    return f"msg_{digest[:40]}"


def plan(
    session: Session, article_id: int, revision: int, action: str,
    wants: Callable[[dict[str, Any]], bool] = lambda _filters: True,
) -> list[int]:  # fmt: skip
    """Deliveries of this revision to every destination; returns the new ones' ids (none when
    the event was already planned). Older open deliveries are superseded. A disabled
    destination's delivery waits, pending, until it is enabled again (so a withdrawal made
    meanwhile still reaches it).

    A partner's webhook gets what the partner's filters choose (`wants(filters)`), like its
    feeds, and only while the partner is active; once an article went to it, every later
    revision does too, so a correction or withdrawal follows the story wherever it went."""
    sent_before = set(
        session.scalars(select(Delivery.destination_id).where(Delivery.article_id == article_id))
    )
    destinations = [
        destination_id
        for destination_id, filters, active in session.execute(
            select(Destination.id, Partner.filters, Partner.active).outerjoin(
                Partner, Partner.id == Destination.partner_id
            )
        )
        if destination_id in sent_before or active is None or (active and wants(filters or {}))
    ]
    if not destinations:
        return []
    now = utcnow()
    rows = [
        {
            "article_id": article_id,
            "revision": revision,
            "destination_id": destination_id,
            "action": action,
            "state": DeliveryState.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "idempotency_key": idempotency_key(article_id, revision, destination_id),
            "created_at": now,
            "updated_at": now,
        }
        for destination_id in destinations
    ]
    created = list(
        session.scalars(
            dialect_insert(session)(Delivery)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(Delivery.id)
        )
    )
    session.execute(
        update(Delivery)
        .where(
            Delivery.article_id == article_id,
            Delivery.revision < revision,
            Delivery.state.in_([state.value for state in OPEN]),
        )
        .values(
            state=DeliveryState.SUPERSEDED.value,
            last_error=f"superseded by revision {revision}",
            updated_at=now,
        )
    )
    return created


def due(session: Session, limit: int = 500, now: dt.datetime | None = None) -> list[int]:
    """Deliveries to send now: new or failed ones whose time came, and ones left `sending` by
    a worker that died (their lease ran out)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(Delivery.id)
            .join(Destination, Destination.id == Delivery.destination_id)
            .where(
                Delivery.state.in_([state.value for state in CLAIMABLE]),
                Delivery.next_attempt_at <= now,
                Destination.enabled.is_(True),
            )
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
    )


def claim(session: Session, settings: Settings, delivery_id: int) -> Claimed | None:
    """Take a due delivery for sending (None: not due, taken by another worker, waiting for
    another delivery of the same article to the same destination, or done). The caller
    commits before sending.

    One article goes to one destination one delivery at a time (they take turns under a lock
    per pair): two in flight could both find no post and both create one, or a slow older one
    could undo a withdrawal. A delivery older than another of the pair is superseded here too
    (a late event, a lease run out, a replay), since each sends the current public state."""
    now = utcnow()
    delivery = session.scalar(
        select(Delivery).where(Delivery.id == delivery_id).with_for_update(skip_locked=True)
    )
    if (
        delivery is None
        or delivery.state not in CLAIMABLE
        or (delivery.next_attempt_at is not None and delivery.next_attempt_at > now)
        or not session.get_one(Destination, delivery.destination_id).enabled
    ):
        return None
    # The pair's turn, then what the pair's other deliveries are doing (read under it).
    serialise(session, f"delivery:{delivery.article_id}:{delivery.destination_id}")
    siblings = session.execute(
        select(Delivery.revision, Delivery.state, Delivery.next_attempt_at, Delivery.remote_id)
        .where(
            Delivery.article_id == delivery.article_id,
            Delivery.destination_id == delivery.destination_id,
            Delivery.id != delivery.id,
        )
        .order_by(Delivery.revision.desc())
    ).all()
    newest = siblings[0].revision if siblings else 0
    if newest > delivery.revision:
        _close(delivery, DeliveryState.SUPERSEDED, f"superseded by revision {newest}", now)
        return None
    busy = [
        s.next_attempt_at
        for s in siblings
        if s.state == DeliveryState.SENDING and s.next_attempt_at and s.next_attempt_at > now
    ]
    if busy:  # another delivery of the pair is being sent: go after it
        delivery.next_attempt_at = max(busy)
        return None
    if delivery.attempts >= settings.delivery_max_attempts:  # a lease ran out on the last one
        error = (delivery.last_error or "") + " (no outcome from the last attempt)"
        _close(delivery, DeliveryState.DEAD, error, now)
        return None
    delivery.state = DeliveryState.SENDING.value
    delivery.attempts += 1
    delivery.next_attempt_at = now + dt.timedelta(seconds=settings.delivery_lease_seconds)
    delivery.updated_at = now
    # The post (or other remote copy) an earlier delivery of the pair made: updated, not made
    # again.
    remote_id = delivery.remote_id or next((s.remote_id for s in siblings if s.remote_id), None)
    return Claimed(
        id=delivery.id,
        article_id=delivery.article_id,
        revision=delivery.revision,
        destination_id=delivery.destination_id,
        action=delivery.action,
        attempt=delivery.attempts,
        idempotency_key=delivery.idempotency_key,
        remote_id=remote_id,
    )


def _close(delivery: Delivery, state: DeliveryState, error: str, now: dt.datetime) -> None:
    """End a delivery's attempts: superseded or dead, with why."""
    delivery.state = state.value
    delivery.last_error = error[:ERROR_MAX]
    delivery.next_attempt_at = None
    delivery.updated_at = now


def _still_ours(session: Session, claimed: Claimed) -> Delivery | None:
    """The delivery, if it is still in the state this worker's claim left it (a worker whose
    lease ran out may finish after another took the delivery over: its outcome is dropped)."""
    delivery = session.get(Delivery, claimed.id, with_for_update=True)
    if (
        delivery is None
        or delivery.state != DeliveryState.SENDING
        or delivery.attempts != claimed.attempt
    ):
        return None
    return delivery


def delivered(session: Session, claimed: Claimed, remote_id: str | None) -> bool:
    delivery = _still_ours(session, claimed)
    if delivery is None:
        return False
    delivery.state = DeliveryState.DELIVERED.value
    delivery.remote_id = remote_id or claimed.remote_id
    delivery.next_attempt_at = None
    delivery.last_error = None
    delivery.updated_at = utcnow()
    return True


def failed(
    session: Session,
    settings: Settings,
    claimed: Claimed,
    error: str,
    *,
    retry: bool = True,
    retry_after: dt.timedelta | None = None,
) -> str | None:
    """Record a failed attempt: retried later (capped exponential backoff with jitter, or
    the destination's Retry-After when it is later), or dead when it cannot succeed or was the
    last attempt. Returns the new state (None: no longer this worker's delivery)."""
    delivery = _still_ours(session, claimed)
    if delivery is None:
        return None
    now = utcnow()
    if not retry or delivery.attempts >= settings.delivery_max_attempts:
        _close(delivery, DeliveryState.DEAD, error, now)
        return delivery.state
    delivery.last_error = error[:ERROR_MAX]
    delivery.updated_at = now
    delivery.state = DeliveryState.FAILED.value
    delivery.next_attempt_at = now + backoff(settings, delivery.attempts, retry_after)
    return delivery.state


def backoff(
    settings: Settings, attempt: int, retry_after: dt.timedelta | None = None
) -> dt.timedelta:
    """The wait after the `attempt`-th failure: half to all of a capped exponential (the jitter:
    many deliveries failing together do not come back together), never before Retry-After."""
    ceiling = min(
        settings.delivery_backoff_max_seconds,
        settings.delivery_backoff_seconds * 2 ** (attempt - 1),
    )
    wait = dt.timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - not a secret
    if retry_after is not None:
        wait = max(wait, min(retry_after, dt.timedelta(days=1)))
    return wait


def replay(session: Session, delivery_ids: list[int] | None = None) -> int:
    """Send dead deliveries again (all of them, or these), from a fresh count of attempts."""
    stmt = (
        update(Delivery)
        .where(Delivery.state == DeliveryState.DEAD)
        .values(
            state=DeliveryState.PENDING.value,
            attempts=0,
            next_attempt_at=utcnow(),
            updated_at=utcnow(),
        )
    )
    if delivery_ids is not None:
        stmt = stmt.where(Delivery.id.in_(delivery_ids))
    return int(getattr(session.execute(stmt), "rowcount", 0) or 0)


@dataclass(frozen=True)
class DeliveryView:
    """A ledger row with its destination's name, as the API, CLI and UI list it."""

    id: int
    article_id: int
    revision: int
    destination: str
    kind: str
    action: str
    state: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    remote_id: str | None
    updated_at: dt.datetime


def listing(
    session: Session, *, state: str | None = None, article_id: int | None = None,
    limit: int = 200,
) -> list[DeliveryView]:  # fmt: skip
    """Deliveries, newest first: an article's, or those in one state (dead: to replay)."""
    query = (
        select(Delivery, Destination.name, Destination.kind)
        .join(Destination, Destination.id == Delivery.destination_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(Delivery.state == state)
    if article_id is not None:
        query = query.where(Delivery.article_id == article_id)
    return [
        DeliveryView(
            d.id,
            d.article_id,
            d.revision,
            name,
            kind,
            d.action,
            d.state,
            d.attempts,
            d.next_attempt_at,
            d.last_error,
            d.remote_id,
            d.updated_at,
        )
        for d, name, kind in session.execute(query)
    ]
