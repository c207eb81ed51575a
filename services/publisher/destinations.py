"""Destinations: how one delivery reaches a webhook endpoint or a WordPress site.

Each `send_*` makes the remote side match the article's current public state and returns the
remote id; it raises `DeliveryFailed` saying whether a retry can help. Every one is idempotent,
because a delivery may be sent twice (a worker killed between the remote call and the commit):
- webhooks: the `webhook-id` is the delivery's, the same on every retry, so a receiver
  following the Standard Webhooks spec drops the repeat;
- WordPress: the post is found by the stored remote id or, after a crash lost it, by the
  article's deterministic slug, and updated instead of created again.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import structlog
from standardwebhooks import Webhook

from shared.http import SafeClient
from shared.http.client import FetchResult
from shared.http.errors import FetchError
from shared.publishing.ledger import Action, Claimed
from shared.publishing.render import PublishedArticle

log = structlog.get_logger(__name__)

# Statuses worth retrying besides 5xx: timeout and rate limit.
RETRYABLE = frozenset({408, 429})
EVENT_TYPES = {
    Action.PUBLISH: "article.published",
    Action.CORRECT: "article.corrected",
    Action.WITHDRAW: "article.withdrawn",
}


class DeliveryFailed(Exception):
    def __init__(
        self,
        message: str,
        *,
        retry: bool = True,
        retry_after: dt.timedelta | None = None,
        disable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry = retry and not disable
        self.retry_after = retry_after
        self.disable = disable  # the endpoint asked never to be called again (410)


@dataclass(frozen=True)
class Target:
    """A destination as a sender needs it: where, how, and its decrypted credentials."""

    id: int
    kind: str
    url: str
    config: dict[str, Any]
    secret: str | None


Sender = Callable[[SafeClient, Target, Claimed, PublishedArticle | None], str | None]


def check_status(result: FetchResult, what: str) -> None:
    """Raise DeliveryFailed unless the answer is a success, classified by the rules: 410 stops
    the endpoint; 408, 429 and 5xx are retried (after Retry-After, if given); any other 4xx
    fails at once, as the same request would fail again, and so does a redirect (not
    followed: a POST redirected would arrive as a GET; the endpoint's address needs fixing)."""
    if 200 <= result.status < 300:
        return
    detail = result.body[:300].decode("utf-8", "replace")
    message = f"{what}: HTTP {result.status} {detail}".strip()
    if result.status == 410:
        raise DeliveryFailed(message, disable=True)
    if result.status in RETRYABLE or result.status >= 500:
        raise DeliveryFailed(message, retry_after=result.retry_after)
    raise DeliveryFailed(message, retry=False)


def _request(client: SafeClient, method: str, url: str, what: str, **kwargs: Any) -> FetchResult:
    try:
        return client.request(method, url, follow_redirects=False, **kwargs)
    except FetchError as exc:
        raise DeliveryFailed(f"{what}: {exc}") from exc


# ---------------------------------------------------------------------------- webhooks


def webhook_secrets(secret: str | None) -> list[str]:
    """The endpoint's signing secrets: one `whsec_...`, or several (whitespace-separated)
    while a key is rotated; every one signs, so the receiver accepts either."""
    return (secret or "").split()


def webhook_payload(claimed: Claimed, article: PublishedArticle | None) -> dict[str, Any]:
    """`{type, timestamp, data}`: the rendered article (for a withdrawal, what identifies it)."""
    # The type says what the payload is (the article's state now), whichever event planned it.
    data: dict[str, Any]
    if article is None or article.status == "withdrawn":
        event_type = EVENT_TYPES[Action.WITHDRAW]
        data = {"article_id": claimed.article_id, "revision": claimed.revision}
        if article is not None:
            data |= {"id": article.id, "canonical_url": article.canonical_url}
    else:
        correction = claimed.action == Action.CORRECT or article.correction
        event_type = EVENT_TYPES[Action.CORRECT if correction else Action.PUBLISH]
        data = article.model_dump(mode="json")
    return {"type": event_type, "timestamp": dt.datetime.now(dt.UTC).isoformat(), "data": data}


def sign(secrets: list[str], message_id: str, timestamp: dt.datetime, body: str) -> str:
    """The `webhook-signature` header: `v1,<base64 HMAC-SHA256>` by each secret."""
    return " ".join(Webhook(secret).sign(message_id, timestamp, body) for secret in secrets)


def send_webhook(
    client: SafeClient, target: Target, claimed: Claimed, article: PublishedArticle | None
) -> str | None:
    secrets = webhook_secrets(target.secret)
    if not secrets:
        raise DeliveryFailed("the webhook has no signing secret: set one", retry=False)
    body = json.dumps(webhook_payload(claimed, article), ensure_ascii=False, separators=(",", ":"))
    now = dt.datetime.now(dt.UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": claimed.idempotency_key,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign(secrets, claimed.idempotency_key, now, body),
    }
    result = _request(client, "POST", target.url, "webhook", headers=headers, data=body.encode())
    check_status(result, "webhook")
    return None


# ---------------------------------------------------------------------------- WordPress


class WordPress:
    """The REST API of one site, with an Application Password (Basic auth)."""

    def __init__(self, client: SafeClient, target: Target) -> None:
        if not target.secret or ":" not in target.secret:
            raise DeliveryFailed(
                "the WordPress destination needs its secret as user:application-password",
                retry=False,
            )
        user, _, password = target.secret.partition(":")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.client = client
        self.base = target.url.rstrip("/")
        self.auth = {"Authorization": f"Basic {token}"}

    def _url(self, route: str, **query: str) -> str:
        # ?rest_route= works where /wp-json/ rewriting is not set up.
        return f"{self.base}/?" + urlencode({"rest_route": f"/wp/v2/{route}", **query})

    def call(
        self, method: str, route: str, body: dict[str, Any] | None = None, **query: str
    ) -> tuple[Any, FetchResult]:
        """The answer's JSON (None if it is not JSON) and the answer."""
        headers = dict(self.auth)
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, ensure_ascii=False).encode()
        result = _request(
            self.client, method, self._url(route, **query), "WordPress", headers=headers, data=data
        )
        try:
            payload = json.loads(result.body or b"null")
        except ValueError:
            payload = None
        return payload, result

    def term(self, taxonomy: str, name: str) -> int:
        """The id of the tag or category `name`, created if missing (an existing one answers
        400 term_exists with its id)."""
        payload, result = self.call("POST", taxonomy, {"name": name})
        if result.status == 201 and isinstance(payload, dict):
            return int(payload["id"])
        if isinstance(payload, dict) and payload.get("code") == "term_exists":
            return int(payload["data"]["term_id"])
        check_status(result, f"WordPress {taxonomy}")
        raise DeliveryFailed(f"WordPress {taxonomy}: unexpected answer", retry=True)

    def find_by_slug(self, slug: str) -> int | None:
        payload, result = self.call(
            "GET", "posts", slug=slug, status="publish,future,draft,pending,private,trash",
            context="edit",
        )  # fmt: skip
        check_status(result, "WordPress lookup")
        if isinstance(payload, list) and payload:
            return int(payload[0]["id"])
        return None

    def post_exists(self, post_id: int) -> bool:
        _, result = self.call("GET", f"posts/{post_id}", context="edit")
        if result.status == 404:
            return False
        check_status(result, "WordPress lookup")
        return True


