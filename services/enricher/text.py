"""Text statistics that need no model: script, direction, word count, reading time."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
# Reading speeds (words a minute) for news prose; Arabic words are longer on average.
WORDS_PER_MINUTE = {"Arab": 180, "Latn": 230}
RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Syrc", "Thaa"})
# Script -> the language we assume for it until a real detector decides.
_SCRIPT_LANGUAGE = {"Arab": "ar", "Latn": "en", "Hebr": "he", "Cyrl": "ru"}


@dataclass(frozen=True)
class TextStats:
    script: str | None
    direction: str
    language_guess: str | None
    word_count: int
    reading_minutes: int


# Letters of each script, by Unicode block: a regex count is fifty times faster than naming
# every character.
_SCRIPT_LETTERS = {
    "Arab": re.compile(
        r"[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefc]"
    ),
    "Latn": re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]"),
    "Hebr": re.compile(r"[\u05d0-\u05ea\ufb1d-\ufb4f]"),
    "Syrc": re.compile(r"[\u0710-\u074f]"),
    "Cyrl": re.compile(r"[\u0400-\u04ff]"),
}


def dominant_script(text: str) -> str | None:
    counts = {script: len(letters.findall(text)) for script, letters in _SCRIPT_LETTERS.items()}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else None


def text_stats(text: str) -> TextStats:
    script = dominant_script(text)
    words = len(_WORD.findall(text))
    speed = WORDS_PER_MINUTE.get(script or "", 200)
    return TextStats(
        script=script,
        direction="rtl" if script in RTL_SCRIPTS else "ltr",
        language_guess=_SCRIPT_LANGUAGE.get(script or ""),
        word_count=words,
        reading_minutes=max(1, round(words / speed)) if words else 0,
    )
