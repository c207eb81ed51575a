"""The desk's pages with 10,000 articles: p50 and p95 answer times of each page, against the
JSON API answering the same question (the named peer, measured in the same run).

Crossfeed runs as deployed (`crossfeed web`, one process, on PostgreSQL). The database holds
10,000 articles across every state, as a newsroom has after some months: each with its source
revision, the worked ones with translations, the published ones enriched and delivered to two
destinations (2% of them dead). Requests are made one at a time by a signed-in editor, so the
figures are the answer time, not a throughput. Target: every page under 200 ms.

    .venv/bin/python bench/desk.py [--articles 10000] [--requests 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, update  # noqa: E402

from bench._stack import Stack  # noqa: E402
from bench.feeds import free_port, wait_listening  # noqa: E402
from shared.admin.users import UserCreate, create_user, issue_login_token  # noqa: E402
from shared.domain.states import ArticleState, Role  # noqa: E402
from shared.models import (  # noqa: E402
    Article,
    ArticleRevision,
    ArticleTerm,
    Delivery,
    Destination,
    Enrichment,
    Source,
    Translation,
)
from shared.uow import UnitOfWork  # noqa: E402

TARGET_MS = 200.0
STATES = [  # a newsroom's spread after some months
    (ArticleState.NEW, 0.40), (ArticleState.TRANSLATING, 0.08), (ArticleState.IN_REVIEW, 0.08),
    (ArticleState.APPROVED, 0.04), (ArticleState.SCHEDULED, 0.01),
    (ArticleState.PUBLISHED, 0.35), (ArticleState.WITHDRAWN, 0.02), (ArticleState.DISCARDED, 0.02),
]  # fmt: skip
PARAGRAPH = (
    "<p>قال ناشطون إن قصفاً مدفعياً استهدف أطراف مدينة جاسم في ريف درعا الشمالي، وسط تحركات "
    "عسكرية في المنطقة، بينما أكدت مصادر محلية سقوط جرحى بين المدنيين.</p>"
)
PLACES = ["daraa", "jasim", "idlib", "aleppo", "homs", "raqqa", "deir-ez-zor", "damascus"]


def seed(stack: Stack, articles: int) -> tuple[str, int]:
    """The articles; returns a signed-in editor's session token and a published article id."""
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    with UnitOfWork(stack.database) as uow:
        session = uow.session
        editor, _ = create_user(uow, UserCreate(username="eddie", role=Role.EDITOR,
                                                password="bench password"))  # fmt: skip
        source_ids = [
            session.execute(insert(Source).values(
                name=f"Outlet {n}", url=f"http://127.0.0.1:9/{n}.xml", language="ar",
                next_poll_at=now,
            ).returning(Source.id)).scalar_one()
            for n in range(12)
        ]  # fmt: skip
        hooks = [
            session.execute(insert(Destination).values(
                name=name, kind="webhook", url=f"http://127.0.0.1:9/{name}",
            ).returning(Destination.id)).scalar_one()
            for name in ("site", "partner")
        ]  # fmt: skip
        weights = [w for _, w in STATES]
        rows = []
        for n in range(articles):
            state = rng.choices([s for s, _ in STATES], weights)[0]
            seen = now - dt.timedelta(minutes=articles - n)
            rows.append({
                "source_id": rng.choice(source_ids), "identity_key": f"guid:{n}",
                "guid": str(n), "url": f"https://outlet.example/{n}", "language": "ar",
                "source_published_at": seen, "first_seen_at": seen, "state": state.value,
                "queued_at": seen, "updated_at": seen, "assignee_id": editor.id
                if state in (ArticleState.TRANSLATING, ArticleState.IN_REVIEW) else None,
                "source_revised": rng.random() < 0.02,
            })  # fmt: skip
        ids = list(session.scalars(insert(Article).returning(Article.id), rows))
        revisions = list(session.scalars(insert(ArticleRevision).returning(ArticleRevision.id), [
            {"article_id": i, "number": 1, "title": f"قصف على جاسم في ريف درعا {i}",
             "content_html": PARAGRAPH * 6,
             "content_hash": hashlib.sha256(str(i).encode()).hexdigest()}
            for i in ids
        ]))  # fmt: skip
        worked = [(i, r["state"]) for i, r in zip(ids, rows, strict=True) if r["state"] != "new"]
        translations = list(session.scalars(insert(Translation).returning(Translation.id), [
            {"article_id": i, "number": 1, "title": f"Shelling on Jasim in rural Daraa {i}",
             "dek": "Activists said", "body_html": "<p>Activists said artillery shelling hit the "
             "outskirts of Jasim.</p>" * 6, "translator_id": editor.id}
            for i, _ in worked
        ]))  # fmt: skip
        public = {ArticleState.PUBLISHED.value, ArticleState.WITHDRAWN.value}
        translation_of = dict(zip([i for i, _ in worked], translations, strict=True))
        updates: list[dict[str, object]] = []
        for article_id, revision_id, row in zip(ids, revisions, rows, strict=True):
            values: dict[str, object] = {
                "id": article_id, "current_revision_id": revision_id,
                "current_translation_id": translation_of.get(article_id),
                "approved_translation_id": None, "published_at": None,
                "public_translation_id": None, "public_revision": 0,
            }  # fmt: skip
            if row["state"] in public:
                version = translation_of[article_id]
                values.update(approved_translation_id=version, published_at=now,
                              public_translation_id=version, public_revision=1)  # fmt: skip
            updates.append(values)
        session.execute(update(Article), updates)  # bulk, by primary key
        published = [i for i, state in worked if state in public]
        session.execute(insert(Enrichment), [
            {"article_id": i, "subject": "translation", "language": "en", "word_count": 120,
             "reading_minutes": 1, "keywords": ["Jasim", "shelling"], "keywords_edited": False,
             "entities": {"places": rng.sample(PLACES, 2), "organisations": [], "mentions": {}},
             "categories": ["Daraa"], "input_hash": str(i), "computed_at": now}
            for i in published
        ])  # fmt: skip
        session.execute(insert(ArticleTerm), [
            {"term": f"e:{place}", "article_id": i}
            for i in published for place in rng.sample(PLACES, 2)
        ])  # fmt: skip
        session.execute(insert(Delivery), [
            {"article_id": i, "revision": 1, "destination_id": hook, "action": "publish",
             "state": "dead" if rng.random() < 0.02 else "delivered", "attempts": 1,
             "idempotency_key": f"{i}-{hook}"}
            for i in published for hook in hooks
        ])  # fmt: skip
        _, token, _ = issue_login_token(uow, editor.id, dt.timedelta(hours=2))
        uow.commit()
        sample = published[len(published) // 2]
    # A database in use for months has planner statistics; one loaded a second ago has none
    # until autovacuum comes by, and plans as if each table held a handful of rows.
    with stack.database.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return token, sample


def timed(url: str, cookie: str, requests: int) -> tuple[float, float, int]:
    """p50 and p95 in milliseconds, and the answer's size, of `requests` sequential GETs."""
    times = []
    size = 0
    headers = {"Cookie": f"cf_session={cookie}", "Authorization": f"Bearer {cookie}"}
    for n in range(requests + 3):
        request = urllib.request.Request(url, headers=headers)
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}")
        if n >= 3:  # the first answers warm the process's caches
            times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cf-bench-desk-"))
    port = free_port()
    stack = Stack(workdir, web_port=str(port))
    try:
        started = time.perf_counter()
        token, article_id = seed(stack, args.articles)
        took = time.perf_counter() - started
        print(f"seeded {args.articles:,} articles in {took:.1f} s; {args.requests} sequential "
              "requests per page, one web process, PostgreSQL")  # fmt: skip
        stack.start("web", "web", "--port", str(port))
        wait_listening(port)
        base = f"http://127.0.0.1:{port}"
        jasim = "q=%D8%AC%D8%A7%D8%B3%D9%85+1"  # "جاسم 1"
        listing = "/api/v1/articles?limit=50"
        pages = [
            ("desk (all)", "/desk", listing),
            ("desk: in review", "/desk?state=in_review", f"{listing}&state=in_review"),
            ("desk: place Daraa", "/desk?place=daraa", f"{listing}&place=daraa"),
            ("desk: search", f"/desk?{jasim}", f"{listing}&{jasim}"),
            ("article", f"/articles/{article_id}", f"/api/v1/articles/{article_id}"),
            ("preview", f"/articles/{article_id}/preview", None),
            ("sources", "/sources", "/api/v1/sources"),
        ]  # fmt: skip
        worst = 0.0
        print(f"{'page':<20} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8}   "
              f"{'JSON API p50':>12} {'p95':>7}  ratio p95")  # fmt: skip
        for name, page, api in pages:
            p50, p95, size = timed(base + page, token, args.requests)
            worst = max(worst, p95)
            line = f"{name:<20} {p50:8.1f} {p95:8.1f} {size:8,}"
            if api is not None:
                a50, a95, _ = timed(base + api, token, args.requests)
                line += f"   {a50:12.1f} {a95:7.1f}  {p95 / a95:5.2f}"
            print(line)
        verdict = "met" if worst < TARGET_MS else "missed"
        print(f"slowest page p95 {worst:.1f} ms ({verdict}: target {TARGET_MS:.0f} ms)")
        return 0
    finally:
        stack.close()


if __name__ == "__main__":
    raise SystemExit(main())