def send_wordpress(
    client: SafeClient, target: Target, claimed: Claimed, article: PublishedArticle | None
) -> str | None:
    site = WordPress(client, target)
    post_id = int(claimed.remote_id) if claimed.remote_id else None
    if post_id is not None and not site.post_exists(post_id):
        post_id = None  # deleted on the site by hand: find it by slug, or create it again
    if article is None:
        return claimed.remote_id
    if post_id is None:
        post_id = site.find_by_slug(article.slug)  # a crash after creating it lost the id
    if article.status == "withdrawn" or claimed.action == Action.WITHDRAW:
        if post_id is not None:
            payload, result = site.call("DELETE", f"posts/{post_id}")
            gone = isinstance(payload, dict) and payload.get("code") == "rest_already_trashed"
            if not gone:
                check_status(result, "WordPress trash")
        return str(post_id) if post_id is not None else None
    body: dict[str, Any] = {
        # Title and dek are plain text; WordPress prints both as HTML, so they go escaped.
        "title": html.escape(article.title, quote=False),
        "content": article.content_html,
        "excerpt": html.escape(article.dek, quote=False),
        "slug": article.slug,
        "status": "publish",
        "date_gmt": article.first_published_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "tags": [site.term("tags", name) for name in _terms(article.tags + article.places)],
        "categories": [site.term("categories", name) for name in _terms(article.categories)],
    }
    route = f"posts/{post_id}" if post_id is not None else "posts"
    payload, result = site.call("POST", route, body)
    check_status(result, "WordPress post")
    if not isinstance(payload, dict) or "id" not in payload:
        raise DeliveryFailed("WordPress post: no id in the answer")
    return str(payload["id"])


def _terms(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        cleaned = " ".join(name.split())[:200]
        if cleaned and cleaned.lower() not in seen:
            seen[cleaned.lower()] = cleaned
    return list(seen.values())


SENDERS: dict[str, Sender] = {"webhook": send_webhook, "wordpress": send_wordpress}
