"""Enrichment speed: the computation alone, the handlers storing on SQLite, and the deployed
pipeline (relay, one single-process enricher worker, PostgreSQL, Redis) for latency from
`article.ingested` to enrichment stored."""

from __future__ import annotations

import itertools
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yake
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bench._stack import Stack, tree_cpu_seconds
from services.enricher.handlers import Tools, enrich_source, enrich_translation, entities_of
from services.enricher.text import text_stats
from shared import migrate
from shared.db import Database
from shared.domain.events import ArticleIngested
from shared.enrichment import keywords, language, standing
from shared.enrichment.duplicates import band_keys, signature, story_print
from shared.models import (
    Article,
    ArticleRevision,
    Enrichment,
    OutboxEvent,
    Source,
    Translation,
    utcnow,
)
from shared.uow import UnitOfWork

T = TypeVar("T")


def rate(items: Sequence[T], fn: Callable[[T], object], rounds: int) -> float:
    """Items handled per second by `fn`, over `rounds` passes."""
    started = time.perf_counter()
    for _ in range(rounds):
        for item in items:
            fn(item)
    return rounds * len(items) / (time.perf_counter() - started)


def add_sources(session: Session, count: int, **fields: Any) -> list[Source]:
    sources = [
        Source(name=f"outlet {n}", url=f"https://o{n}.example/feed", language="ar",
               next_poll_at=utcnow().replace(year=2100), **fields)
        for n in range(count)
    ]  # fmt: skip
    session.add_all(sources)
    session.flush()
    return sources


def add_article(session: Session, source_id: int, n: int, title: str, body: str) -> Article:
    """An article with one source revision, as the poller stores it."""
    article = Article(source_id=source_id, identity_key=f"guid:{n}", language="ar",
                      first_seen_at=utcnow())  # fmt: skip
    session.add(article)
    session.flush()
    revision = ArticleRevision(article_id=article.id, number=1, title=title,
                               content_html=f"<p>{body}</p>", content_hash=str(n))  # fmt: skip
    session.add(revision)
    session.flush()
    article.current_revision_id = revision.id
    return article


def source_computation(kit: Tools) -> Callable[[str], object]:
    """Everything `enrich_source` computes, without the database."""

    def compute(text: str) -> object:
        found = kit.gazetteer.find(text)
        detected = language.detect(text, kit.languages)
        lang = detected.language or "ar"
        print_ = story_print(text, kit.gazetteer, found)
        return (
            text_stats(text),
            entities_of(found),
            keywords.keywords(text, lang, found),
            kit.rules.categorise(text, found),
            band_keys(signature(print_)),
        )

    return compute


def translation_computation(kit: Tools) -> Callable[[str], object]:
    """Everything `enrich_translation` computes, without the database."""

    def compute(text: str) -> object:
        found = kit.gazetteer.find(text)
        detected = language.detect(text, kit.languages)
        title = text.split("\n", 1)[0]
        return (
            text_stats(text),
            detected,
            entities_of(found),
            keywords.keywords(text, "en", found),
            kit.rules.categorise(text, found),
            standing.slug(title),
            standing.attribution_line(title, None, "Syria TV"),
            standing.disclaimer(kit.disclaimer, kit.newsroom, "Syria TV", None, None),
        )

    return compute


def keyword_peer(texts: list[tuple[str, str]], rounds: int) -> tuple[float, float, float]:
    """yake-rust (ours) against the `yake` package on the same texts: rates, and how many of
    the package's top 10 phrases ours also gives (the same algorithm should agree)."""
    extractors = {
        lang: yake.KeywordExtractor(lan=lang, n=3 if lang == "en" else 2, top=10)
        for lang in {lang for lang, _ in texts}
    }
    ours_rate = rate(
        texts,
        lambda lt: keywords._extractor(lt[0]).get_n_best(lt[1][: keywords.SAMPLE_CHARS], n=10),
        rounds,
    )
    peer_rate = rate(
        texts, lambda lt: extractors[lt[0]].extract_keywords(lt[1][: keywords.SAMPLE_CHARS]), rounds
    )
    shared = total = 0
    for lang, text in texts:
        sample = text[: keywords.SAMPLE_CHARS]
        theirs = [k.lower() for k, _ in extractors[lang].extract_keywords(sample)]
        ours = {k.lower() for k, _ in keywords._extractor(lang).get_n_best(sample, n=10)}
        shared += sum(1 for k in theirs if k in ours)
        total += len(theirs)
    return ours_rate, peer_rate, shared / max(1, total)


