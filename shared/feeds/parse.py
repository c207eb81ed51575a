"""Read a stored feed document (bytes, never a URL) into plain entries.

RSS 0.9x/1.0/2.0 and Atom go through feedparser; JSON Feed, which feedparser does not read, is
read here from its JSON. HTML is sanitised (shared.html) with relative links resolved; dates come
out as aware UTC datetimes or None.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import feedparser

from shared.html import sanitize_html, to_text

# Bounds on what one entry may store, so a 2 MB title cannot reach the database.
MAX_TITLE = 1_000
MAX_HTML = 500_000
MAX_ID = 2_000


class FeedParseError(ValueError):
    """The document is not a feed we can read; the message is shown in source health."""


@dataclass
class ParsedEntry:
    guid: str | None
    link: str | None
    title: str
    summary_html: str
    content_html: str
    author: str | None
    published_at: dt.datetime | None
    categories: list[str] = field(default_factory=list)

    def identity_key(self) -> str:
        """guid, else link, else a hash of title and content: how an entry is recognised."""
        if self.guid:
            return "guid:" + _clip_key(self.guid)
        if self.link:
            return "link:" + _clip_key(self.link)
        digest = hashlib.sha256(f"{self.title}\n{self.content_html}".encode()).hexdigest()
        return "hash:" + digest

    def content_hash(self) -> str:
        """Changes exactly when the text a translator works from changes."""
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


def _clip_key(value: str) -> str:
    value = value.strip()
    if len(value) <= 500:
        return value
    return value[:400] + "#" + hashlib.sha256(value.encode()).hexdigest()


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from `url`."""
    if not body.strip():
        raise FeedParseError("empty document")
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url)
    return _parse_xml_feed(body, url, content_type)


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip()[:1] == b"{"


def _parse_xml_feed(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # feedparser's own sanitiser and URI resolution are off: nh3 does both, faster and stricter.
    parsed: Any = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    feed = parsed.get("feed", {})
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f": {reason}" if reason else ""
        raise FeedParseError(f"not an RSS or Atom feed{detail}")
    base = feed.get("link") or url
    entries = [_xml_entry(entry, base) for entry in parsed.entries]
    ttl = feed.get("ttl")
    links = feed.get("links", [])
    return ParsedFeed(
        title=_clip(to_text(feed.get("title", "")), MAX_TITLE),
        link=feed.get("link"),
        entries=entries,
        ttl_minutes=int(ttl) if isinstance(ttl, str) and ttl.strip().isdigit() else None,
        hub_url=next((link.get("href") for link in links if link.get("rel") == "hub"), None),
        self_url=next((link.get("href") for link in links if link.get("rel") == "self"), None),
    )


def _xml_entry(entry: Any, feed_base: str) -> ParsedEntry:
    link = entry.get("link") or None
    base = link or feed_base
    content_parts = [c.get("value", "") for c in entry.get("content", []) if c.get("value")]
    summary = entry.get("summary", "") or ""
    content = "\n".join(content_parts) or ""
    author = entry.get("author") or None
    return ParsedEntry(
        guid=(entry.get("id") or None),
        link=link,
        title=_clip(to_text(entry.get("title", "")), MAX_TITLE),
        summary_html=sanitize_html(_clip(summary, MAX_HTML), base),
        content_html=sanitize_html(_clip(content, MAX_HTML), base),
        author=_clip(author, 300) if author else None,
        published_at=_struct_to_utc(
            _own(entry, "published_parsed") or _own(entry, "updated_parsed")
        ),
        categories=[t.get("term", "") for t in entry.get("tags", []) if t.get("term")][:50],
    )


def _own(entry: Any, key: str) -> Any:
    # feedparser maps a missing `updated*` to `published*` with a DeprecationWarning; read only
    # what the entry really has.
    return dict.get(entry, key)


def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedParseError(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or "jsonfeed.org/version" not in str(doc.get("version", "")):
        raise FeedParseError("JSON document is not a JSON Feed (no jsonfeed.org version)")
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedParseError("JSON Feed without an items list")
    base = str(doc.get("home_page_url") or url)
    entries = [_json_entry(item, base) for item in items if isinstance(item, dict)]
    hubs: list[Any] = doc["hubs"] if isinstance(doc.get("hubs"), list) else []
    return ParsedFeed(
        title=_clip(str(doc.get("title", "")), MAX_TITLE),
        link=doc.get("home_page_url"),
        entries=entries,
        hub_url=next((h.get("url") for h in hubs if isinstance(h, dict)), None),
        self_url=doc.get("feed_url"),
    )


def _json_entry(item: dict[str, Any], base: str) -> ParsedEntry:
    link = item.get("url") if isinstance(item.get("url"), str) else None
    content = item.get("content_html") or ""
    if not content and isinstance(item.get("content_text"), str):
        content = "".join(f"<p>{p}</p>" for p in _escape(item["content_text"]).split("\n\n"))
    authors: list[Any] = item["authors"] if isinstance(item.get("authors"), list) else []
    author = next((a.get("name") for a in authors if isinstance(a, dict) and a.get("name")), None)
    guid = item.get("id")
    return ParsedEntry(
        guid=str(guid) if guid not in (None, "") else None,
        link=link,
        title=_clip(to_text(str(item.get("title", ""))), MAX_TITLE),
        summary_html=sanitize_html(_clip(str(item.get("summary", "")), MAX_HTML), link or base),
        content_html=sanitize_html(_clip(str(content), MAX_HTML), link or base),
        author=_clip(str(author), 300) if author else None,
        published_at=_iso_to_utc(item.get("date_published") or item.get("date_modified")),
        categories=[str(t) for t in item.get("tags", []) if isinstance(t, str)][:50],
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[:limit]


def _struct_to_utc(value: time.struct_time | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _iso_to_utc(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
