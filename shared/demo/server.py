"""A small HTTP server that plays five outlets: their feeds and their article pages.

Stories appear over time, as on a real outlet: most are in the feeds from the start and the
newest come out one by one every `reveal_every` seconds, so the poller has new items to find.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"
INITIAL_SHARE = 0.6  # of the stories visible at start


@dataclass(frozen=True)
class DemoArticle:
    outlet: str
    guid: str
    slug: str
    title: str
    summary: str
    content_html: str
    author: str
    categories: tuple[str, ...]
    hours_ago: float


@dataclass(frozen=True)
class DemoOutlet:
    slug: str
    name: str
    name_ar: str
    language: str
    format: str
    attribution: str


def load_outlets() -> tuple[list[DemoOutlet], list[DemoArticle]]:
    data = json.loads(resources.files("shared.demo").joinpath("outlets.json").read_text("utf-8"))
    outlets, articles = [], []
    for raw in data["outlets"]:
        outlets.append(
            DemoOutlet(
                raw["slug"],
                raw["name"],
                raw["name_ar"],
                raw["language"],
                raw["format"],
                raw["attribution"],
            )
        )
        for art in raw["articles"]:
            articles.append(
                DemoArticle(
                    raw["slug"],
                    art["guid"],
                    art["slug"],
                    art["title"],
                    art["summary"],
                    art["content_html"],
                    art["author"],
                    tuple(art["categories"]),
                    float(art["hours_ago"]),
                )
            )
    return outlets, articles


class Timeline:
    """Which stories are out at a given moment, and when each came out."""

    def __init__(self, articles: list[DemoArticle], started: float, reveal_every: float) -> None:
        ordered = sorted(articles, key=lambda a: -a.hours_ago)  # oldest first
        initial = int(len(ordered) * INITIAL_SHARE)
        self.published: list[tuple[float, DemoArticle]] = []
        for index, article in enumerate(ordered):
            if index < initial:
                when = started - article.hours_ago * 3600
            else:
                when = started + (index - initial + 1) * reveal_every
            self.published.append((when, article))

    def visible(self, outlet: str, now: float) -> list[tuple[float, DemoArticle]]:
        items = [(w, a) for w, a in self.published if a.outlet == outlet and w <= now]
        return sorted(items, key=lambda item: -item[0])


class DemoFeedServer:
    """Serve the outlets on 127.0.0.1; `base_url` tells where once started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, reveal_every: float = 10.0) -> None:
        self.outlets, articles = load_outlets()
        self.timeline = Timeline(articles, time.time(), reveal_every)
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def feed_url(self, outlet: DemoOutlet) -> str:
        ext = "atom" if outlet.format == "atom" else "rss"
        return f"{self.base_url}/{outlet.slug}/feed.{ext}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="demo-feeds", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, content_type, body = server.render(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the demo's requests would drown the services' logs

        return Handler

    def render(self, path: str) -> tuple[int, str, bytes]:
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        outlet = next((o for o in self.outlets if parts and o.slug == parts[0]), None)
        if outlet is None or len(parts) != 2:
            return 404, "text/plain; charset=utf-8", b"not found\n"
        now = time.time()
        items = self.timeline.visible(outlet.slug, now)
        if parts[1] == "feed.rss" and outlet.format == "rss":
            return 200, "application/rss+xml; charset=utf-8", self._rss(outlet, items)
        if parts[1] == "feed.atom" and outlet.format == "atom":
            return 200, "application/atom+xml; charset=utf-8", self._atom(outlet, items)
        for _when, article in items:
            if article.slug == parts[1]:
                return 200, "text/html; charset=utf-8", self._page(outlet, article)
        return 404, "text/plain; charset=utf-8", b"not found\n"

    def _link(self, outlet: DemoOutlet, article: DemoArticle) -> str:
        return f"{self.base_url}/{outlet.slug}/{article.slug}"

    def _rss(self, outlet: DemoOutlet, items: list[tuple[float, DemoArticle]]) -> bytes:
        rss = ET.Element("rss", version="2.0")
        channel = ET.SubElement(rss, "channel")
        ET.SubElement(channel, "title").text = outlet.name_ar
        ET.SubElement(channel, "link").text = f"{self.base_url}/{outlet.slug}/"
        ET.SubElement(channel, "description").text = outlet.name
        ET.SubElement(channel, "language").text = outlet.language
        ET.SubElement(channel, "lastBuildDate").text = email.utils.formatdate(usegmt=True)
        for when, article in items:
            item = ET.SubElement(channel, "item")
            ET.SubElement(item, "title").text = article.title
            ET.SubElement(item, "link").text = self._link(outlet, article)
            ET.SubElement(item, "guid", isPermaLink="false").text = article.guid
            ET.SubElement(item, "pubDate").text = email.utils.formatdate(when, usegmt=True)
            ET.SubElement(item, "author").text = article.author
            for category in article.categories:
                ET.SubElement(item, "category").text = category
            ET.SubElement(item, "description").text = article.content_html
        return _XML_DECLARATION + _xml(rss)

    def _atom(self, outlet: DemoOutlet, items: list[tuple[float, DemoArticle]]) -> bytes:
        ET.register_namespace("", ATOM)
        feed = ET.Element(f"{{{ATOM}}}feed")
        ET.SubElement(feed, f"{{{ATOM}}}title").text = outlet.name_ar
        ET.SubElement(feed, f"{{{ATOM}}}id").text = f"{self.base_url}/{outlet.slug}/"
        ET.SubElement(feed, f"{{{ATOM}}}link", href=f"{self.base_url}/{outlet.slug}/")
        ET.SubElement(feed, f"{{{ATOM}}}updated").text = _iso(time.time())
        for when, article in items:
            entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
            ET.SubElement(entry, f"{{{ATOM}}}title").text = article.title
            ET.SubElement(entry, f"{{{ATOM}}}id").text = f"urn:demo:{article.guid}"
            ET.SubElement(entry, f"{{{ATOM}}}link", href=self._link(outlet, article))
            ET.SubElement(entry, f"{{{ATOM}}}published").text = _iso(when)
            ET.SubElement(entry, f"{{{ATOM}}}updated").text = _iso(when)
            author = ET.SubElement(entry, f"{{{ATOM}}}author")
            ET.SubElement(author, f"{{{ATOM}}}name").text = article.author
            for category in article.categories:
                ET.SubElement(entry, f"{{{ATOM}}}category", term=category)
            ET.SubElement(entry, f"{{{ATOM}}}summary").text = article.summary
            ET.SubElement(entry, f"{{{ATOM}}}content", type="html").text = article.content_html
        return _XML_DECLARATION + _xml(feed)

    def _page(self, outlet: DemoOutlet, article: DemoArticle) -> bytes:
        page = (
            f'<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
            f"<title>{html.escape(article.title)}</title></head><body><header>"
            f"{html.escape(outlet.name_ar)}</header><article><h1>{html.escape(article.title)}</h1>"
            f"{article.content_html}</article></body></html>"
        )
        return page.encode("utf-8")


_XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'


def _xml(element: ET.Element) -> bytes:
    return bytes(ET.tostring(element, encoding="utf-8", xml_declaration=False))


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat().replace("+00:00", "Z")
