"""The same story from two outlets: features, MinHash signatures, LSH band keys, a verdict.

Two outlets telling one story share its facts more than its words: the places and
organisations, the numbers (dead, wounded, prices), the day it happened and the rarer content
words. So a story's features are its entity ids, its numbers (written in digits or in words:
ثلاثة, 12 ألف, twenty-three), its dates and weekdays, and its content words (light-stemmed,
stop words and news boilerplate out); datasketch's MinHash estimates their Jaccard similarity,
and its LSH banding turns a signature into band keys: two stories sharing any key are
candidates, which a store can index in a database table (the enricher's workers then share one
index). A candidate pair is a duplicate when the exact feature overlap, with facts weighted
above words, passes a threshold, and the facts both state do not contradict (other places,
other figures, another day).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from .arabic import light_stem, normalise_arabic, readings
from .entities import Found, Gazetteer

NUM_PERM = 128
# LSH tuned so that pairs with a feature Jaccard of about 0.15 become candidates: retold stories
# share fewer words than copies do, and verifying a candidate is cheap.
CANDIDATE_THRESHOLD = 0.15
_LSH = MinHashLSH(threshold=CANDIDATE_THRESHOLD, num_perm=NUM_PERM)  # for its band layout only
BANDS, ROWS = int(_LSH.b), int(_LSH.r)
# Set on tests/eval/enrichment.json, between its non-duplicates' highest scores with the
# contradiction checks off (<= 0.42 but one) and its duplicates' lowest (0.51); checked, never
# tuned, on the held-out tests/eval/enrichment_heldout.json (bench/enrich.py prints both).
DUPLICATE_SCORE = 0.45

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫", "01234567890123456789.")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[\u0621-\u064a]+|[A-Za-z]+")
_DIGITS_TOKEN = re.compile(r"\d+(?:[.,]\d+)*")

# Numbers written in words, normalised and read without prefixes (وثلاثة, بخمسة, العشرة).
_UNITS = {1: "واحد واحدة أحد إحدى one", 2: "اثنان اثنين اثنتان اثنتين اثنا اثني اثنتا two",
          3: "ثلاث ثلاثة ثلاثا three", 4: "أربع أربعة أربعا four", 5: "خمس خمسة خمسا five",
          6: "ست ستة six", 7: "سبع سبعة سبعا seven", 8: "ثمان ثماني ثمانية ثمانيا eight",
          9: "تسع تسعة تسعا nine", 10: "عشر عشرة عشرا ten", 11: "eleven", 12: "twelve",
          13: "thirteen", 14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen",
          18: "eighteen", 19: "nineteen", 20: "عشرون عشرين twenty", 30: "ثلاثون ثلاثين thirty",
          40: "أربعون أربعين forty", 50: "خمسون خمسين fifty", 60: "ستون ستين sixty",
          70: "سبعون سبعين seventy", 80: "ثمانون ثمانين eighty", 90: "تسعون تسعين ninety",
          200: "مئتان مئتين مائتان مائتين", 300: "ثلاثمئة ثلاثمائة", 400: "أربعمئة أربعمائة",
          500: "خمسمئة خمسمائة", 600: "ستمئة ستمائة", 700: "سبعمئة سبعمائة",
          800: "ثمانمئة ثمانمائة ثمانيمئة", 900: "تسعمئة تسعمائة", 2000: "ألفان ألفين"}  # fmt: skip
_HUNDRED = "مئة مائة hundred"
_SCALES = {1000: "ألف ألفا thousand", 10**6: "مليون million", 10**9: "مليار billion"}
_COUNTED = "آلاف ملايين مليارات thousands millions"  # "thousands of": a figure only after one
_WEEKDAYS = {"monday": "الإثنين الاثنين monday", "tuesday": "الثلاثاء tuesday",
             "wednesday": "الأربعاء wednesday", "thursday": "الخميس thursday",
             "friday": "الجمعة friday", "saturday": "السبت saturday",
             "sunday": "الأحد sunday"}  # fmt: skip
_MONTHS = {1: "كانون_الثاني يناير january", 2: "شباط فبراير february", 3: "آذار مارس march",
           4: "نيسان أبريل ابريل april", 5: "أيار مايو may", 6: "حزيران يونيو يونيه june",
           7: "تموز يوليو يوليه july", 8: "آب أغسطس august", 9: "أيلول سبتمبر september",
           10: "تشرين_الأول أكتوبر october", 11: "تشرين_الثاني نوفمبر november",
           12: "كانون_الأول ديسمبر december"}  # fmt: skip


def _fold(word: str) -> str:
    return normalise_arabic(word).lower()


def _table(spec: dict[int, str]) -> dict[str, int]:
    return {_fold(word): value for value, words in spec.items() for word in words.split()}


_UNIT = _table(_UNITS)
_HUNDREDS = {_fold(w) for w in _HUNDRED.split()}
_SCALE = _table(_SCALES)
_COUNTED_SCALE = {_fold(w) for w in _COUNTED.split()}
_WEEKDAY = {_fold(w): day for day, words in _WEEKDAYS.items() for w in words.split()}
_MONTH = {tuple(_fold(w).split("_")): m for m, words in _MONTHS.items() for w in words.split()}
_CONJUNCTIONS = {"و", "and"}
_DATE_WORDS = {w for key in _MONTH for w in key} | set(_WEEKDAY)
_NUMBER_WORDS = set(_UNIT) | _HUNDREDS | set(_SCALE) | _COUNTED_SCALE


@functools.lru_cache(maxsize=65536)  # news repeats its words
def _word_value(token: str) -> tuple[str, float] | None:
    """A number word's role and value: ("unit", 3), ("hundred", 100), ("scale", 1000)."""
    if _DIGITS_TOKEN.fullmatch(token):
        return "digits", float(re.sub(r",(?=\d{3}\b)", "", token).replace(",", "."))
    if token in _HUNDREDS:  # only bare: بالمئة, في المئة is "per cent"
        return "hundred", 100
    for form in (token, *(r.stem for r in readings(token))):
        if form in _UNIT:
            return "unit", _UNIT[form]
        if form in _SCALE:
            return "scale", _SCALE[form]
        if form in _COUNTED_SCALE:
            return "counted", 1000
    return None


