"""Arabic and transliterated-English text, normalised for matching names.

Arabic spelling varies in ways that do not change a name: hamza and alef forms (أ إ آ ٱ),
ta marbuta (ة/ه), alef maqsura (ى/ي), diacritics and tatweel; and words carry attached
prefixes (wa- "and", fa-, bi- "in", li- "for", ka-, and the article al-). Written here because
no maintained Python library does this small, exact job (camel-tools does far more, with models
we cannot ship); the rules follow the usual light-stemming practice for Arabic retrieval.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # + tatweel
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ؤ": "و", "ئ": "ي", "ى": "ي",
                       "ة": "ه", "ڤ": "ف", "گ": "ك", "پ": "ب", "چ": "ج"})  # fmt: skip
_ARABIC_WORD = re.compile(r"[\u0621-\u064a\u0671-\u06d3]+")
_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")
_CONJUNCTIONS = ("و", "ف")
_PREPOSITIONS = ("ب", "ل", "ك")
MIN_STEM = 2  # a stripped remainder shorter than this is not a word


def normalise_arabic(text: str) -> str:
    return _DIACRITICS.sub("", unicodedata.normalize("NFKC", text)).translate(_FOLD)


def arabic_tokens(text: str) -> list[str]:
    return _ARABIC_WORD.findall(normalise_arabic(text))


def without_article(token: str) -> str:
    """`الرقه` -> `رقه`; `لل...` (li- + al-) is handled by `prefix_forms`."""
    if token.startswith("ال") and len(token) - 2 >= MIN_STEM:
        return token[2:]
    return token


@functools.lru_cache(maxsize=65536)  # news repeats its words; the forms of one never change
def prefix_forms(token: str) -> tuple[str, ...]:
    """The token and what it may be once attached prefixes are taken off, article removed,
    most literal first: `وبالرقه` -> (`وبالرقه`, `بالرقه`, `رقه`, ...)."""
    forms = [token]
    rest = [token]
    if token[:1] in _CONJUNCTIONS and len(token) - 1 >= MIN_STEM:
        rest.append(token[1:])
    for word in list(rest):
        if word.startswith("لل") and len(word) - 2 >= MIN_STEM:  # li- + al-: للرقه
            rest.append(word[2:])
        elif word[:1] in _PREPOSITIONS and len(word) - 1 >= MIN_STEM:
            rest.append(word[1:])
    for word in rest:
        for form in (word, without_article(word)):
            if form not in forms:
                forms.append(form)
    return tuple(forms)


@dataclass(frozen=True)
class Reading:
    """One way to read a token as attached prefixes + word: `وبالرقه` -> stem `رقه`, conjunction
    `و`, preposition `ب`, article. Matching names needs to know the article: the city is `الرقه`
    with it, while `فرقه` ("its teams") is the same letters without."""

    stem: str
    conjunction: str = ""
    preposition: str = ""
    article: bool = False

    @property
    def word(self) -> str:
        """The word with its article, without the attached conjunction and preposition."""
        return f"ال{self.stem}" if self.article else self.stem


@functools.lru_cache(maxsize=65536)
def readings(token: str) -> tuple[Reading, ...]:
    """The ways `token` may be prefixes + a word, the literal one first."""
    found: list[Reading] = []
    bases = [("", token)]
    if token[:1] in _CONJUNCTIONS and len(token) - 1 >= MIN_STEM:
        bases.append((token[0], token[1:]))
    for conjunction, base in bases:
        forms = [("", base, False)]
        if base.startswith("لل") and len(base) - 2 >= MIN_STEM:  # li- + al-: للرقه
            forms.append(("ل", base[2:], True))
            forms.append(("ل", base[1:], True))  # li- + al- + a word in lam: للاذقيه
        elif base[:1] in _PREPOSITIONS and len(base) - 1 >= MIN_STEM:
            forms.append((base[0], base[1:], False))
        for preposition, word, merged in forms:
            reading = Reading(without_article(word), conjunction, preposition,
                              merged or without_article(word) != word)  # fmt: skip
            if reading not in found:
                found.append(reading)
    return tuple(found)


# Light stemming (after Larkey et al., "light10"): inflection suffixes off, so that retold
# stories share words across number and gender (قذيفه/قذائف stays apart: broken plurals).
_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "يا", "ه", "ي")
MIN_LIGHT_STEM = 3


@functools.lru_cache(maxsize=65536)
def light_stem(token: str) -> str:
    """`والمصابين` -> `مصاب`: prefixes, article and one inflection suffix off."""
    stem = prefix_forms(token)[-1]
    for suffix in _SUFFIXES:
        if stem.endswith(suffix) and len(stem) - len(suffix) >= MIN_LIGHT_STEM:
            return stem[: -len(suffix)]
    return stem


# Latin transliterations: articles and joiners that come and go (al-Raqqa, Raqqa; Deir ez-Zor).
_LATIN_ARTICLES = frozenset({"al", "el", "ez", "ad", "ar", "az", "ash", "the"})
_POSSESSIVE = re.compile(r"(?<=[A-Za-z])['\u2019]s\b")


def latin_words(text: str) -> list[str]:
    """ASCII words as written (case kept, for acronyms), accents, apostrophes, possessive 's
    and articles dropped: "Dar'a and Palmyra's al-Raqqa" -> Dara, and, Palmyra, Raqqa."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    folded = re.sub(r"['\u2019`]", "", _POSSESSIVE.sub("", folded))
    return [t for t in _LATIN_WORD.findall(folded) if t.lower() not in _LATIN_ARTICLES]


def latin_tokens(text: str) -> list[str]:
    """Lower-case ASCII words, accents and apostrophes dropped (Dar'a -> dara)."""
    return [word.lower() for word in latin_words(text)]
