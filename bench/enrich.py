"""Enrichment: entity and duplicate quality on the tuning and held-out sets, and speed, vs peers.

Quality, on two labelled sets of articles written for the project (gazetteer ids by hand):
the tuning set tests/eval/enrichment.json, on which the matcher's rules and the duplicate
thresholds were set, and the held-out tests/eval/enrichment_heldout.json, written before that
tuning and never tuned on, whose figures are the honest estimate. Each set is scored apart.

Entities: places and organisations found in each article, micro-averaged precision and recall,
for Crossfeed's matcher and for a named peer measured in the same run: "exact-substring", the
gazetteer's names searched as written (no Arabic folding, no prefix handling, no word
boundaries), which is what a quick regex tagger does.

Duplicates: every pair of articles; a pair is reported when the two share an LSH band key
and `same_story` agrees. Printed: labelled pairs found (recall), reported pairs that are wrong
per reported pair (the issue's "no more than 1 false pair in 100") and per pair of articles
compared, and the same for a named peer, "word-shingle MinHash": the textbook near-duplicate
detector (MinHash over 3-word shingles of the raw text, same LSH layout, reported when the
estimated Jaccard passes the same candidate threshold).

Speed, on one process: the computation alone for a source text (ingest) and a translation,
with peers for its parts (entities: exact-substring; keywords: the `yake` package, the same
algorithm as the yake-rust we use); the handlers storing on SQLite; and the deployed pipeline
(relay, one single-process enricher worker, PostgreSQL, Redis): p50/p95 latency from
`article.ingested` to enrichment stored at a steady rate, and the rate a burst is drained at.

    .venv/bin/python bench/enrich.py [--rounds 20] [--quality-only | --pipeline-only]
                                     [--no-pipeline]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datasketch import MinHash  # noqa: E402

from bench._enrich_speed import (  # noqa: E402
    keyword_peer,
    pipeline,
    rate,
    source_computation,
    stored_rates,
    translation_computation,
)
from services.enricher.handlers import tools  # noqa: E402
from services.enricher.text import text_stats  # noqa: E402
from shared.enrichment import duplicates as dup  # noqa: E402
from shared.enrichment.entities import Gazetteer, default  # noqa: E402

EVAL = ROOT / "tests" / "eval" / "enrichment.json"
HELD_OUT = ROOT / "tests" / "eval" / "enrichment_heldout.json"
# The targets.
ENTITY_PRECISION, ENTITY_RECALL = 0.90, 0.85
PAIRS_FOUND, FALSE_PER_REPORTED = 0.90, 0.01
ARTICLES_PER_SECOND = 100


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


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def quality(name: str, data: dict[str, Any], gazetteer: Gazetteer) -> None:
    """Print one labelled set's entity and duplicate figures, Crossfeed's and the peers'."""
    articles = data["articles"]
    by_language: dict[str, int] = {}
    for article in articles:
        by_language[article["language"]] = by_language.get(article["language"], 0) + 1
    print(f"\n== {name}: {len(articles)} articles {by_language}, "
          f"{len(data.get('duplicates', []))} duplicate pairs, "
          f"{len(data.get('not_duplicates', []))} hard negatives")  # fmt: skip
    print(f"{'entities':28} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>5} {'fn':>5}")
    results = {}
    taggers: list[tuple[str, Tagger]] = [
        ("crossfeed", lambda t: crossfeed(gazetteer, t)),
        ("exact-substring (peer)", lambda t: exact_substring(gazetteer, t)),
    ]
    for tagger, tag in taggers:
        results[tagger] = score(articles, tag)
        p, r, tp, fp, fn = results[tagger]
        print(f"{tagger:28} {p:9.3f} {r:7.3f} {tp:5} {fp:5} {fn:5}")
    for language in sorted(by_language):
        subset = [a for a in articles if a["language"] == language]
        p, r, *_ = score(subset, lambda t: crossfeed(gazetteer, t))
        print(f"  crossfeed, {language}: precision {p:.3f}, recall {r:.3f}")

    labelled = {tuple(sorted(pair)) for pair in data.get("duplicates", [])}
    hard = {tuple(sorted(pair)) for pair in data.get("not_duplicates", [])}
    compared = len(articles) * (len(articles) - 1) // 2
    print(f"{'duplicate pairs':28} {'found':>9} {'reported':>8} {'false':>5} {'per reported':>12} "
          f"{'per pair':>9} {'hard negatives hit':>18}")  # fmt: skip
    duplicate_scores = {}
    for peer_name, peer_mode in (("crossfeed", False), ("word-shingle MinHash (peer)", True)):
        found = pairs_found(articles, gazetteer, peer_mode)
        recall = len(found & labelled) / max(1, len(labelled))
        false = len(found - labelled)
        per_reported = false / max(1, len(found))
        duplicate_scores[peer_name] = (recall, per_reported)
        print(f"{peer_name:28} {recall:9.3f} {len(found):8} {false:5} {per_reported:12.3f} "
              f"{false / max(1, compared):9.4f} {len(found & hard):>12}/{len(hard)}")  # fmt: skip
        for pair in sorted(found - labelled):
            print(f"    false pair: {pair}")
        if not peer_mode:
            for pair in sorted(labelled - found):
                print(f"    missed pair: {pair}")
    p, r, *_ = results["crossfeed"]
    recall, per_reported = duplicate_scores["crossfeed"]
    print(f"targets: entity precision >= {ENTITY_PRECISION} ({_met(p >= ENTITY_PRECISION)}), "
          f"recall >= {ENTITY_RECALL} ({_met(r >= ENTITY_RECALL)}); "
          f"duplicates found >= {PAIRS_FOUND} ({_met(recall >= PAIRS_FOUND)}), "
          f"<= 1 false in 100 reported ({_met(per_reported <= FALSE_PER_REPORTED)})")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--eval", type=Path, default=EVAL, help="the labelled tuning set")
    parser.add_argument("--held-out", type=Path, default=HELD_OUT, help="the labelled held-out set")
    parser.add_argument("--quality-only", action="store_true", help="skip the speed measurements")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the deployed pipeline")
    parser.add_argument("--pipeline-only", action="store_true", help="the deployed pipeline alone")
    parser.add_argument("--pipeline-articles", type=int, default=600)
    parser.add_argument("--pipeline-rate", type=float, default=15.0, help="articles/s, steady")
    args = parser.parse_args()
    for path in (args.eval, args.held_out):
        if not path.exists():
            print(f"missing evaluation set {path}", file=sys.stderr)
            return 2
    data = json.loads(args.eval.read_text(encoding="utf-8"))
    held_out = json.loads(args.held_out.read_text(encoding="utf-8"))
    articles = [*data["articles"], *held_out["articles"]]
    arabic = [a for a in articles if a["language"] == "ar"]
    if args.pipeline_only:
        return _pipeline(arabic, args.pipeline_articles, args.pipeline_rate)
    gazetteer = default()
    print(f"gazetteer: {len(gazetteer.entries)} entries; duplicate score >= "
          f"{dup.DUPLICATE_SCORE}, LSH {dup.BANDS} bands x {dup.ROWS} rows")  # fmt: skip
    quality("tuning set (rules and thresholds set on it)", data, gazetteer)
    quality("held-out set (not tuned on)", held_out, gazetteer)
    if args.quality_only:
        return 0

    english = [a for a in articles if a["language"] == "en"]
    kit = tools()
    texts = [f"{a['title']}\n{a['body']}" for a in articles]
    english_texts = [f"{a['title']}\n{a['body']}" for a in english]
    rounds = args.rounds
    print(
        f"\n== speed, one process ({len(arabic)} Arabic articles as source texts, "
        f"{len(english)} English ones as translations)"
    )
    entities_only = rate(texts, lambda t: (text_stats(t), gazetteer.find(t)), rounds)
    peer = rate(texts, lambda t: (text_stats(t), exact_substring(gazetteer, t)), rounds)
    print(
        f"entities alone: {entities_only:,.0f} articles/s (exact-substring peer {peer:,.0f}/s, "
        f"ratio {entities_only / peer:.2f}x)"
    )
    ours, theirs, agree = keyword_peer(
        [(a["language"], f"{a['title']}\n{a['body']}") for a in articles], rounds
    )
    print(
        f"keywords alone: yake-rust {ours:,.0f}/s, yake package (peer) {theirs:,.0f}/s, "
        f"ratio {ours / theirs:.1f}x; {agree:.0%} of the package's top 10 also ours"
    )
    source = rate([f"{a['title']}\n{a['body']}" for a in arabic], source_computation(kit), rounds)
    translation = rate(english_texts, translation_computation(kit), rounds)
    print(f"ingest enrichment, computation: {source:,.0f} articles/s")
    print(f"translation enrichment, computation: {translation:,.0f} articles/s")
    stored_source, stored_translation = stored_rates(arabic, english, kit, max(2, rounds // 5))
    print(
        f"ingest enrichment, stored on SQLite (read, compute, index, store, event): "
        f"{stored_source:,.0f} articles/s ({_met(stored_source >= ARTICLES_PER_SECOND)})"
    )
    print(
        f"translation enrichment, stored on SQLite: {stored_translation:,.0f} articles/s "
        f"({_met(stored_translation >= ARTICLES_PER_SECOND)})"
    )
    if args.no_pipeline:
        return 0
    return _pipeline(arabic, args.pipeline_articles, args.pipeline_rate)


def _pipeline(arabic: list[dict[str, Any]], count: int, per_second: float) -> int:
    """Print the deployed pipeline's latency and throughput, with one and two processes."""
    figures = pipeline(arabic, count, per_second)
    print("\n== pipeline: relay + one enricher worker process (one core), PostgreSQL, Redis")
    print(
        f"steady {figures['steady_rate']:.0f} articles/s x {figures['steady_articles']:.0f}: "
        f"article.ingested -> enrichment stored p50 {figures['p50'] * 1000:.0f} ms, "
        f"p95 {figures['p95'] * 1000:.0f} ms, max {figures['max'] * 1000:.0f} ms"
    )
    two = pipeline(arabic, count, per_second, concurrency=2, steady=False)
    for processes, f in ((1, figures), (2, two)):
        print(
            f"burst of {f['burst_articles']:.0f} (a stream of distinct stories, "
            f"{f['duplicates']:.0f} of the window's stories clustered), {processes} worker "
            f"process{'es' if processes > 1 else ''}: drained at {f['burst_rate']:,.0f} "
            f"articles/s; worker CPU {f['cpu_ms_per_article']:.1f} ms per article = "
            f"{f['per_core']:,.0f} articles/s per core "
            f"({_met(f['per_core'] >= ARTICLES_PER_SECOND)} against {ARTICLES_PER_SECOND}/s)"
        )
    print(
        f"(this machine: {os.cpu_count()} cores shared by the worker, PostgreSQL, the relay, "
        f"Redis and this benchmark)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
