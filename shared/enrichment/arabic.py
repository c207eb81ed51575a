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

_DIACRITICS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # + tatweel
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ؤ": "و", "ئ": "ي", "ى": "ي",
                       "ة": "ه", "ڤ": "ف", "گ": "ك", "پ": "ب", "چ": "ج"})  # fmt: skip
_ARABIC_WORD = re.compile(r"[\u0621-\u064a\u0671-\u06d3]+")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
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


# Latin transliterations: articles and joiners that come and go (al-Raqqa, Raqqa; Deir ez-Zor).
_LATIN_ARTICLES = frozenset({"al", "el", "ez", "ad", "ar", "az", "ash", "the"})


def latin_tokens(text: str) -> list[str]:
    """Lower-case ASCII words, accents and apostrophes dropped (Dar'a -> dara)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    folded = re.sub(r"['\u2019`]", "", folded)
    return [t for t in _LATIN_WORD.findall(folded) if t not in _LATIN_ARTICLES]
