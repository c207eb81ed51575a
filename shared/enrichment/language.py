"""Which language a text is in: lingua over the languages the newsroom meets.

Restricting lingua to a handful of candidate languages (CROSSFEED_ENRICH_LANGUAGES) makes it
both faster and more accurate than asking it to choose among seventy-five. Texts too short to
tell (a headline of two words) get no verdict, and the caller keeps the declared language.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

# Arabic outlets, the newsroom's English, and what Syrian news quotes or mixes in.
DEFAULT_LANGUAGES = ("ar", "en", "fr", "tr", "fa", "ru", "he", "de")
MIN_LETTERS = 12  # below this, any guess is noise
MIN_CONFIDENCE = 0.5
_LETTER = re.compile(r"[^\W\d_]")
SAMPLE_CHARS = 2000  # the first paragraphs decide; the rest costs time and changes nothing


class UnknownLanguage(ValueError):
    """An ISO 639-1 code lingua does not know."""


@dataclass(frozen=True)
class Detected:
    language: str | None  # ISO 639-1, None when the text is too short or too mixed to tell
    confidence: float


def language_of(code: str) -> Language:
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code.strip().lower()))
    except ValueError as exc:
        raise UnknownLanguage(f"{code!r} is not a language code the detector knows") from exc


@functools.lru_cache(maxsize=4)
def detector(codes: tuple[str, ...] = DEFAULT_LANGUAGES) -> LanguageDetector:
    languages = {language_of(code) for code in codes}
    if len(languages) < 2:
        languages.add(Language.ENGLISH if Language.ENGLISH not in languages else Language.ARABIC)
    # Low-accuracy mode reads trigrams only: measured here, the eight default languages take
    # 35 MiB instead of 210 MiB per process and all 62 articles of tests/eval are still right
    # (its weakness is texts under ~120 characters, and an article is longer).
    return LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()


def detect(text: str, codes: tuple[str, ...] = DEFAULT_LANGUAGES) -> Detected:
    sample = text[:SAMPLE_CHARS]
    if len(_LETTER.findall(sample)) < MIN_LETTERS:
        return Detected(None, 0.0)
    best = detector(codes).compute_language_confidence_values(sample)[0]
    confidence = round(float(best.value), 3)
    if confidence < MIN_CONFIDENCE:
        return Detected(None, confidence)
    return Detected(best.language.iso_code_639_1.name.lower(), confidence)
