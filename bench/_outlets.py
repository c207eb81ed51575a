"""Outlets for bench/load.py: RSS feeds of distinct Arabic stories on loopback, each on a
port of its own (a host, for the poller's per-host limit), from bench/_feeds.py's farm.

Feeds 0 to outlets - 1 carry `items` stories each from the start: the burst, taken in when an
editor asks for a poll of every source at once. The last feed, the trickle outlet, publishes
one story at a time (`release`). Stories come from `story_stream` (five sentences drawn from
the evaluation articles; one in ten retells the one before, as another outlet would), so the
enricher sees a news stream, not the same few texts again and again.
"""

from __future__ import annotations

import email.utils
import json
import time
from pathlib import Path

from bench._enrich_speed import story_stream
from bench._feeds import FeedFarm
from tests.support.feeds import Item, rss

ROOT = Path(__file__).resolve().parents[1]
EVAL_SETS = (
    ROOT / "tests" / "eval" / "enrichment.json",
    ROOT / "tests" / "eval" / "enrichment_heldout.json",
)
TRICKLE_STORIES = 10_000_000  # the trickle outlet's story numbers start here
TRICKLE_ITEMS = 50  # the newest of the trickle outlet's stories on its feed


class Outlets(FeedFarm):
    def __init__(self, outlets: int, items: int) -> None:
        super().__init__(outlets + 1, items, ports=outlets + 1)
        self.outlets = outlets
        self.trickle = outlets  # the trickle outlet's feed number
        arabic = [
            article
            for path in EVAL_SETS
            for article in json.loads(path.read_text(encoding="utf-8"))["articles"]
            if article["language"] == "ar"
        ]
        self.story = story_stream(arabic)
        self.epoch = time.time()

    @property
    def stories(self) -> int:
        """Stories on the burst outlets' feeds."""
        return self.outlets * self.items

    def release(self) -> None:
        """The trickle outlet publishes one more story."""
        with self._lock:
            self.generation[self.trickle] += 1
            self._cache.pop(self.trickle, None)

    def render(self, n: int, generation: int) -> tuple[bytes, str]:
        """Feed n's bytes and Last-Modified at this generation (FeedFarm caches them)."""
        if n == self.trickle:
            numbers = [TRICKLE_STORIES + k for k in range(generation)][-TRICKLE_ITEMS:]
        else:
            numbers = [n * self.items + k for k in range(self.items)]
        items = []
        for number in numbers:  # each story's date fixed, or a new poll would revise it
            title, body = self.story(number)
            if n == self.trickle:
                published = self.epoch - 3600 + 10 * (number - TRICKLE_STORIES)
            else:
                published = self.epoch - 60 * (self.items - number % self.items)
            items.append(
                Item(
                    f"urn:load:{n}:{number}",
                    title,
                    f"<p>{body}</p>",
                    link=f"https://outlet{n}.example/{number}",
                    published=published,
                )
            )
        feed = rss(items[::-1], title=f"منفذ {n}")  # newest first
        return feed, email.utils.formatdate(self.epoch + generation, usegmt=True)
