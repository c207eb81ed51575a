"""Partner feeds: /feeds/{partner}/rss.xml, atom.xml, feed.json, ninjs.json.

The partner's token comes as `Authorization: Bearer <token>` or `?token=` (for readers that
can only be given a URL); a token reads its own partner's feeds and nothing else. The first page
is served as stored (rendered by the publisher when content changes) with its ETag and
Last-Modified, so an unchanged feed costs a partner a 304. A document not rendered yet (a new
partner) is rendered on the first request and stored.

Partners poll often and all at once, so the answer is served from memory: each web process
keeps the partners and documents it read for `FEEDS_CACHE_SECONDS`, and reads the database
again after that. A new feed document, a revoked token or a deactivated partner therefore takes
effect within that time. The handler reads the request itself rather than through FastAPI's
parameter parsing, which cost most of a cached answer's time (measured by bench/feeds.py).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from shared.db import Database
from shared.models import FeedDocument, Partner
from shared.publishing import feeds
from shared.security import hash_token
from shared.settings import Settings
from shared.uow import UnitOfWork

router = APIRouter(include_in_schema=False)
# Partners may cache for a minute; after that they revalidate (a 304 when nothing changed).
CACHE_CONTROL = "private, max-age=60, must-revalidate"
CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class PartnerView:
    id: int
    slug: str
    formats: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str
    last_modified: str  # the HTTP date
    modified_at: dt.datetime


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
    return Document(stored.body, stored.etag, format_datetime(modified, usegmt=True), modified)


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=f'{{"title": "{detail}", "status": {status}}}',
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


@router.get("/feeds/{slug}/{file}")
async def feed(slug: str, file: str, request: Request) -> Response:
    fmt = feeds.FORMAT_OF_FILE.get(file)
    token = request.query_params.get("token")
    authorization = request.headers.get("authorization")
    if authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    if not token or len(token) > 200:
        return _problem(401, "a feed token is needed", CHALLENGE)
    state = request.app.state
    cache: FeedCache = state.feed_cache
    token_hash = hash_token(token)
    fresh, view = cache.cached_partner(token_hash)
    if not fresh:
        view = await run_in_threadpool(cache.partner, state.database, token_hash)
    # The same answer for a wrong token and another partner's feed: nothing to probe.
    if view is None or view.slug != slug:
        return _problem(401, "this token does not open this feed", CHALLENGE)
    if fmt is None or fmt not in view.formats:
        return _problem(404, "no such feed for this partner")
    before = request.query_params.get("before")
    if before is not None:  # an older page: rendered on request
        body = await run_in_threadpool(_older_page, state.database, state.settings, view.id,
                                       fmt, before[:100])  # fmt: skip
        return _answer(body, feeds.etag_of(body), None, None, fmt, request)
    document = cache.cached_document((view.id, fmt))
    if document is None:
        document = await run_in_threadpool(cache.document, state.database, state.settings,
                                           view.id, fmt)  # fmt: skip
    return _answer(document.body, document.etag, document.last_modified, document.modified_at,
                   fmt, request)  # fmt: skip


def _older_page(database: Database, settings: Settings, partner_id: int, fmt: str,
                before: str) -> bytes:  # fmt: skip
    with UnitOfWork(database, read_only=True) as uow:
        partner = uow.session.get_one(Partner, partner_id)
        return feeds.build(feeds.Renderings(uow.session, settings), partner, fmt, before)


def _answer(
    body: bytes, etag: str, last_modified: str | None, modified_at: dt.datetime | None,
    fmt: str, request: Request,
) -> Response:  # fmt: skip
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Authorization"}
    if last_modified is not None:
        headers["Last-Modified"] = last_modified
    if _not_modified(etag, modified_at, request.headers.get("if-none-match"),
                     request.headers.get("if-modified-since")):  # fmt: skip
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type=feeds.CONTENT_TYPES[fmt], headers=headers)


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