def _number_spans(tokens: list[str]) -> list[tuple[int, int, float]]:
    """(first token, token after, value) of each number, digits or words: `ثلاثمئة وأربعون`,
    `12 ألف`, `مليون و200 ألف`, `twenty-three`; a run of digits joined by و is a list."""
    spans: list[tuple[int, int, float]] = []
    start, total, group, last, words = -1, 0.0, 0.0, "", False

    def close(end: int) -> None:
        nonlocal start, total, group, last, words
        if start >= 0 and total + group > 0:
            spans.append((start, end, total + group))
        start, total, group, last, words = -1, 0.0, 0.0, "", False

    i = 0
    while i < len(tokens):
        token = tokens[i]
        joined = start >= 0 and token in _CONJUNCTIONS and i + 1 < len(tokens)
        word = tokens[i + 1] if joined else token
        value = _word_value(word) if word not in _WEEKDAY else None
        if value is None:
            close(i)
            i += 1
            continue
        kind, amount = value
        attached = not joined and word[:1] == "و" and kind != "digits" and word not in _UNIT
        later = joined or attached  # "and ...": part of the number being read, if it fits
        fits = start >= 0 and (
            (kind == "unit" and amount == 10 and last == "unit" and group < 10 and not later)
            or (kind == "unit" and later and words and (group >= 100 or (group < 10 <= amount)))
            or (kind == "unit" and not later and words and last == "unit"
                and group >= 20 and group % 10 == 0 and amount < 10)
            or (kind == "digits" and later and total > 0 and group == 0)
            or kind in ("hundred", "scale", "counted")
        )  # fmt: skip
        if not fits:
            close(i)
            if kind == "counted":
                i += 1
                continue
            start = i
        if kind == "hundred":
            group = group * 100 if 0 < group < 10 else group + 100
        elif kind in ("scale", "counted"):
            total, group = total + (group or 1) * amount, 0.0
            if kind == "counted" and total == amount:  # no count before it: "thousands of"
                start, total = -1, 0.0
        else:
            group += amount
        words = words or kind != "digits"
        last = kind
        i += 2 if joined else 1
    close(len(tokens))
    return spans


