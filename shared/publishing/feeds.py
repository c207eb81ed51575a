"""Partner feeds: RSS 2.0, Atom, JSON Feed 1.1 and IPTC NINJS 2.x, from the one rendering.

Each partner's first page is rendered when content changes (a publication, correction or
withdrawal marks every partner's documents stale; the publisher renders them again), stored in
`feed_documents` with an ETag that changes only when the bytes do, and served from there. Older
pages (`?before=`) are rendered on request: partners read them rarely.

What a feed carries: published articles only (never a draft), newest change first, filtered by
the partner's filters; ids stable across corrections (Atom id, RSS guid isPermaLink="false",
JSON Feed id, NINJS uri), `updated` bumped by a correction. A withdrawn article leaves RSS, Atom
and JSON Feed; NINJS keeps it, `pubstatus: canceled`, while it is in the window, so a partner
that copied it learns to take it down.

RSS and Atom are built with feedgen; RSS then gets the `atom:link`s feedgen does not write
(`hub`, `next`) with lxml. JSON Feed and NINJS are plain JSON documents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from feedgen.feed import FeedGenerator
from lxml import etree
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from shared.models import MAX_ID, Article, Enrichment, FeedDocument, Partner, utcnow
from shared.publishing.render import NotPublished, PublishedArticle, render
from shared.settings import Settings

# Articles looked at to fill a filtered page: the newest this many public changes.
SCAN_LIMIT = 2000
FILES = {"rss": "rss.xml", "atom": "atom.xml", "jsonfeed": "feed.json", "ninjs": "ninjs.json"}
FORMAT_OF_FILE = {file: fmt for fmt, file in FILES.items()}
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "jsonfeed": "application/feed+json; charset=utf-8",
    "ninjs": "application/json; charset=utf-8",
}
ATOM_NS = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class Page:
    items: list[PublishedArticle]
    next_before: str | None  # the cursor of the next (older) page, if there is one


def matches(filters: dict[str, Any], article: PublishedArticle) -> bool:
    """The partner's filters: all those given must match, each by any of its values."""

    def overlap(wanted: Iterable[str], have: Iterable[str]) -> bool:
        wanted_folded = {w.casefold() for w in wanted}
        return not wanted_folded or bool(wanted_folded & {h.casefold() for h in have})

    language = filters.get("language")
    return (
        overlap(filters.get("sources", []), [article.source_name])
        and overlap(filters.get("categories", []), article.categories)
        and overlap(filters.get("places", []), article.places)
        and overlap(filters.get("keywords", []), article.tags)
        and (not language or article.language.casefold() == language.casefold())
    )


def _cursor(article: PublishedArticle) -> str:
    return f"{article.updated_at.timestamp():.6f}:{article.article_id}"


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime, int] | None:
    if not cursor:
        return None
    try:
        stamp, _, article_id = cursor.partition(":")
        when, number = dt.datetime.fromtimestamp(float(stamp), dt.UTC), int(article_id)
    except (ValueError, OverflowError, OSError):
        return None
    return (when, number) if 0 < number <= MAX_ID else None


# Renderings outlive one refresh in a process: a publisher worker renders mostly the same
# articles for every refresh, and an article's rendering changes only with its public state
# (revision, time, state), its translation's enrichments (tags, places: `computed_at`, which an
# editor's keyword edit also sets) or the settings that shape it, which are its key.
_RENDERED: OrderedDict[tuple[Any, ...], PublishedArticle | None] = OrderedDict()
_RENDERED_MAX = 4096
_RENDERED_LOCK = threading.Lock()


