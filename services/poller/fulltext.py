"""Summary-only feeds: fetch a new article's page and extract its text (trafilatura).

Used only for sources marked full-text. Pages come through the same safe client as feeds and
the result is sanitised like any ingested HTML; a page that cannot be fetched or read leaves
the feed's summary in place.
"""

from __future__ import annotations

import structlog
import trafilatura

from shared.feeds.encoding import to_utf8
from shared.feeds.parse import ParsedEntry
from shared.html import sanitize_html, to_text
from shared.http import FetchError, SafeClient

log = structlog.get_logger(__name__)

PAGE_MAX_BYTES = 4 * 1024 * 1024


def extract_article(html: str, url: str) -> str | None:
    """The main text of an article page as sanitised HTML; None when nothing is found."""
    extracted = trafilatura.extract(
        html,
        url=url,
        output_format="html",
        include_comments=False,
        include_tables=True,
        include_images=False,
        favor_precision=True,
    )
    if not extracted:
        return None
    return sanitize_html(extracted, url) or None


def fill_full_text(client: SafeClient, entries: list[ParsedEntry], limit: int) -> tuple[int, int]:
    """Replace the summaries of up to `limit` entries with their page's text, in place.

    Returns (pages read, pages that failed).
    """
    read = failed = 0
    for entry in entries[:limit]:
        if not entry.link:
            continue
        try:
            page = client.get(entry.link, headers={"Accept": "text/html"}, max_bytes=PAGE_MAX_BYTES)
        except FetchError as exc:
            log.info("full_text_fetch_failed", url=entry.link, error=str(exc))
            failed += 1
            continue
        if page.status != 200:
            failed += 1
            continue
        text = to_utf8(page.body, page.headers.get("Content-Type")).body.decode("utf-8")
        extracted = extract_article(text, page.url)
        current = to_text(entry.content_html or entry.summary_html)
        if extracted and len(to_text(extracted)) > len(current):
            entry.feed_hash = entry.content_hash()  # before the text changes
            entry.content_html = extracted
            read += 1
        else:
            failed += 1
    return read, failed
