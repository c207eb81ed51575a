"""Partner feeds: /feeds/{partner}/rss.xml, atom.xml, feed.json, ninjs.json.

The partner's token comes as `Authorization: Bearer <token>` or `?token=` (for readers that
can only be given a URL); a token reads its own partner's feeds and nothing else. The first page
is served as stored (rendered by the publisher when content changes) with its ETag and
Last-Modified, so an unchanged feed costs a partner a 304. A document not rendered yet (a new
partner) is rendered on the first request and stored.

Partners poll often and all at once, so the answer is served from memory: each web process
keeps the partners and documents it read for `FEEDS_CACHE_SECONDS`, and reads the database
again after that. A new feed document, a revoked token or a deactivated partner therefore takes
effect within that time. Each partner may make `FEEDS_RATE_LIMIT` requests (counted by each
process); more are answered 429 with Retry-After.

`FeedServer` answers /feeds/ as plain ASGI in front of the FastAPI app, skipping its routing,
dependency injection and middleware, which cost several times what the answer itself costs:
a cached answer is a token hash, two dictionary reads and one prebuilt response (measured by
bench/feeds.py).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qs

import structlog
from fastapi import FastAPI
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from shared import metrics
from shared.db import TRANSIENT_ERRORS, Database
from shared.models import FeedDocument, Partner
from shared.publishing import feeds
from shared.ratelimit import LocalWindow
from shared.security import hash_token
from shared.settings import Settings
from shared.uow import UnitOfWork

from .problems import RETRY_AFTER_SECONDS

log = structlog.get_logger(__name__)

PREFIX = "/feeds/"
ROUTE = "/feeds/{slug}/{file}"  # the metrics label
# Partners may cache for a minute; after that they revalidate (a 304 when nothing changed).
CACHE_CONTROL = "private, max-age=60, must-revalidate"
Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True)
class PartnerView:
    id: int
    slug: str
    formats: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str
    last_modified: str | None  # the HTTP date; None for an older page rendered on request
    modified_at: dt.datetime | None
    content_type: str
    # Both answers' headers, built once per document rather than once per request.
    ok: Headers = field(init=False, repr=False)
    not_modified: Headers = field(init=False, repr=False)

    def __post_init__(self) -> None:
        common = [(b"etag", self.etag.encode()), (b"cache-control", CACHE_CONTROL.encode()),
                  (b"vary", b"Authorization")]  # fmt: skip
        if self.last_modified is not None:
            common.append((b"last-modified", self.last_modified.encode()))
        body_headers = [(b"content-type", self.content_type.encode()),
                        (b"content-length", str(len(self.body)).encode())]  # fmt: skip
        object.__setattr__(self, "ok", body_headers + common)
        object.__setattr__(self, "not_modified", common)


class FeedCache:
    """What this process read last, each entry for `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.partners: dict[str, tuple[float, PartnerView | None]] = {}
        self.documents: dict[tuple[int, str], tuple[float, Document]] = {}

    def cached_partner(self, token_hash: str) -> tuple[bool, PartnerView | None]:
        """(True, the partner or None for an unknown token) while fresh; (False, None) when
        the database must be read (`partner`, off the event loop)."""
        hit = self.partners.get(token_hash)
        return (True, hit[1]) if hit is not None and hit[0] > time.monotonic() else (False, None)

    def cached_document(self, key: tuple[int, str]) -> Document | None:
        hit = self.documents.get(key)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def partner(self, database: Database, token_hash: str) -> PartnerView | None:
        fresh, view = self.cached_partner(token_hash)
        if fresh:
            return view
        try:
            return self._read_partner(database, token_hash)
        except TRANSIENT_ERRORS:
            # The database is away (a restart): what this process knew still answers.
            if token_hash in self.partners:
                return self.partners[token_hash][1]
            raise

    def _read_partner(self, database: Database, token_hash: str) -> PartnerView | None:
        with UnitOfWork(database, read_only=True) as uow:
            row = uow.session.scalar(select(Partner).where(Partner.token_hash == token_hash))
            view = (
                PartnerView(row.id, row.slug, tuple(row.formats))
                if row is not None and row.active
                else None
            )
        if len(self.partners) > 10_000:  # forged tokens must not grow it without bound
            self.partners.clear()
        self.partners[token_hash] = (time.monotonic() + self.seconds, view)
        return view

    def document(self, database: Database, settings: Settings, partner_id: int,
                 fmt: str) -> Document:  # fmt: skip
        key = (partner_id, fmt)
        cached = self.cached_document(key)
        if cached is not None:
            return cached
        try:
            return self._read_document(database, settings, partner_id, fmt)
        except TRANSIENT_ERRORS:
            if key in self.documents:  # stale, but what partners saw a moment ago
                return self.documents[key][1]
            raise

    def _read_document(
        self, database: Database, settings: Settings, partner_id: int, fmt: str
    ) -> Document:
        key = (partner_id, fmt)
        with UnitOfWork(database, read_only=True) as uow:
            stored = uow.session.get(FeedDocument, key)
            document = _document(stored) if stored is not None else None
        if document is None:  # first request: render it and keep it
            with UnitOfWork(database) as uow:
                partner = uow.session.get_one(Partner, partner_id)
                body = feeds.build(feeds.Renderings(uow.session, settings), partner, fmt)
                feeds.store(uow.session, partner_id, fmt, body,
                            uow.session.get(FeedDocument, key))  # fmt: skip
                uow.commit()
                document = _document(uow.session.get_one(FeedDocument, key))
        self.documents[key] = (time.monotonic() + self.seconds, document)
        return document


def _document(stored: FeedDocument) -> Document:
    modified = stored.last_modified.astimezone(dt.UTC)
    return Document(stored.body, stored.etag, format_datetime(modified, usegmt=True), modified,
                    feeds.CONTENT_TYPES[stored.format])  # fmt: skip


def _problem(status: int, title: str, retry_after: int = 0) -> tuple[int, Headers, bytes]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status}).encode()
    headers = [(b"content-type", b"application/problem+json"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    elif status == 405:
        headers.append((b"allow", b"GET, HEAD"))
    elif status in (429, 503):
        headers.append((b"retry-after", str(retry_after).encode()))
    return status, headers, body


class FeedServer:
    """The ASGI application in front of the API: /feeds/ answered here, everything else
    passed on to `api`."""

    def __init__(self, api: FastAPI) -> None:
        self.app = api
        self.cache: FeedCache = api.state.feed_cache
        self.database: Database = api.state.database
        self.settings: Settings = api.state.settings
        self.limiter: LocalWindow | None = api.state.feeds_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            status, headers, body = await self.answer(scope)
        except TRANSIENT_ERRORS as exc:  # nothing cached to fall back on
            log.warning("database_unavailable", path=scope["path"], error=str(exc)[:300])
            status, headers, body = _problem(503, "the database is not answering; try again "
                                             "shortly", RETRY_AFTER_SECONDS)  # fmt: skip
        metrics.HTTP_REQUESTS.labels(ROUTE, str(status)).inc()
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else body})  # fmt: skip

    async def answer(self, scope: Scope) -> tuple[int, Headers, bytes]:
        parts = scope["path"][len(PREFIX) :].split("/")
        if len(parts) != 2 or not all(parts):
            return _problem(404, "Not found")
        if scope["method"] not in ("GET", "HEAD"):
            return _problem(405, "Method not allowed")
        slug, file = parts
        request_headers = _headers(scope)
        query = parse_qs(scope["query_string"].decode("latin-1")) if scope["query_string"] else {}
        token = query.get("token", [None])[0]
        authorization = request_headers.get("authorization")
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        if not token or len(token) > 200:
            return _problem(401, "a feed token is needed")
        token_hash = hash_token(token)
        fresh, view = self.cache.cached_partner(token_hash)
        if not fresh:
            view = await run_in_threadpool(self.cache.partner, self.database, token_hash)
        # The same answer for a wrong token and another partner's feed: nothing to probe.
        if view is None or view.slug != slug:
            return _problem(401, "this token does not open this feed")
        if self.limiter is not None:
            verdict = self.limiter.hit("feeds", str(view.id))
            if not verdict.allowed:
                return _problem(429, "too many requests for this partner's feeds",
                                verdict.retry_after)  # fmt: skip
        fmt = feeds.FORMAT_OF_FILE.get(file)
        if fmt is None or fmt not in view.formats:
            return _problem(404, "no such feed for this partner")
        before = query.get("before", [None])[0]
        if before is not None:  # an older page: rendered on request
            body = await run_in_threadpool(_older_page, self.database, self.settings, view.id,
                                           fmt, before[:100])  # fmt: skip
            document = Document(body, feeds.etag_of(body), None, None, feeds.CONTENT_TYPES[fmt])
        else:
            cached = self.cache.cached_document((view.id, fmt))
            document = cached if cached is not None else await run_in_threadpool(
                self.cache.document, self.database, self.settings, view.id, fmt
            )  # fmt: skip
        if _not_modified(document.etag, document.modified_at,
                         request_headers.get("if-none-match"),
                         request_headers.get("if-modified-since")):  # fmt: skip
            return 304, document.not_modified, b""
        return 200, document.ok, document.body


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers this server reads (ASGI gives names lowercased)."""
    wanted: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in _READ:
            wanted[name.decode()] = value.decode("latin-1")
    return wanted


_READ = frozenset((b"authorization", b"if-none-match", b"if-modified-since"))


def _older_page(database: Database, settings: Settings, partner_id: int, fmt: str,
                before: str) -> bytes:  # fmt: skip
    with UnitOfWork(database, read_only=True) as uow:
        partner = uow.session.get_one(Partner, partner_id)
        return feeds.build(feeds.Renderings(uow.session, settings), partner, fmt, before)


def _not_modified(
    etag: str, modified_at: dt.datetime | None, if_none_match: str | None,
    if_modified_since: str | None,
) -> bool:  # fmt: skip
    # RFC 9110: If-None-Match wins when present; If-Modified-Since is read only without it.
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if if_modified_since and modified_at is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        return modified_at.replace(microsecond=0) <= since
    return False
