"""The enricher's cache of decoded story prints: decoded once, least recently used out."""

from __future__ import annotations

import json

from services.enricher.stories import _Prints
from shared.enrichment.duplicates import StoryPrint

PRINT = StoryPrint(words=frozenset({"قصف", "جاسم"}), numbers=frozenset({"3"}),
                   entities=frozenset({"jasim"}))  # fmt: skip


def test_a_stored_print_is_decoded_once_per_input_hash() -> None:
    prints = _Prints(4)
    stored = json.dumps(PRINT.to_json())
    first = prints.get("hash-1", stored)
    assert first == PRINT
    assert prints.get("hash-1", "not read again") is first


def test_the_least_recently_used_print_goes_first() -> None:
    prints = _Prints(2)
    prints.put("a", PRINT)
    prints.put("b", StoryPrint(frozenset(), frozenset(), frozenset()))
    prints.get("a", "{}")  # used: "b" is now the oldest
    prints.put("c", PRINT)
    assert prints.get("a", "{}") == PRINT  # kept
    assert prints.get("b", json.dumps(PRINT.to_json())) == PRINT  # evicted, decoded anew
