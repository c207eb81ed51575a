"""Read a stored feed document (bytes, never a URL) into plain entries.

RSS 0.9x/1.0/2.0 and Atom go through feedparser; JSON Feed, which feedparser does not read, is
read here from its JSON. HTML is sanitised (shared.html) with relative links resolved; dates come
out as aware UTC datetimes or None. Whatever the document holds, the only exception raised is
FeedParseError; an entry that cannot be read is skipped and counted.

Identity uses the guid or link exactly as the document gives it: feedparser would otherwise
resolve a relative id against the feed's URL, and a feed that moves (http to https, a new host)
would see every story as new.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from shared.feeds.encoding import to_utf8
from shared.html import plain_text, sanitize_html, to_text

# Bounds on what one entry may store, so a 2 MB title cannot reach the database.
MAX_TITLE = 1_000
MAX_HTML = 500_000
MAX_URL = 2_048
MAX_AUTHOR = 300
MAX_CATEGORIES = 50


class FeedParseError(ValueError):
    """The document is not a feed we can read; the message is shown in source health."""


@dataclass
class ParsedEntry:
    guid: str | None  # as written in the document
    link: str | None  # absolute, for display and fetching
    title: str
    summary_html: str
    content_html: str
    author: str | None
    published_at: dt.datetime | None
    categories: list[str] = field(default_factory=list)
    link_as_written: str | None = None  # for identity, when there is no guid
    # Set when the article page's text replaced the feed's (full-text sources): the hash of the
    # entry as the feed gave it, so later polls, which read only the feed, compare like with like.
    feed_hash: str | None = None

    def identity_key(self, rule: str = "guid") -> str:
        """How an entry is recognised: by `rule` ("guid": guid, else link, else hash; "link":
        link, else hash; "hash": title and content)."""
        if rule == "guid" and self.guid:
            return "guid:" + _clip_key(self.guid)
        link = self.link_as_written or self.link
        if rule in ("guid", "link") and link:
            return "link:" + _clip_key(link)
        digest = hashlib.sha256(f"{self.title}\n{self.content_html}".encode()).hexdigest()
        return "hash:" + digest

    def content_hash(self) -> str:
        """Changes exactly when the text a translator works from changes (for a full-text
        entry: when the outlet's feed item changes)."""
        if self.feed_hash is not None:
            return self.feed_hash
        text = "\n".join(
            (to_text(self.title), to_text(self.summary_html), to_text(self.content_html))
        )
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ParsedFeed:
    title: str
    link: str | None
    entries: list[ParsedEntry]
    ttl_minutes: int | None = None
    hub_url: str | None = None
    self_url: str | None = None
    skipped: int = 0  # entries that could not be read
    listed: int = 0  # entries in the document, read or not (see max_entries)
    encoding: str = "utf-8"  # what the document really was in
    encoding_note: str | None = None  # set when the declaration was wrong or missing


def _clip_key(value: str) -> str:
    value = value.strip()
    if len(value) <= 500:
        return value
    return value[:400] + "#" + hashlib.sha256(value.encode()).hexdigest()


def parse_feed(
    body: bytes, url: str, content_type: str | None = None, max_entries: int | None = None
) -> ParsedFeed:
    """Parse a feed document fetched from `url`, reading its first `max_entries` entries (all
    when None); `listed` says how many it has."""
    if not body.strip():
        raise FeedParseError("empty document")
    try:
        decoded = to_utf8(body, content_type)
        if _looks_like_json(decoded.body, content_type):
            feed = _parse_json_feed(decoded.body, url, max_entries)
        else:
            feed = _parse_xml_feed(decoded.body, url, decoded.content_type, max_entries)
        feed.encoding = decoded.encoding
        if decoded.guessed:
            said = f"declared {decoded.declared}" if decoded.declared else "no encoding declared"
            feed.encoding_note = f"{said}; read as {decoded.encoding}"
        return feed
    except FeedParseError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise FeedParseError(
            f"document too deeply nested or too large: {type(exc).__name__}"
        ) from exc
    except Exception as exc:
        # A document that trips the parser itself: reported like any unreadable feed.
        raise FeedParseError(f"unreadable document ({type(exc).__name__}: {exc})") from exc


_HTML_PAGE = re.compile(rb"\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.I | re.S)


def _title(raw: str) -> str:
    """A title is plain text: markup in it goes, scripts with their content."""
    return _clip(plain_text(raw), MAX_TITLE)


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip()[:1] == b"{"


def _parse_xml_feed(
    body: bytes, url: str, content_type: str | None, max_entries: int | None
) -> ParsedFeed:
    headers = {"content-type": content_type} if content_type else {}
    # No content-location: feedparser would resolve relative ids against it (see above). Its
    # own sanitiser and URI resolution are off too: nh3 does both, faster and stricter.
    parsed: Any = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    feed = parsed.get("feed", {})
    if not parsed.get("version") and not parsed.entries:
        if _HTML_PAGE.match(body[:500]):
            raise FeedParseError("the address serves a web page, not a feed")
        reason = parsed.get("bozo_exception")
        detail = f" (XML error: {reason})" if reason else ""
        raise FeedParseError(f"not an RSS or Atom feed{detail}")
    feed_link = _absolute(_text(feed.get("link")), url)
    entries: list[ParsedEntry] = []
    skipped = 0
    # Entries past the cap are not converted: sanitising them would cost time and memory.
    for entry in parsed.entries[:max_entries]:
        try:
            entries.append(_xml_entry(entry, url))
        except (TypeError, ValueError, AttributeError, KeyError):
            skipped += 1
    ttl = _text(feed.get("ttl"))
    links = [link for link in feed.get("links", []) if isinstance(link, dict)]
    return ParsedFeed(
        title=_clip(to_text(_text(feed.get("title"))), MAX_TITLE),
        link=feed_link,
        entries=entries,
        ttl_minutes=int(ttl) if ttl.strip().isdigit() and len(ttl) < 7 else None,
        hub_url=_absolute(
            next((_text(k.get("href")) for k in links if k.get("rel") == "hub"), ""), url
        ),
        self_url=_absolute(
            next((_text(k.get("href")) for k in links if k.get("rel") == "self"), ""), url
        ),
        skipped=skipped,
        listed=len(parsed.entries),
    )


def _xml_entry(entry: Any, document_url: str) -> ParsedEntry:
    written = _text(entry.get("link")) or None
    link = _absolute(written, document_url)
    base = link or document_url
    content_parts = [_text(c.get("value")) for c in entry.get("content", []) if isinstance(c, dict)]
    author = _text(entry.get("author"))
    return ParsedEntry(
        guid=_text(entry.get("id")) or None,
        link=link,
        link_as_written=written,
        title=_title(_text(entry.get("title"))),
        summary_html=sanitize_html(_clip(_text(entry.get("summary")), MAX_HTML), base),
        content_html=sanitize_html(_clip("\n".join(p for p in content_parts if p), MAX_HTML), base),
        author=_clip(plain_text(author), MAX_AUTHOR) or None,
        published_at=_struct_to_utc(
            _own(entry, "published_parsed") or _own(entry, "updated_parsed")
        ),
        categories=[
            _clip(_text(t.get("term")), 200)
            for t in entry.get("tags", [])
            if isinstance(t, dict) and _text(t.get("term"))
        ][:MAX_CATEGORIES],
    )


def _own(entry: Any, key: str) -> Any:
    # feedparser maps a missing `updated*` to `published*` with a DeprecationWarning; read only
    # what the entry really has.
    return dict.get(entry, key)


def _parse_json_feed(body: bytes, url: str, max_entries: int | None) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or "jsonfeed.org/version" not in _text(doc.get("version")):
        raise FeedParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed without an items list")
    home = _absolute(_text(doc.get("home_page_url")), url)
    entries: list[ParsedEntry] = []
    skipped = 0
    for item in items[:max_entries]:
        if not isinstance(item, dict):
            skipped += 1
            continue
        try:
            entries.append(_json_entry(item, url))
        except (TypeError, ValueError, AttributeError):
            skipped += 1
    hubs: list[Any] = doc["hubs"] if isinstance(doc.get("hubs"), list) else []
    return ParsedFeed(
        title=_clip(to_text(_text(doc.get("title"))), MAX_TITLE),
        link=home,
        entries=entries,
        hub_url=_absolute(
            next((_text(h.get("url")) for h in hubs if isinstance(h, dict)), ""), url
        ),
        self_url=_absolute(_text(doc.get("feed_url")), url),
        skipped=skipped,
        listed=len(items),
    )


def _json_entry(item: dict[str, Any], document_url: str) -> ParsedEntry:
    written = _text(item.get("url")) or None
    link = _absolute(written, document_url)
    base = link or document_url
    content = _text(item.get("content_html"))
    if not content and _text(item.get("content_text")):
        paragraphs = _escape(_text(item.get("content_text"))).split("\n\n")
        content = "".join(f"<p>{p}</p>" for p in paragraphs)
    authors: list[Any] = item["authors"] if isinstance(item.get("authors"), list) else []
    author = next(
        (_text(a.get("name")) for a in authors if isinstance(a, dict) and _text(a.get("name"))),
        _text(item["author"].get("name")) if isinstance(item.get("author"), dict) else "",
    )
    tags: list[Any] = item["tags"] if isinstance(item.get("tags"), list) else []
    raw_id = item.get("id")
    return ParsedEntry(
        guid=_text(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else None,
        link=link,
        link_as_written=written,
        title=_title(_text(item.get("title"))),
        summary_html=sanitize_html(_clip(_text(item.get("summary")), MAX_HTML), base),
        content_html=sanitize_html(_clip(content, MAX_HTML), base),
        author=_clip(plain_text(author), MAX_AUTHOR) or None,
        published_at=_iso_to_utc(item.get("date_published") or item.get("date_modified")),
        categories=[_clip(t, 200) for t in tags if isinstance(t, str) and t][:MAX_CATEGORIES],
    )


def _text(value: object) -> str:
    """A string field as a string: absent, null, numbers and nested structures included."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _absolute(link: str | None, base: str) -> str | None:
    """An absolute http(s) URL for `link` (resolved against `base`), or None."""
    if not link:
        return None
    resolved = urljoin(base, link.strip())
    if urlsplit(resolved).scheme.lower() not in ("http", "https") or len(resolved) > MAX_URL:
        return None
    return resolved


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit]


def _struct_to_utc(value: time.struct_time | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _iso_to_utc(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