@contextmanager
def _sqlite(
    articles: list[dict[str, Any]], translations: list[dict[str, Any]]
) -> Iterator[tuple[Database, list[int]]]:
    folder = Path(tempfile.mkdtemp(prefix="cf-bench-enrich-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    database = Database(url)
    ids = []
    with UnitOfWork(database) as uow:
        sources = add_sources(uow.session, 4, attribution="Bench TV says")
        english = itertools.cycle(translations)
        for n, item in enumerate(articles):
            article = add_article(uow.session, sources[n % 4].id, n, item["title"], item["body"])
            theirs = next(english)
            version = Translation(article_id=article.id, number=1, title=str(theirs["title"]),
                                  body_html=f"<p>{theirs['body']}</p>")  # fmt: skip
            uow.session.add(version)
            uow.session.flush()
            article.current_translation_id = version.id
            ids.append(article.id)
        uow.commit()
    try:
        yield database, ids
    finally:
        database.dispose()


def stored_rates(
    articles: list[dict[str, Any]], translations: list[dict[str, Any]], kit: Tools, rounds: int
) -> tuple[float, float]:
    """`enrich_source` and `enrich_translation` on SQLite, one transaction per article as the
    worker runs them, each round under a new text so nothing is skipped."""
    with _sqlite(articles, translations) as (database, ids):
        results = []
        for handler in (enrich_source, enrich_translation):
            done, elapsed = 0, 0.0
            for round_ in range(rounds):
                with UnitOfWork(database) as uow:  # a new text each round (not timed)
                    if handler is enrich_source:
                        uow.session.execute(
                            update(ArticleRevision).values(summary_html=str(round_))
                        )
                    else:
                        uow.session.execute(update(Translation).values(dek=str(round_)))
                    uow.commit()
                started = time.perf_counter()
                for article_id in ids:
                    with UnitOfWork(database) as uow:
                        done += handler(uow, article_id, kit)
                        uow.commit()
                elapsed += time.perf_counter() - started
            results.append(done / elapsed)
    return results[0], results[1]


def story_stream(articles: list[dict[str, Any]], seed: int = 7) -> Callable[[int], tuple[str, str]]:
    """The n-th article of a news stream: a story of five sentences drawn from the evaluation
    articles (most stories are new; one in ten is another outlet retelling the one before).
    Repeating the evaluation articles themselves would make every story a duplicate of dozens
    in the window, which no real stream is."""
    sentences = [
        s.strip()
        for a in articles
        for s in re.split(r"(?<=[.!؟])\s+", a["body"])
        if len(s.strip()) > 20
    ]
    titles = [a["title"] for a in articles]

    def nth(n: int) -> tuple[str, str]:
        story = n - 1 if n % 10 == 1 else n
        pick = random.Random(seed * 1_000_003 + story)
        return f"{pick.choice(titles)} ({story})", " ".join(pick.sample(sentences, 5))

    return nth


def pipeline(
    articles: list[dict[str, Any]], count: int, per_second: float, concurrency: int = 1,
    steady: bool = True,
) -> dict[str, float]:  # fmt: skip
    """The deployed path: articles stored with their `article.ingested` events (as the poller
    stores them), sent by the relay to one prefork enricher worker with `concurrency`
    processes. Latency is event created -> enrichment stored, at a steady `per_second`;
    throughput is a burst of `count` articles drained, with the worker's CPU time per article
    (what one core of enricher does: the database's work is on its own processes)."""
    workdir = Path(tempfile.mkdtemp(prefix="cf-bench-pipeline-"))
    stack = Stack(workdir, relay_interval_seconds="0.05")
    nth = story_stream(articles)
    figures: dict[str, float] = {}
    try:
        worker = stack.start(
            "worker", "worker", "--queues", "enrich", "--pool", "prefork",
            "--concurrency", str(concurrency),
        )  # fmt: skip
        stack.start("relay", "relay")
        with UnitOfWork(stack.database) as uow:
            source_ids = [source.id for source in add_sources(uow.session, 5)]
            uow.commit()
        serial = itertools.count()

        def ingest(batch: int) -> None:
            with UnitOfWork(stack.database) as uow:
                for _ in range(batch):
                    n = next(serial)
                    title, body = nth(n)
                    article = add_article(uow.session, source_ids[n % 5], n, title, body)
                    uow.emit(
                        ArticleIngested(
                            article_id=article.id,
                            source_id=article.source_id,
                            revision_id=article.current_revision_id,
                        )
                    )
                uow.commit()

        def enriched() -> int:
            with stack.database.session() as session:
                return int(session.scalar(select(func.count()).select_from(Enrichment)) or 0)

        def wait_for(total: int, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while enriched() < total:
                stack.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(f"only {enriched()} of {total} enriched in {timeout:.0f}s")
                time.sleep(0.05)

        ingest(20)  # warm up: imports, models, connections
        wait_for(20, 120)
        done = 20
        if steady:  # `per_second`, in ticks of 0.1 s
            started = time.monotonic()
            steady_from = utcnow()
            sent = 0
            while sent < count:
                due = int((time.monotonic() - started) * per_second) - sent
                if due > 0:
                    ingest(min(due, count - sent))
                    sent += min(due, count - sent)
                time.sleep(0.02)
            done += count
            wait_for(done, 300)
            with stack.database.session() as session:
                rows = session.execute(
                    select(OutboxEvent.created_at, Enrichment.computed_at)
                    .join(
                        Enrichment,
                        Enrichment.article_id == OutboxEvent.data["article_id"].as_integer(),
                    )
                    .where(
                        OutboxEvent.type == "article.ingested",
                        OutboxEvent.created_at >= steady_from,
                    )
                ).all()
            latencies = sorted((end - made).total_seconds() for made, end in rows)
            figures |= {
                "steady_rate": per_second,
                "steady_articles": len(latencies),
                "p50": statistics.median(latencies),
                "p95": latencies[int(0.95 * (len(latencies) - 1))],
                "max": latencies[-1],
            }
        # Burst: `count` at once, drained by the worker.
        burst = (count // 100) * 100
        cpu_before = tree_cpu_seconds(worker.pid)
        burst_started = time.monotonic()
        for _ in range(count // 100):
            ingest(100)
        wait_for(done + burst, 600)
        elapsed = time.monotonic() - burst_started
        cpu = tree_cpu_seconds(worker.pid) - cpu_before
        with stack.database.session() as session:
            clustered = session.scalar(
                select(func.count()).where(Enrichment.cluster_id != Enrichment.article_id)
            )
        return figures | {
            "burst_articles": burst,
            "burst_rate": burst / elapsed,
            "cpu_ms_per_article": cpu * 1000 / burst,
            "per_core": burst / cpu,
            "duplicates": float(clustered or 0),
        }
    finally:
        stack.close()