def _month_at(tokens: list[str], i: int) -> int | None:
    for length in (2, 1):
        month = _MONTH.get(tuple(tokens[i : i + length]))
        if month is not None:
            return month
    return None


def _facts(text: str) -> tuple[set[str], set[str]]:
    """The numbers of `text` (but 0 and 1) and its dates ("--11-14") and weekdays."""
    tokens = [_fold(t) for t in _TOKEN.findall(text.translate(_DIGITS))]
    numbers: set[str] = set()
    dates = {_WEEKDAY[r.word] for t in tokens for r in readings(t) if r.word in _WEEKDAY}
    for start, end, value in _number_spans(tokens):
        month = _month_at(tokens, end) or (_month_at(tokens, start - 1) if start else None)
        if month is not None and value.is_integer() and 1 <= value <= 31:
            dates.add(f"--{month:02d}-{int(value):02d}")
        elif value > 1:
            numbers.add(f"{value:g}" if value < 1e6 else str(int(value)))
    return numbers, dates


# Function words, and the boilerplate of news prose, that say nothing about which story it is
# (compared light-stemmed, so one form stands for its inflections).
_AR_STOP_WORDS = """
في من على الى إلى عن مع هذا هذه ذلك التي الذي الذين كان كانت يكون قد لقد ان أن إن او أو ثم كما
بعد قبل خلال بين حتى عند منذ اليوم امس أمس وقال قال قالت وقالت وفق حسب اكثر أكثر اقل أقل ما لا
لم لن هو هي هم كل بعض غير اي أي وذلك ايضا أيضا حيث التى فيها فيه عليه عليها منه منها وكان وكانت
أعلن أعلنت أفاد أفادت أضاف أضافت أكد أكدت أوضح أوضحت ذكر ذكرت أشار أشارت بحسب مصادر مصدر محلية
مدينة بلدة قرية ريف محافظة منطقة المنطقة حي سكان أهالي يوم صباح مساء فجر ظهر ليل ليلة الساعة
بيان مراسل الماضي الماضية الجاري العام عام الشهر شهر الأسبوع أسبوع أيام سنوات آخرون آخرين أخرى
جديد جديدة نحو حوالي قرابة عدد عدة سوريا السوري السورية سورية شخص أشخاص إثر جراء إذ فيما بينما
"""
_EN_STOP_WORDS = """
the a an of in on at to for from by with and or but is are was were be been has have had it its
this that these those as after before during between said says say according than more less also
which who whom whose their there they he she his her them not no over into about up out will
would could should may might new told added reported local city town village area province
countryside people residents day days week weeks month months year years night morning evening
syria syrian last first some nearly around since while when where all other others
"""


