"""The same story from two outlets: features, MinHash signatures, LSH band keys, a verdict.

Two outlets telling one story share its facts more than its words: the places and
organisations, the numbers (dead, wounded, prices, dates) and the rarer content words. So a
story's features are its entity ids, its numbers and its normalised content words (prefixes
off, stop words out); datasketch's MinHash estimates their Jaccard similarity, and its LSH
banding turns a signature into band keys: two stories sharing any key are candidates, which
a store can index in a database table (the enricher's workers then share one index). A
candidate pair is a duplicate when the exact feature overlap, with facts weighted above words,
passes a threshold, and the numbers they both state do not contradict.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from datasketch import MinHash, MinHashLSH

from .arabic import arabic_tokens, latin_tokens, normalise_arabic, prefix_forms
from .entities import Found, Gazetteer

NUM_PERM = 128
# LSH tuned so that pairs with a feature Jaccard of about 0.15 become candidates: retold stories
# share fewer words than copies do, and verifying a candidate is cheap.
CANDIDATE_THRESHOLD = 0.15
_LSH = MinHashLSH(threshold=CANDIDATE_THRESHOLD, num_perm=NUM_PERM)  # for its band layout only
BANDS, ROWS = int(_LSH.b), int(_LSH.r)
# Set on tests/eval/enrichment.json (bench/enrich.py prints the effect); no held-out set yet.
DUPLICATE_SCORE = 0.42

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# Function words of news prose that say nothing about which story it is.
_AR_STOP_WORDS = """
في من على الى إلى عن مع هذا هذه ذلك التي الذي الذين كان كانت يكون قد لقد ان أن إن او أو ثم كما
بعد قبل خلال بين حتى عند منذ اليوم امس أمس وقال قال قالت وقالت وفق حسب اكثر أكثر اقل أقل ما لا
لم لن هو هي هم كل بعض غير اي أي وذلك ايضا أيضا حيث التى فيها فيه عليه عليها منه منها وكان وكانت
"""
_EN_STOP_WORDS = """
the a an of in on at to for from by with and or but is are was were be been has have had it its
this that these those as after before during between said says say according than more less also
which who whom whose their there they he she his her them not no over into about up out will
would could should may might one two three new
"""


def _words(text: str, fold: bool) -> frozenset[str]:
    return frozenset(normalise_arabic(w) if fold else w for w in text.split())


_AR_STOP = _words(_AR_STOP_WORDS, fold=True)
_EN_STOP = _words(_EN_STOP_WORDS, fold=False)


@dataclass(frozen=True)
class StoryPrint:
    words: frozenset[str]
    numbers: frozenset[str]
    entities: frozenset[str]

    @property
    def features(self) -> set[str]:
        return {*(f"w:{w}" for w in self.words), *(f"n:{n}" for n in self.numbers),
                *(f"e:{e}" for e in self.entities)}  # fmt: skip


def story_print(text: str, gazetteer: Gazetteer, found: list[Found] | None = None) -> StoryPrint:
    """`found`: the text's entities when the caller has them already (the enricher does)."""
    words: set[str] = set()
    for token in arabic_tokens(text):
        stem = prefix_forms(token)[-1]  # the most stripped form
        if len(stem) >= 3 and token not in _AR_STOP and stem not in _AR_STOP:
            words.add(stem)
    for token in latin_tokens(text):
        if len(token) >= 3 and token not in _EN_STOP and not token.isdigit():
            words.add(token[:-1] if token.endswith("s") and len(token) > 4 else token)
    numbers = {n.replace(",", "") for n in _NUMBER.findall(text.translate(_DIGITS))}
    numbers = {n for n in numbers if n not in {"0", "1"}}
    entities = {f.id for f in (gazetteer.find(text) if found is None else found) if f.mentions}
    return StoryPrint(frozenset(words), frozenset(numbers), frozenset(entities))


def signature(print_: StoryPrint) -> MinHash:
    minhash = MinHash(num_perm=NUM_PERM)
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


def similarity(a: StoryPrint, b: StoryPrint) -> float:
    """Facts weigh more than words: 0.5 words, 0.3 entities, 0.2 numbers (when any)."""
    parts = [(0.5, _jaccard(a.words, b.words))]
    if a.entities or b.entities:
        parts.append((0.3, _jaccard(a.entities, b.entities)))
    if a.numbers or b.numbers:
        parts.append((0.2, _jaccard(a.numbers, b.numbers)))
    return sum(w * s for w, s in parts) / sum(w for w, _ in parts)


def same_story(a: StoryPrint, b: StoryPrint) -> bool:
    if a.entities and b.entities and not (a.entities & b.entities):
        return False  # different places and actors: different stories
    if a.numbers and b.numbers and not (a.numbers & b.numbers):
        return False  # both give figures and none agree: another day, another toll
    return similarity(a, b) >= DUPLICATE_SCORE
