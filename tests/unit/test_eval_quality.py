"""Quality on the labelled evaluation set (tests/eval/enrichment.json): the issue's targets for
entities, and a regression floor for duplicates (whose target is not met yet; see bench)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from shared.enrichment import duplicates as dup
from shared.enrichment.entities import default

EVAL = json.loads((Path(__file__).parents[1] / "eval" / "enrichment.json").read_text("utf-8"))
ARTICLES: list[dict[str, Any]] = EVAL["articles"]


def _text(article: dict[str, Any]) -> str:
    return f"{article['title']}\n{article['body']}"


def test_entity_precision_and_recall_meet_the_targets() -> None:
    gazetteer = default()
    tp = fp = fn = 0
    for article in ARTICLES:
        expected = set(article["places"]) | set(article["organisations"])
        found = {f.id for f in gazetteer.find(_text(article))}
        tp, fp, fn = (
            tp + len(found & expected),
            fp + len(found - expected),
            fn + len(expected - found),
        )
    assert tp / (tp + fp) >= 0.90
    assert tp / (tp + fn) >= 0.85


def test_duplicate_detection_does_not_regress() -> None:
    gazetteer = default()
    prints = {a["id"]: dup.story_print(_text(a), gazetteer) for a in ARTICLES}
    found = {
        (a, b)
        for a, b in itertools.combinations(sorted(prints), 2)
        if dup.same_story(prints[a], prints[b])
    }
    labelled = {tuple(sorted(pair)) for pair in EVAL["duplicates"]}
    assert len(found & labelled) / len(labelled) >= 0.85  # measured 12/14 on 2026-11-25
    assert len(found - labelled) <= 1  # measured 1 (a04/a06: same prices, another week)