def _en_stem(token: str) -> str:
    """A rough English stem: `flooded`, `floods` -> `flood`."""
    for suffix in ("ing", "ed", "es", "s"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def _ar_stems(text: str) -> set[str]:
    return {light_stem(t) for t in normalise_arabic(text).split()}


_AR_STOP = _ar_stems(_AR_STOP_WORDS) | set(normalise_arabic(_AR_STOP_WORDS).split())
_EN_STOP = {_en_stem(w) for w in _EN_STOP_WORDS.split()} | set(_EN_STOP_WORDS.split())


@dataclass(frozen=True)
class StoryPrint:
    """What a story is made of. All fields are sets of strings (stored as JSON lists); `dates`
    ("--11-14" for 14 November, "tuesday") may be empty, for prints stored before it existed."""

    words: frozenset[str]
    numbers: frozenset[str]
    entities: frozenset[str]
    dates: frozenset[str] = frozenset()

    @property
    def features(self) -> set[str]:
        # Facts twice: stories that share them become LSH candidates even in other words.
        facts = [f"n:{n}" for n in self.numbers] + [f"e:{e}" for e in self.entities]
        facts += [f"d:{d}" for d in self.dates]
        return {*(f"w:{w}" for w in self.words), *facts, *(f"{f}+" for f in facts)}

    def to_json(self) -> dict[str, list[str]]:
        """As stored (`Enrichment.story`): each field a sorted list."""
        return {f.name: sorted(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, list[str]]) -> StoryPrint:
        """A stored print; fields it predates are empty."""
        return cls(**{f.name: frozenset(data.get(f.name, ())) for f in dataclasses.fields(cls)})


@functools.lru_cache(maxsize=65536)
def _content_word(token: str) -> str | None:
    """The stem `token` contributes to a story's words; None for stop words, numbers, dates."""
    if token.isascii():
        word = token.lower()
        stem = _en_stem(word)
        facts = word.isdigit() or word in _NUMBER_WORDS or word in _DATE_WORDS
        stop = len(word) < 3 or word in _EN_STOP or stem in _EN_STOP
        return None if stop or facts else stem
    word = normalise_arabic(token)
    stem = light_stem(word)
    stop = word in _AR_STOP or stem in _AR_STOP or len(stem) < 3
    fact = _word_value(word) is not None or {r.word for r in readings(word)} & _DATE_WORDS
    return None if stop or fact else stem


def story_print(text: str, gazetteer: Gazetteer, found: list[Found] | None = None) -> StoryPrint:
    """`found`: the text's entities when the caller has them already (the enricher does)."""
    words = {w for w in map(_content_word, _TOKEN.findall(text)) if w is not None}
    numbers, dates = _facts(text)
    entities = {f.id for f in (gazetteer.find(text) if found is None else found) if f.mentions}
    return StoryPrint(frozenset(words), frozenset(numbers), frozenset(entities), frozenset(dates))


# The permutations depend only on the seed: drawn once, not for every story (a third of a
# millisecond each time, measured).
_TEMPLATE = MinHash(num_perm=NUM_PERM)
_PERMUTATIONS, _SCHEME = _TEMPLATE.permutations, _TEMPLATE.scheme


def signature(print_: StoryPrint) -> MinHash:
    minhash = MinHash(num_perm=NUM_PERM, permutations=_PERMUTATIONS, scheme=_SCHEME)
    minhash.update_batch([feature.encode() for feature in print_.features])  # order-free
    return minhash


def band_keys(minhash: MinHash) -> list[str]:
    """LSH band keys: stories sharing one are candidates (store them indexed)."""
    values = minhash.hashvalues
    keys = []
    for band in range(BANDS):
        chunk = values[band * ROWS : (band + 1) * ROWS].tobytes()
        keys.append(f"{band}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    return keys


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _days(print_: StoryPrint) -> tuple[frozenset[str], frozenset[str]]:
    """Its calendar dates and its weekdays."""
    dated = frozenset(d for d in print_.dates if d.startswith("--"))
    return dated, print_.dates - dated


def similarity(a: StoryPrint, b: StoryPrint) -> float:
    """Facts weigh more than words: 0.5 words, 0.3 entities, 0.2 numbers, 0.1 dates, each fact
    counted only when both state some (an outlet that names no place does not disagree)."""
    parts = [(0.5, _jaccard(a.words, b.words))]
    for weight, x, y in ((0.3, a.entities, b.entities), (0.2, a.numbers, b.numbers),
                         (0.1, a.dates, b.dates)):  # fmt: skip
        if x and y:
            parts.append((weight, _jaccard(x, y)))
    return sum(w * s for w, s in parts) / sum(w for w, _ in parts)


def contradicts(a: StoryPrint, b: StoryPrint) -> bool:
    """Facts both state and none agree: other places, another day, other figures."""
    return any(
        x and y and not (x & y)
        for x, y in (
            (a.entities, b.entities),
            *zip(_days(a), _days(b), strict=True),
            (a.numbers, b.numbers),
        )
    )


def same_story(a: StoryPrint, b: StoryPrint) -> bool:
    return not contradicts(a, b) and similarity(a, b) >= DUPLICATE_SCORE
