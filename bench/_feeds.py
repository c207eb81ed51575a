"""Many realistic Arabic feeds served on loopback, for the benchmarks.

`FeedFarm` builds N RSS 2.0 feeds of 30 items each (text from the demo outlets, about 48 KB a
feed, as measured for real Arabic feeds in shared/FACTS) and serves them from several ports
(each port is a "host" for the poller's per-host limit), with ETag and Last-Modified, 304 for
unchanged feeds, and a small added latency. `change(fraction)` publishes a new story in that
share of the feeds; `grow(feeds, items)` makes some feeds huge (for memory bounds).
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

DEMO = Path(__file__).resolve().parents[1] / "shared" / "demo" / "outlets.json"


def _pool() -> list[dict[str, str]]:
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    return [article for outlet in data["outlets"] for article in outlet["articles"]]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a poller that refuses an oversized body hangs up mid-answer: expected here


class FeedFarm:
    def __init__(self, feeds: int, items: int = 30, ports: int = 50, latency: float = 0.02) -> None:
        self.count = feeds
        self.items = items
        self.latency = latency
        self.pool = _pool()
        self.generation = [0] * feeds  # how many new stories each feed has published
        self.items_of: dict[int, int] = {}  # feeds with another number of items
        self.requests = 0
        self.not_modified = 0
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[bytes, str, str]] = {}
        self.servers = [_QuietServer(("127.0.0.1", 0), self._handler()) for _ in range(ports)]
        for server in self.servers:
            server.daemon_threads = True
            server.request_queue_size = 256
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in self.servers]

    def start(self) -> Self:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def url(self, n: int) -> str:
        port = self.servers[n % len(self.servers)].server_address[1]
        return f"http://127.0.0.1:{port}/feed/{n}.xml"

    @property
    def host_ports(self) -> list[str]:
        return [f"127.0.0.1:{s.server_address[1]}" for s in self.servers]

    def change(self, fraction: float) -> int:
        """Publish one new story in every 1/fraction-th feed; returns how many changed."""
        step = max(1, round(1 / fraction))
        changed = 0
        with self._lock:
            for n in range(0, self.count, step):
                self.generation[n] += 1
                self._cache.pop(n, None)
                changed += 1
        return changed

    def grow(self, feeds: range, items: int) -> int:
        """Give these feeds `items` items each (and a new story, so the ETag changes)."""
        with self._lock:
            for n in feeds:
                self.items_of[n] = items
                self.generation[n] += 1
                self._cache.pop(n, None)
        return len(feeds)

    def document(self, n: int) -> tuple[bytes, str, str]:
        """The feed's bytes, ETag and Last-Modified, rendered once per generation."""
        with self._lock:
            cached = self._cache.get(n)
            if cached:
                return cached
            generation = self.generation[n]
        body, modified = self.render(n, generation)
        etag = '"' + hashlib.sha1(f"{n}:{generation}".encode()).hexdigest() + '"'
        with self._lock:
            if self.generation[n] == generation:  # not superseded while rendering
                self._cache[n] = (body, etag, modified)
        return body, etag, modified

    def render(self, n: int, generation: int) -> tuple[bytes, str]:
        """Feed n's bytes and Last-Modified at this generation."""
        count = self.items_of.get(n, self.items)
        newest = generation + count - 1
        items = []
        for k in range(newest, generation - 1, -1):  # newest first, `count` of them
            article = self.pool[(n * 7 + k) % len(self.pool)]
            published = email.utils.formatdate(1_764_000_000 + k * 3600, usegmt=True)
            items.append(
                f"<item><title>{html.escape(article['title'])} ({n}-{k})</title>"
                f"<link>https://outlet{n % 50}.example/{n}/{k}</link>"
                f'<guid isPermaLink="false">urn:bench:{n}:{k}</guid>'
                f"<pubDate>{published}</pubDate><author>{html.escape(article['author'])}</author>"
                f"<description>{html.escape(article['content_html'])}</description></item>"
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>منفذ {n}</title><link>https://outlet{n % 50}.example/</link>"
            f"<description>feed {n}</description>"
            f"<lastBuildDate>{email.utils.formatdate(usegmt=True)}</lastBuildDate>"
            + "".join(items)
            + "</channel></rss>"
        ).encode("utf-8")
        return body, email.utils.formatdate(1_764_000_000 + newest * 3600, usegmt=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        farm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                time.sleep(farm.latency)
                try:
                    n = int(self.path.rsplit("/", 1)[1].removesuffix(".xml"))
                    if not 0 <= n < farm.count:
                        raise ValueError(n)
                except (ValueError, IndexError):
                    self.send_error(404)
                    return
                body, etag, modified = farm.document(n)
                with farm._lock:
                    farm.requests += 1
                if self.headers.get("If-None-Match") == etag:
                    with farm._lock:
                        farm.not_modified += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
