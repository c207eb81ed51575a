"""Keywords: the "Helpful keywords" of a published translation, and source-language keywords
for search.

Statistical key phrases come from YAKE (unsupervised, per document, with stop-word lists for
Arabic and English), through yake-rust: the same algorithm as the `yake` package, which
`bench/enrich.py` measures as its peer (its top phrases agree; it is about eight times faster,
and the Python package alone would take most of an article's enrichment budget). Names from the
gazetteer lead the list: editors tag a story first by where it happened and who acted.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

from yake_rust import Yake

from .arabic import normalise_arabic
from .entities import Found

MAX_KEYWORDS = 8
MAX_NAMES = 5  # of the keywords, at most this many names from the gazetteer
SAMPLE_CHARS = 6000  # a story's keywords are in its first paragraphs; YAKE is linear in words
_NGRAMS = {"en": 3, "ar": 2}  # English names run to three words ("Syrian Civil Defence")

# Dates say when, not what: a keyword made of them helps no reader find the story.
_CALENDAR_WORDS = """
    monday tuesday wednesday thursday friday saturday sunday today yesterday week month year
    january february march april may june july august september october november december
    الاثنين الثلاثاء الاربعاء الخميس الجمعه السبت الاحد اليوم امس الاسبوع الشهر العام
    كانون شباط اذار نيسان ايار حزيران تموز اب ايلول تشرين الاول الثاني الثالث يناير فبراير
    مارس ابريل مايو يونيو يوليو اغسطس سبتمبر اكتوبر نوفمبر ديسمبر
"""
_CALENDAR = frozenset(_CALENDAR_WORDS.split())
_PUNCTUATION = re.compile(r"[\s\"'“”«»()\[\]{}،,.;:؛!?؟…\-–—]+")
_DIGIT = re.compile(r"[0-9٠-٩۰-۹]")


@functools.lru_cache(maxsize=8)
def _extractor(language: str) -> Yake:
    return Yake(language=language, ngrams=_NGRAMS.get(language, 2))


def _clean(phrase: str) -> str | None:
    words = [w for w in _PUNCTUATION.split(phrase) if w]
    if not words or any(_DIGIT.search(w) for w in words):
        return None
    if any(normalise_arabic(w).lower() in _CALENDAR for w in words):
        return None
    # Shown as written, less diacritics and tatweel (editors type without them).
    return "".join(c for c in " ".join(words) if not unicodedata.combining(c) and c != "\u0640")


def _words(phrase: str) -> set[str]:
    return {w.casefold() for w in phrase.split()}


def keywords(
    text: str,
    language: str | None,
    found: Sequence[Found] = (),
    limit: int = MAX_KEYWORDS,
) -> list[str]:
    """Names first (English names from the gazetteer, most mentioned first; Arabic text gets
    none, its search keywords are its own words), then YAKE's phrases. A phrase sharing a word
    with one already taken is left out, so "Daraa" and "northern Daraa" are not both listed."""
    chosen: list[str] = []
    taken: set[str] = set()
    if language == "en":
        names = sorted(found, key=lambda f: (-f.mentions, f.type != "place", f.name))
        for entity in names[:MAX_NAMES]:
            chosen.append(entity.name)
            taken |= _words(entity.name)
    if language not in _NGRAMS:
        return chosen[:limit]
    for phrase, _score in _extractor(language).get_n_best(text[:SAMPLE_CHARS], n=limit * 3):
        cleaned = _clean(phrase)
        if cleaned is None or _words(cleaned) & taken:
            continue
        chosen.append(cleaned)
        taken |= _words(cleaned)
        if len(chosen) >= limit:
            break
    return chosen


def normalise_keyword(keyword: str) -> str:
    """How a keyword is indexed and compared: folded Arabic, case-folded Latin, single spaces."""
    return " ".join(normalise_arabic(keyword).casefold().split())


def edited(raw: Sequence[str]) -> list[str]:
    """An editor's list, tidied: stripped, empty and repeated keywords dropped, order kept."""
    seen: set[str] = set()
    result: list[str] = []
    for keyword in raw:
        text = " ".join(keyword.split())
        key = normalise_keyword(text)
        if text and key not in seen:
            seen.add(key)
            result.append(text)
    return result
