"""Build feed documents for tests (RSS 2.0, Atom, JSON Feed) from simple item dicts."""

from __future__ import annotations

import email.utils
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Item:
    guid: str | None
    title: str
    body: str = "<p>نص الخبر.</p>"
    link: str | None = None
    published: float | None = 1_764_000_000.0  # 2025-11-24T16:00:00Z
    author: str | None = None


def rss(items: Sequence[Item], title: str = "منفذ تجريبي", extra_channel: str = "") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{html.escape(title)}</title><link>http://outlet.example/</link>",
        "<description>test</description>",
        extra_channel,
    ]
    for item in items:
        parts.append("<item>")
        parts.append(f"<title>{html.escape(item.title)}</title>")
        if item.guid is not None:
            parts.append(f'<guid isPermaLink="false">{html.escape(item.guid)}</guid>')
        if item.link:
            parts.append(f"<link>{html.escape(item.link)}</link>")
        if item.published is not None:
            parts.append(
                f"<pubDate>{email.utils.formatdate(item.published, usegmt=True)}</pubDate>"
            )
        if item.author:
            parts.append(f"<author>{html.escape(item.author)}</author>")
        parts.append(f"<description>{html.escape(item.body)}</description>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def atom(items: Sequence[Item], title: str = "منفذ تجريبي") -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{html.escape(title)}</title><id>urn:test:feed</id>",
        "<updated>2025-11-24T16:00:00Z</updated>",
    ]
    for item in items:
        parts.append("<entry>")
        parts.append(f"<title>{html.escape(item.title)}</title>")
        if item.guid is not None:
            parts.append(f"<id>{html.escape(item.guid)}</id>")
        if item.link:
            parts.append(f'<link href="{html.escape(item.link)}"/>')
        parts.append("<updated>2025-11-24T16:00:00Z</updated>")
        if item.author:
            parts.append(f"<author><name>{html.escape(item.author)}</name></author>")
        parts.append(f'<content type="html">{html.escape(item.body)}</content>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


def json_feed(items: Sequence[Item], title: str = "منفذ تجريبي") -> bytes:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": "http://outlet.example/",
        "items": [
            {
                **({"id": item.guid} if item.guid is not None else {}),
                "title": item.title,
                "content_html": item.body,
                **({"url": item.link} if item.link else {}),
                **({"authors": [{"name": item.author}]} if item.author else {}),
                "date_published": "2025-11-24T16:00:00Z",
            }
            for item in items
        ],
    }
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
