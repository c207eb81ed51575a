"""Feed freshness for bench/load.py: how long after an editor's publish call a partner's feed
shows the article. One unfiltered partner's JSON Feed is read twice a second (If-None-Match,
so an unchanged document costs a 304), and the first time each item id appears is noted.

The pollers' own requests cannot tell this: each polls every 15 s, so their view of a new item
is late by up to their cadence; this watcher's lateness is at most its 0.5 s interval.
"""

from __future__ import annotations

import threading
import time

import requests


class FeedWatcher:
    def __init__(self, url: str, token: str, interval: float = 0.5) -> None:
        self.url = url
        self.interval = interval
        self.first_seen: dict[str, float] = {}  # item id -> when it was first in the feed
        self.errors = 0
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"Bearer {token}"
        self._etag = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> FeedWatcher:
        self._look()  # what the feed held before: not new
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._http.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._look()

    def _look(self) -> None:
        headers = {"If-None-Match": self._etag} if self._etag else {}
        try:
            answer = self._http.get(self.url, headers=headers, timeout=30)
        except requests.RequestException:
            self.errors += 1
            return
        seen = time.time()
        if answer.status_code == 304:
            return
        if answer.status_code != 200:
            self.errors += 1
            return
        self._etag = answer.headers.get("ETag", "")
        for item in answer.json()["items"]:
            self.first_seen.setdefault(item["id"], seen)
