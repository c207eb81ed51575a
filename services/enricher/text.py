"""Text statistics that need no model: script, direction, word count, reading time."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)
# Reading speeds (words a minute) for news prose; Arabic words are longer on average.
WORDS_PER_MINUTE = {"Arab": 180, "Latn": 230}
RTL_SCRIPTS = frozenset({"Arab", "Hebr", "Syrc", "Thaa"})
# Script of a letter from its Unicode name's first word.
_SCRIPT_NAMES = {
    "ARABIC": "Arab",
    "LATIN": "Latn",
    "HEBREW": "Hebr",
    "SYRIAC": "Syrc",
    "CYRILLIC": "Cyrl",
}
# Script -> the language we assume for it until a real detector decides.
_SCRIPT_LANGUAGE = {"Arab": "ar", "Latn": "en", "Hebr": "he", "Cyrl": "ru"}


@dataclass(frozen=True)
class TextStats:
    script: str | None
    direction: str
    language_guess: str | None
    word_count: int
    reading_minutes: int


def dominant_script(text: str) -> str | None:
    counts: dict[str, int] = {}
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        script = _SCRIPT_NAMES.get(name.split(" ", 1)[0])
        if script:
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else None


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