class Renderings:
    """Published articles rendered once, shared by every partner and format; and, for as long
    as this object lives (one refresh, one request), each page once per set of filters."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        # Partners with the same filters see the same page: a refresh of every partner's
        # documents (all formats) reads and filters the articles once per distinct filters.
        self._pages: dict[tuple[str, bool, str | None], Page] = {}
        self.shape = (settings.database_url, settings.site_url, settings.newsroom_name,
                      settings.disclaimer,
                      settings.mt_target_language, tuple(settings.gazetteer_files))  # fmt: skip

    def get(self, article_id: int, version: tuple[Any, ...]) -> PublishedArticle | None:
        key = (article_id, *version, *self.shape)
        with _RENDERED_LOCK:
            if key in _RENDERED:
                _RENDERED.move_to_end(key)
                return _RENDERED[key]
        try:
            article: PublishedArticle | None = render(self.session, self.settings, article_id)
        except NotPublished:
            article = None
        with _RENDERED_LOCK:
            _RENDERED[key] = article
            while len(_RENDERED) > _RENDERED_MAX:
                _RENDERED.popitem(last=False)
        return article

    def page(self, partner: Partner, withdrawn: bool, before: str | None = None) -> Page:
        """The partner's articles, newest change first, after the cursor `before`."""
        key = (json.dumps(partner.filters or {}, sort_keys=True), withdrawn, before)
        if key not in self._pages:
            self._pages[key] = self._page(partner.filters or {}, withdrawn, before)
        return self._pages[key]

    def _page(self, filters: dict[str, Any], withdrawn: bool, before: str | None) -> Page:
        # A rendering's metadata comes from the newest version's enrichment or the public
        # one's (render.metadata_of): a change to either renders it again.
        latest_enrichment = (
            select(func.max(Enrichment.computed_at))
            .where(
                Enrichment.article_id == Article.id,
                Enrichment.subject.in_(("translation", "public")),
            )
            .scalar_subquery()
        )
        query = (
            select(
                Article.id,
                Article.public_updated_at,
                Article.public_revision,
                Article.state,
                latest_enrichment,
            )
            .where(Article.public_revision > 0, Article.published_at.is_not(None))
            .order_by(Article.public_updated_at.desc(), Article.id.desc())
            .limit(SCAN_LIMIT)
        )
        after = _parse_cursor(before)
        if after is not None:
            stamp, article_id = after
            query = query.where(
                (Article.public_updated_at < stamp)
                | ((Article.public_updated_at == stamp) & (Article.id < article_id))
            )
        size = self.settings.feed_page_size
        items: list[PublishedArticle] = []
        more = False
        for article_id, updated, revision, state, enriched in self.session.execute(query):
            article = self.get(article_id, (updated, revision, state, enriched))
            if article is None or (article.status == "withdrawn" and not withdrawn):
                continue
            if not matches(filters, article):
                continue
            if len(items) == size:
                more = True
                break
            items.append(article)
        return Page(items, _cursor(items[-1]) if more and items else None)


@dataclass(frozen=True)
class FeedUrls:
    site: str
    feed: str  # this document's own URL (no token)
    next: str | None
    hub: str | None


def feed_url(settings: Settings, slug: str, fmt: str) -> str:
    """A partner's feed's address (without its token): self links, hub pings."""
    return f"{settings.public_url.rstrip('/')}/feeds/{slug}/{FILES[fmt]}"


def urls(settings: Settings, partner: Partner, fmt: str, next_before: str | None) -> FeedUrls:
    feed = feed_url(settings, partner.slug, fmt)
    return FeedUrls(
        site=settings.site_url,
        feed=feed,
        next=f"{feed}?before={quote(next_before)}" if next_before else None,
        hub=settings.feeds_websub_hub or None,
    )


def _newest(items: Sequence[PublishedArticle]) -> dt.datetime:
    return max((a.updated_at for a in items), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))


def _generator(settings: Settings, partner: Partner, links: FeedUrls,
               items: Sequence[PublishedArticle]) -> FeedGenerator:  # fmt: skip
    fg = FeedGenerator()
    fg.load_extension("dc")
    fg.id(links.feed)
    fg.title(f"{settings.newsroom_name} for {partner.name}")
    fg.description(f"Articles translated and published by {settings.newsroom_name}")
    fg.author(name=settings.newsroom_name)
    fg.link(href=links.feed, rel="self")
    if links.hub:
        fg.link(href=links.hub, rel="hub")
    if links.next:
        fg.link(href=links.next, rel="next")
    fg.link(href=links.site, rel="alternate")
    fg.language("en")
    fg.updated(_newest(items))
    fg.lastBuildDate(_newest(items))
    return fg


