"""Editors for bench/load.py: desks (a translator and an editor each) taking queued articles
to publication over the web API, as the desk's page does: open the article, claim, save a
translation, submit, approve, publish, with a pause between steps. Every call's status and
answer time is noted; anything but 200 is an error."""

from __future__ import annotations

import collections
import threading
import time
from typing import Any

import requests

from shared.admin.users import UserCreate, create_user
from shared.db import Database
from shared.domain.states import Role
from shared.uow import UnitOfWork
from tests.support.api import Api

# English translations mentioning places and topics that partners' filters choose among.
TRANSLATIONS = [
    (
        "Shelling kills two civilians in Jasim, Daraa",
        "<p>Two civilians were killed and five wounded by artillery shelling on the eastern "
        "quarter of Jasim in the northern Daraa countryside, the Syrian Civil Defence said.</p>",
    ),
    (
        "Bread prices rise again in Idlib markets",
        "<p>The price of a bundle of bread rose to 5 Turkish lira in Idlib's markets this week, "
        "traders said, as fuel prices climbed with the exchange rate.</p>",
    ),
    (
        "Families return to Raqqa's old market",
        "<p>Dozens of families returned to homes near the old market of Raqqa, where shops "
        "reopened after the rubble was cleared, residents said.</p>",
    ),
    (
        "Aleppo's water supply cut for a third day",
        "<p>Water was cut in several neighbourhoods of Aleppo for a third day after a power "
        "failure at the pumping station, the local council said.</p>",
    ),
]
# Connections idle longer than this are not reused: uvicorn closes them after 5 s, and a
# request sent as it does is reset (browsers retry it on a new connection; requests does not).
IDLE = 4.0


class Editors:
    """`desks` desks at work on the newest articles in state new, as the desk lists them
    (from ingest on); desk i takes the articles whose id is i modulo `desks`, so desks never
    race for one article."""

    def __init__(self, base_url: str, database: Database, desks: int, think: float) -> None:
        self.think = think
        self.desks: list[tuple[Api, Api]] = []
        with UnitOfWork(database) as uow:
            for n in range(desks):
                translator = create_user(
                    uow, UserCreate(username=f"load-t{n}", role=Role.TRANSLATOR)
                )[1]
                editor = create_user(uow, UserCreate(username=f"load-e{n}", role=Role.EDITOR))[1]
                self.desks.append((Api(base_url, translator), Api(base_url, editor)))
            uow.commit()
        self.published: dict[int, float] = {}  # article id -> when the publish call answered
        self.calls: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: collections.Counter[str] = collections.Counter()
        self.samples: dict[str, str] = {}
        self._lock = threading.Lock()
        self._used: dict[int, float] = {}  # when each client's last call ended
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._work, args=(n,), daemon=True) for n in range(desks)
        ]

    def start(self) -> Editors:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _call(
        self, who: Api, step: str, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        started = time.monotonic()
        if started - self._used.get(id(who), started) > IDLE:
            who.http.close()  # as a browser does: the web closes idle connections after 5 s
        try:
            answer = who.request(method, path, json=payload, timeout=60)
        except requests.RequestException as exc:
            self._note(f"{step}: {type(exc).__name__}", str(exc))
            return None
        with self._lock:
            self._used[id(who)] = time.monotonic()
            self.calls[step].append(time.monotonic() - started)
        if answer.status_code != 200:
            self._note(f"{step}: {answer.status_code}", answer.text)
            return None
        result: dict[str, Any] = answer.json()
        return result

    def _note(self, kind: str, detail: str) -> None:
        with self._lock:
            self.errors[kind] += 1
            self.samples.setdefault(kind, detail[:300])

    def _work(self, n: int) -> None:
        translator, editor = self.desks[n]
        while not self._stop.is_set():
            listed = self._call(editor, "list", "GET", "/api/v1/articles?state=new&limit=100")
            mine = [
                a["id"] for a in (listed or {}).get("items", []) if a["id"] % len(self.desks) == n
            ]
            if not mine:
                self._stop.wait(self.think)
                continue
            self._take(translator, editor, mine[0])

    def _take(self, translator: Api, editor: Api, article_id: int) -> None:
        path = f"/api/v1/articles/{article_id}"
        title, body = TRANSLATIONS[article_id % len(TRANSLATIONS)]
        steps: list[tuple[Api, str, str, str, dict[str, Any]]] = [
            (translator, "claim", "POST", "/actions/claim", {}),
            (
                translator,
                "save",
                "PUT",
                "/translation",
                {"title": f"{title} ({article_id})", "dek": "", "body_html": body},
            ),
            (translator, "submit", "POST", "/actions/submit", {}),
            (editor, "approve", "POST", "/actions/approve", {}),
            (editor, "publish", "POST", "/actions/publish", {}),
        ]
        article = self._call(translator, "open", "GET", path)
        for who, step, method, suffix, payload in steps:
            if article is None or self._stop.wait(self.think):
                return
            article = self._call(
                who,
                step,
                method,
                path + suffix,
                {**payload, "lock_version": article["lock_version"]},
            )
        if article is not None:
            self.published[article_id] = time.time()
