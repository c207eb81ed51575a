"""Enrichment: entity and duplicate quality on the evaluation set, and speed, against peers.

Quality: places and organisations found in each article of tests/eval/enrichment.json
(articles written for the project, labelled by hand with gazetteer ids), micro-averaged
precision and recall, for Crossfeed's matcher and for a named peer measured in the same run:
"exact-substring", the gazetteer's names searched as written (no Arabic folding, no prefix
handling, no word boundaries), which is what a quick regex tagger does.

Duplicates: every pair of articles; a pair is reported when the two share an LSH band key
and `same_story` agrees. Printed: labelled pairs found (recall), reported pairs that are wrong
(per 100 reported), and the same for a named peer, "word-shingle MinHash": the textbook
near-duplicate detector (MinHash over 3-word shingles of the raw text, same LSH layout,
reported when the estimated Jaccard passes the same candidate threshold).

Speed: articles enriched per second on one process, (a) the computation alone (text stats and
entities) and (b) `enrich_source` end to end on SQLite, storing the result; and the same
computation for the peer.

    .venv/bin/python bench/enrich.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasketch import MinHash  # noqa: E402

from services.enricher.handlers import enrich_source  # noqa: E402
from services.enricher.text import text_stats  # noqa: E402
from shared import migrate  # noqa: E402
from shared.db import Database  # noqa: E402
from shared.enrichment import duplicates as dup  # noqa: E402
from shared.enrichment.entities import Gazetteer, default  # noqa: E402
from shared.models import Article, ArticleRevision, Source, utcnow  # noqa: E402
from shared.uow import UnitOfWork  # noqa: E402

EVAL = ROOT / "tests" / "eval" / "enrichment.json"


def crossfeed(gazetteer: Gazetteer, text: str) -> set[str]:
    return {f.id for f in gazetteer.find(text)}


def exact_substring(gazetteer: Gazetteer, text: str) -> set[str]:
    """The peer: every gazetteer name, as written, found anywhere in the text."""
    found = set()
    for entity_id, (_, entry) in gazetteer.entries.items():
        names = (*entry.ar, entry.en, *entry.en_variants)
        if any(name in text for name in names):
            found.add(entity_id)
            if entry.governorate:
                found.add(entry.governorate)
    return found


Tagger = Callable[[str], set[str]]


def score(articles: list[dict[str, Any]], tag: Tagger) -> tuple[float, float, int, int, int]:
    true_pos = false_pos = false_neg = 0
    for article in articles:
        text = f"{article['title']}\n{article['body']}"
        expected = set(article["places"]) | set(article["organisations"])
        got = tag(text)
        true_pos += len(got & expected)
        false_pos += len(got - expected)
        false_neg += len(expected - got)
    precision = true_pos / max(1, true_pos + false_pos)
    recall = true_pos / max(1, true_pos + false_neg)
    return precision, recall, true_pos, false_pos, false_neg


def pairs_found(
    articles: list[dict[str, Any]], gazetteer: Gazetteer, peer: bool
) -> set[tuple[str, str]]:
    texts = {a["id"]: f"{a['title']}\n{a['body']}" for a in articles}
    prints = {} if peer else {i: dup.story_print(t, gazetteer) for i, t in texts.items()}
    signatures = {}
    for i, text in texts.items():
        if peer:
            words = text.split()
            shingles = {" ".join(words[k : k + 3]) for k in range(max(1, len(words) - 2))}
            minhash = MinHash(num_perm=dup.NUM_PERM)
            minhash.update_batch([s.encode() for s in shingles])
        else:
            minhash = dup.signature(prints[i])
        signatures[i] = minhash
    buckets: dict[str, list[str]] = {}
    for i, minhash in signatures.items():
        for key in dup.band_keys(minhash):
            buckets.setdefault(key, []).append(i)
    candidates = {(a, b) for ids in buckets.values() for a in ids for b in ids if a < b}
    found = set()
    for a, b in candidates:
        if peer:
            ok = signatures[a].jaccard(signatures[b]) >= dup.CANDIDATE_THRESHOLD
        else:
            ok = dup.same_story(prints[a], prints[b])
        if ok:
            found.add((a, b))
    return found


def rate(texts: list[str], fn: Callable[[str], object], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            fn(text)
    return rounds * len(texts) / (time.perf_counter() - started)


def end_to_end(articles: list[dict[str, Any]], gazetteer: Gazetteer, rounds: int) -> float:
    """enrich_source on SQLite, each article stored once per round under a new revision text."""
    folder = Path(tempfile.mkdtemp(prefix="cf-bench-enrich-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    database = Database(url)
    ids = []
    with UnitOfWork(database) as uow:
        source = Source(name="bench", url="https://bench.example/feed", language="ar",
                        next_poll_at=utcnow())  # fmt: skip
        uow.session.add(source)
        uow.session.flush()
        for n, item in enumerate(articles):
            article = Article(source_id=source.id, identity_key=f"guid:{n}", language="ar",
                              first_seen_at=utcnow())  # fmt: skip
            uow.session.add(article)
            uow.session.flush()
            body = f"<p>{item['body']}</p>"
            revision = ArticleRevision(
                article_id=article.id, number=1, title=str(item["title"]), content_html=body,
                content_hash="x",
            )  # fmt: skip
            uow.session.add(revision)
            uow.session.flush()
            article.current_revision_id = revision.id
            ids.append(article.id)
        uow.commit()
    done = 0
    started = time.perf_counter()
    for round_ in range(rounds):
        for article_id in ids:
            with UnitOfWork(database) as uow:  # a new text each round, so nothing is skipped
                article = uow.session.get_one(Article, article_id)
                revision = uow.session.get_one(ArticleRevision, article.current_revision_id)
                revision.summary_html = str(round_)
                done += enrich_source(uow, article_id, gazetteer)
                uow.commit()
    elapsed = time.perf_counter() - started
    database.dispose()
    return done / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--eval", type=Path, default=EVAL, help="the labelled articles")
    args = parser.parse_args()
    if not args.eval.exists():
        print(f"missing evaluation set {args.eval}", file=sys.stderr)
        return 2
    data = json.loads(args.eval.read_text(encoding="utf-8"))
    articles = data["articles"]
    gazetteer = default()
    by_language: dict[str, int] = {}
    for article in articles:
        by_language[article["language"]] = by_language.get(article["language"], 0) + 1
    print(f"evaluation set: {len(articles)} articles {by_language}; gazetteer "
          f"{len(gazetteer.entries)} entries")  # fmt: skip

    print(f"{'entities':22} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>5} {'fn':>5}")
    results = {}
    taggers: list[tuple[str, Tagger]] = [
        ("crossfeed", lambda t: crossfeed(gazetteer, t)),
        ("exact-substring (peer)", lambda t: exact_substring(gazetteer, t)),
    ]
    for name, tag in taggers:
        results[name] = score(articles, tag)
        p, r, tp, fp, fn = results[name]
        print(f"{name:22} {p:9.3f} {r:7.3f} {tp:5} {fp:5} {fn:5}")
    for language in sorted(by_language):
        subset = [a for a in articles if a["language"] == language]
        p, r, *_ = score(subset, lambda t: crossfeed(gazetteer, t))
        print(f"  crossfeed, {language}: precision {p:.3f}, recall {r:.3f}")

    labelled = {tuple(sorted(pair)) for pair in data.get("duplicates", [])}
    hard = {tuple(sorted(pair)) for pair in data.get("not_duplicates", [])}
    print(f"{'duplicate pairs':22} {'found':>9} {'wrong/100':>9} {'hard negatives hit':>19}")
    duplicate_scores = {}
    for name, peer_mode in (("crossfeed", False), ("word-shingle MinHash (peer)", True)):
        found = pairs_found(articles, gazetteer, peer_mode)
        recall = len(found & labelled) / max(1, len(labelled))
        wrong = 100 * len(found - labelled) / max(1, len(found))
        duplicate_scores[name] = (recall, wrong)
        print(f"{name:22} {recall:9.3f} {wrong:9.1f} {len(found & hard):>12}/{len(hard)}")
        for pair in sorted(found - labelled):
            print(f"    wrong pair: {pair}")

    texts = [f"{a['title']}\n{a['body']}" for a in articles]
    ours = rate(texts, lambda t: (text_stats(t), gazetteer.find(t)), args.rounds)
    peer = rate(texts, lambda t: (text_stats(t), exact_substring(gazetteer, t)), args.rounds)
    stored = end_to_end(articles, gazetteer, max(1, args.rounds // 4))
    print(f"speed, computation only: {ours:,.0f} articles/s (peer {peer:,.0f}/s, "
          f"ratio {ours / peer:.2f}x)")  # fmt: skip
    print(f"speed, enrich_source on SQLite (read, compute, store, event): {stored:,.0f} articles/s")
    p, r, *_ = results["crossfeed"]
    recall, wrong = duplicate_scores["crossfeed"]
    print(f"targets: duplicates found >= 0.90 ({'met' if recall >= 0.9 else 'missed'}), "
          f"<= 1 wrong pair in 100 ({'met' if wrong <= 1 else 'missed'})")  # fmt: skip
    print(f"targets: entity precision >= 0.90 ({'met' if p >= 0.9 else 'missed'}), "
          f"recall >= 0.85 ({'met' if r >= 0.85 else 'missed'}), "
          f">= 100 articles/s ({'met' if stored >= 100 else 'missed'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