def _xml(settings: Settings, partner: Partner, links: FeedUrls,
         items: Sequence[PublishedArticle], fmt: str) -> bytes:  # fmt: skip
    fg = _generator(settings, partner, links, items)
    for article in items:  # newest first, as added
        entry = fg.add_entry(order="append")
        entry.id(article.id)
        entry.title(article.title)
        entry.link(href=article.canonical_url)
        entry.published(article.first_published_at)
        entry.updated(article.updated_at)
        for tag in [*article.categories, *article.tags]:
            entry.category(term=tag)
        if fmt == "rss":
            entry.guid(article.id, permalink=False)
            entry.description(article.dek or article.attribution)
            entry.content(article.content_html, type="CDATA")
            entry.dc.dc_creator(article.translator or settings.newsroom_name)
        else:
            entry.summary(article.dek or article.attribution)
            entry.content(article.content_html, type="html")
            entry.author(name=article.translator or settings.newsroom_name)
    if fmt == "atom":
        return bytes(fg.atom_str(pretty=True))
    return _rss_links(bytes(fg.rss_str(pretty=True)), links)


def _rss_links(document: bytes, links: FeedUrls) -> bytes:
    """feedgen writes RSS's atom:link rel=self only: add the hub and the next page."""
    if not links.hub and not links.next:
        return document
    root = etree.fromstring(document)
    channel = root.find("channel")
    assert channel is not None
    self_link = channel.find(f"{{{ATOM_NS}}}link")
    position = list(channel).index(self_link) + 1 if self_link is not None else 0
    for rel, href in (("hub", links.hub), ("next", links.next)):
        if href:
            link = etree.Element(f"{{{ATOM_NS}}}link", href=href, rel=rel)
            link.tail = self_link.tail if self_link is not None else None
            channel.insert(position, link)
            position += 1
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _json_feed(settings: Settings, partner: Partner, links: FeedUrls,
               items: Sequence[PublishedArticle]) -> dict[str, Any]:  # fmt: skip
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"{settings.newsroom_name} for {partner.name}",
        "home_page_url": links.site,
        "feed_url": links.feed,
        "language": "en",
        "authors": [{"name": settings.newsroom_name}],
        "items": [
            {
                "id": a.id,
                "url": a.canonical_url,
                "external_url": a.original_url,
                "title": a.title,
                "summary": a.dek or a.attribution,
                "content_html": a.content_html,
                "date_published": a.first_published_at.isoformat(),
                "date_modified": a.updated_at.isoformat(),
                "authors": [{"name": a.translator or settings.newsroom_name}],
                "tags": [*a.categories, *a.tags],
                "language": a.language,
                "_crossfeed": {
                    "revision": a.revision,
                    "source": a.source_name,
                    "places": a.places,
                    "attribution": a.attribution,
                },
            }
            for a in items
        ],
    }
    if links.next:
        feed["next_url"] = links.next
    if links.hub:
        feed["hubs"] = [{"type": "WebSub", "url": links.hub}]
    return feed


def ninjs_item(settings: Settings, article: PublishedArticle) -> dict[str, Any]:
    """One article as an IPTC NINJS 2.1 news item."""
    item: dict[str, Any] = {
        "uri": article.id,
        "standard": {"name": "ninjs", "version": "2.1",
                     "schema": "http://www.iptc.org/std/ninjs/ninjs-schema_2.1.json#"},
        "type": "text",
        "representationtype": "full",
        "version": str(article.revision),
        "firstcreated": article.first_published_at.isoformat(),
        "versioncreated": article.updated_at.isoformat(),
        "pubstatus": "canceled" if article.status == "withdrawn" else "usable",
        "language": article.language,
        "headlines": [{"role": "main", "value": article.title}],
        "copyrightholder": settings.newsroom_name,
        "usageterms": article.disclaimer,
        "by": article.translator or settings.newsroom_name,
        "slugline": article.slug,
        "subjects": [{"name": c, "rel": "category"} for c in article.categories]
        + [{"name": t, "rel": "keyword"} for t in article.tags],
        "places": [{"name": p} for p in article.places],
        "organisations": [{"name": o} for o in article.organisations],
        "infosources": [{"name": article.source_name, "role": "originating source"}],
        "renditions": [{"name": "web", "href": article.canonical_url,
                        "contenttype": "text/html"}],
        "altids": [{"role": "crossfeed-article", "value": str(article.article_id)}],
    }  # fmt: skip
    if article.original_url:
        item["altids"].append({"role": "original-url", "value": article.original_url})
    if article.status != "withdrawn":  # a canceled item carries no text
        if article.dek:
            item["descriptions"] = [{"role": "summary", "value": article.dek}]
        item["bodies"] = [{"role": "main", "contenttype": "text/html",
                           "value": article.content_html}]  # fmt: skip
    return item


