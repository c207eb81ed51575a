"""Quality on the labelled evaluation sets: the issue's targets (entity precision >= 0.90, recall
>= 0.85; duplicate pairs found >= 0.90, <= 1 false pair in 100 reported) on the tuning set
(tests/eval/enrichment.json), where the matcher's rules and the duplicate thresholds were set,
and floors on the held-out set (tests/eval/enrichment_heldout.json), which was written before
that tuning and is not tuned on. If a held-out floor fails, fix the cause in general (and say
so); do not tune on the held-out articles, or they stop measuring anything.

Figures on 2026-11-25 (bench/enrich.py prints them): tuning entities P 1.000 R 1.000, pairs
14/14 found, 0 false; held-out entities P 0.982 R 1.000 (0.973 blind, before one rule added
after it, see its `about`), pairs 9/10 found, 0 false of 9.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.enrichment import duplicates as dup
from shared.enrichment.entities import default

EVAL = Path(__file__).parents[1] / "eval"
TUNING = json.loads((EVAL / "enrichment.json").read_text("utf-8"))
HELD_OUT = json.loads((EVAL / "enrichment_heldout.json").read_text("utf-8"))


def _text(article: dict[str, Any]) -> str:
    return f"{article['title']}\n{article['body']}"


def entity_scores(data: dict[str, Any]) -> tuple[float, float]:
    gazetteer = default()
    tp = fp = fn = 0
    for article in data["articles"]:
        expected = set(article["places"]) | set(article["organisations"])
        found = {f.id for f in gazetteer.find(_text(article))}
        tp, fp, fn = (
            tp + len(found & expected),
            fp + len(found - expected),
            fn + len(expected - found),
        )
    return tp / (tp + fp), tp / (tp + fn)


def duplicate_scores(data: dict[str, Any]) -> tuple[float, int, int]:
    """Labelled pairs found, false pairs and pairs reported, as the enricher finds them: stories
    sharing an LSH band key are candidates, `same_story` decides."""
    gazetteer = default()
    prints = {a["id"]: dup.story_print(_text(a), gazetteer) for a in data["articles"]}
    buckets: dict[str, list[str]] = {}
    for article_id in sorted(prints):
        for key in dup.band_keys(dup.signature(prints[article_id])):
            buckets.setdefault(key, []).append(article_id)
    candidates = {(a, b) for ids in buckets.values() for a in ids for b in ids if a < b}
    found = {(a, b) for a, b in candidates if dup.same_story(prints[a], prints[b])}
    labelled = {tuple(sorted(pair)) for pair in data["duplicates"]}
    return len(found & labelled) / len(labelled), len(found - labelled), len(found)


def test_the_sets_are_what_their_figures_say() -> None:
    for data, articles, pairs, negatives in ((TUNING, 62, 14, 18), (HELD_OUT, 40, 10, 20)):
        ids = {a["id"] for a in data["articles"]}
        assert len(ids) == len(data["articles"]) == articles
        assert len(data["duplicates"]) == pairs
        assert len(data["not_duplicates"]) == negatives
        assert {i for pair in data["duplicates"] + data["not_duplicates"] for i in pair} <= ids
    assert not {a["id"] for a in TUNING["articles"]} & {a["id"] for a in HELD_OUT["articles"]}


@pytest.mark.parametrize(
    ("data", "precision", "recall"),
    [(TUNING, 0.90, 0.85), (HELD_OUT, 0.90, 0.85)],  # held-out: the targets (measured 0.98, 1.0)
    ids=["tuning", "held-out"],
)
def test_entity_precision_and_recall_meet_the_targets(
    data: dict[str, Any], precision: float, recall: float
) -> None:
    measured_precision, measured_recall = entity_scores(data)
    assert measured_precision >= precision, measured_precision
    assert measured_recall >= recall, measured_recall


def test_duplicates_meet_the_targets_on_the_tuning_set() -> None:
    found, false, reported = duplicate_scores(TUNING)
    assert found >= 0.90, found  # measured 14/14
    assert false <= 0.01 * reported, (false, reported)  # measured 0 of 14


def test_duplicates_hold_their_floor_on_the_held_out_set() -> None:
    found, false, reported = duplicate_scores(HELD_OUT)
    # Measured 9/10 (the target); with 10 pairs one pair is 0.1 of the figure, so the floor
    # allows one more miss before failing. False pairs: the target itself (measured 0 of 9).
    assert found >= 0.80, found
    assert false <= 0.01 * reported, (false, reported)
