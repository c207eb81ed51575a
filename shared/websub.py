"""WebSub (W3C Recommendation), subscriber side: the parts both the poller and the web need.

A source whose feed names a hub gets a subscription: the poller sends the hub a subscription
request (`subscription_form`); the hub checks our intent with a GET to our callback
(`verify_intent`, served by the web); then it POSTs new content there (`receive_content`),
signed with the secret we gave it. Accepted content waits in `pushed_documents` and an event
tells the poller to ingest it. States of `Source.websub_state`:

    none -> subscribing -> active          (verified; renewed before the lease ends)
                        -> denied | failed (the hub said no, or could not be reached)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping

import structlog
from sqlalchemy import select

from shared.crypto import CannotDecrypt, decrypt, encrypt
from shared.domain.events import SourceContentPushed
from shared.models import PushedDocument, Source, utcnow
from shared.settings import Settings
from shared.uow import UnitOfWork

log = structlog.get_logger(__name__)

CALLBACK_PREFIX = "/websub/"
SIGNATURE_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
# A subscription whose verification has not come after this long is requested again.
VERIFICATION_PATIENCE = dt.timedelta(minutes=10)


def callback_url(settings: Settings, token: str) -> str:
    return settings.public_url.rstrip("/") + CALLBACK_PREFIX + token


def prepare(source: Source, hub: str, topic: str) -> bool:
    """Record the hub and topic a feed names; True if a subscription request is needed."""
    changed = (source.websub_hub, source.websub_topic) != (hub, topic)
    if not changed and source.websub_state != "none":
        return False  # in hand; a failed or denied one is retried by the sweep, not every poll
    source.websub_hub, source.websub_topic = hub[:2048], topic[:2048]
    source.websub_state = "subscribing"
    source.websub_requested_at = None
    return True


def subscription_form(source: Source, settings: Settings) -> dict[str, str]:
    """The hub.* fields of a subscription request; gives the source a callback token and a
    fresh secret (kept encrypted) first."""
    if not source.websub_token:
        source.websub_token = secrets.token_urlsafe(32)
    secret = secrets.token_urlsafe(32)  # under the 200 bytes the spec allows
    source.websub_secret_encrypted = encrypt(settings, secret)
    source.websub_requested_at = utcnow()
    assert source.websub_topic is not None
    return {
        "hub.mode": "subscribe",
        "hub.topic": source.websub_topic,
        "hub.callback": callback_url(settings, source.websub_token),
        "hub.lease_seconds": str(settings.websub_lease_seconds),
        "hub.secret": secret,
    }


def _source_for(uow: UnitOfWork, token: str) -> Source | None:
    if not token or len(token) > 64:
        return None
    return uow.session.scalar(select(Source).where(Source.websub_token == token))


def verify_intent(uow: UnitOfWork, token: str, params: Mapping[str, str]) -> tuple[int, str]:
    """Answer a hub's verification GET: (status, body). 404 refuses what we did not ask for."""
    source = _source_for(uow, token)
    mode = params.get("hub.mode", "")
    if source is None or params.get("hub.topic") != source.websub_topic:
        return 404, "unknown subscription"
    if mode == "denied":
        source.websub_state = "denied"
        reason = params.get("hub.reason", "no reason given")
        source.websub_error = f"the hub refused: {reason}"[:500]
        log.warning("websub_denied", source_id=source.id, reason=source.websub_error)
        return 200, ""
    if mode != "subscribe" or source.websub_state not in ("subscribing", "active"):
        return 404, "not requested"  # e.g. an unsubscribe we never asked for
    challenge = params.get("hub.challenge", "")
    if not challenge:
        return 404, "no challenge"
    lease = params.get("hub.lease_seconds", "")
    seconds = int(lease) if lease.isdigit() else 24 * 3600
    source.websub_state = "active"
    source.websub_lease_until = utcnow() + dt.timedelta(seconds=seconds)
    source.websub_error = None
    log.info("websub_verified", source_id=source.id, lease_seconds=seconds)
    return 200, challenge


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """X-Hub-Signature: `method=hexdigest`, HMAC of the body with our secret."""
    if not header or "=" not in header:
        return False
    method, _, digest = header.partition("=")
    algorithm = SIGNATURE_METHODS.get(method.strip().lower())
    if algorithm is None:
        return False
    expected = hmac.new(secret.encode(), body, algorithm).hexdigest()
    return hmac.compare_digest(expected, digest.strip().lower())


def receive_content(
    uow: UnitOfWork,
    settings: Settings,
    token: str,
    body: bytes,
    content_type: str | None,
    signature: str | None,
) -> int:
    """Take a hub's content POST: the HTTP status to answer.

    Content with a wrong or missing signature is acknowledged and dropped, as the spec asks
    (an attacker learns nothing and the hub does not retry forever).
    """
    source = _source_for(uow, token)
    if source is None or source.websub_state not in ("active", "subscribing"):
        return 404
    try:
        secret = decrypt(settings, source.websub_secret_encrypted or "")
    except CannotDecrypt as exc:
        source.websub_error = str(exc)
        return 202
    if not signature_matches(secret, body, signature):
        log.warning("websub_bad_signature", source_id=source.id)
        return 202
    document = PushedDocument(source_id=source.id, body=body, content_type=content_type)
    uow.session.add(document)
    uow.session.flush()
    uow.emit(SourceContentPushed(source_id=source.id, document_id=document.id))
    log.info("websub_content_received", source_id=source.id, bytes=len(body))
    return 202


def due_for_subscription(source: Source, now: dt.datetime, lease_seconds: int) -> bool:
    """Whether the sweep should (re)send this source's subscription request."""
    requested = source.websub_requested_at
    state = source.websub_state
    if state == "subscribing":
        return requested is None or requested < now - VERIFICATION_PATIENCE
    if state == "active":
        renew_before = dt.timedelta(seconds=max(lease_seconds // 10, 3600))
        return source.websub_lease_until is None or source.websub_lease_until < now + renew_before
    if state in ("failed", "denied"):
        return requested is None or requested < now - dt.timedelta(hours=6)
    return False