def document(settings: Settings, partner: Partner, fmt: str, page: Page) -> bytes:
    links = urls(settings, partner, fmt, page.next_before)
    if fmt in ("rss", "atom"):
        return _xml(settings, partner, links, page.items, fmt)
    if fmt == "jsonfeed":
        body: dict[str, Any] = _json_feed(settings, partner, links, page.items)
    else:
        body = {"uri": links.feed, "items": [ninjs_item(settings, a) for a in page.items]}
        if links.next:
            body["next_url"] = links.next
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def build(renderings: Renderings, partner: Partner, fmt: str, before: str | None = None) -> bytes:
    page = renderings.page(partner, withdrawn=fmt == "ninjs", before=before)
    return document(renderings.settings, partner, fmt, page)


def any_stale(session: Session) -> bool:
    return (
        session.scalar(select(FeedDocument.partner_id).where(FeedDocument.stale).limit(1))
        is not None
    )


def mark_stale(session: Session, keys: list[tuple[int, str]] | None = None) -> None:
    """Content changed: every partner's stored documents (or these) are to be rendered again,
    by the next refresh (a publication asks for one; the publisher's sweep renders the rest)."""
    stmt = update(FeedDocument).where(FeedDocument.stale.is_(False)).values(stale=True)
    if keys is not None:
        stmt = stmt.where(
            or_(*((FeedDocument.partner_id == p) & (FeedDocument.format == f) for p, f in keys))
        )
    session.execute(stmt)


def missing(session: Session) -> list[tuple[int, str]]:
    """Active partners' documents never rendered yet (a new partner, a format added)."""
    have = {
        (p, f) for p, f in session.execute(select(FeedDocument.partner_id, FeedDocument.format))
    }
    return [
        (partner_id, fmt)
        for partner_id, formats in session.execute(
            select(Partner.id, Partner.formats).where(Partner.active.is_(True))
        )
        for fmt in formats
        if fmt in FILES and (partner_id, fmt) not in have
    ]


def claim_stale(session: Session) -> list[tuple[int, str]]:
    """Take the stale documents for rendering (the caller commits at once). A change committed
    after this marks them stale again, and the next refresh renders it: none is lost, and no
    lock is held while rendering."""
    rows = session.execute(
        update(FeedDocument)
        .where(FeedDocument.stale.is_(True))
        .values(stale=False)
        .returning(FeedDocument.partner_id, FeedDocument.format)
    )
    return [(partner_id, fmt) for partner_id, fmt in rows]


def refresh(
    session: Session,
    settings: Settings,
    keys: list[tuple[int, str]] | None = None,
    commit: Callable[[], None] | None = None,
) -> list[tuple[int, str]]:
    """Render these partners' first pages (None: every partner's) and store those whose bytes
    changed; returns the (partner id, format) of the documents that changed.

    `commit`, if given, is called after each document stored: partners see each one as soon as
    it is rendered, and the refresh never holds one document's row lock while it waits for
    another's. (Held to the end, those locks deadlocked with `mark_stale`, which publications
    and the enricher run meanwhile, and PostgreSQL threw the whole refresh away.)"""
    renderings = Renderings(session, settings)
    stored = {(d.partner_id, d.format): d for d in session.scalars(select(FeedDocument))}
    wanted = set(keys) if keys is not None else None
    changed = []
    for partner in session.scalars(select(Partner).where(Partner.active.is_(True))):
        for fmt in partner.formats:
            if fmt not in FILES or (wanted is not None and (partner.id, fmt) not in wanted):
                continue
            current = stored.get((partner.id, fmt))
            body = build(renderings, partner, fmt)
            if store(session, partner.id, fmt, body, current):
                changed.append((partner.id, fmt))
                if commit is not None:
                    commit()
    return changed


def store(session: Session, partner_id: int, fmt: str, body: bytes,
          current: FeedDocument | None = None) -> bool:  # fmt: skip
    """Keep `body` as the partner's document; True if it differs from what was stored."""
    etag = etag_of(body)
    if current is None:
        now = utcnow().replace(microsecond=0)
        session.add(FeedDocument(partner_id=partner_id, format=fmt, body=body, etag=etag,
                                 last_modified=now, stale=False))  # fmt: skip
        return True
    if current.etag == etag:
        return False
    current.body, current.etag = body, etag
    current.last_modified = utcnow().replace(microsecond=0)
    return True
