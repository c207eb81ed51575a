"""Places and organisations named in a text, from the gazetteer (data, extensible by operators).

Matching is dictionary lookup over normalised word sequences, longest name first: Arabic with
hamza, ta marbuta, alef maqsura, diacritics and attached prefixes folded (see `arabic`), English
transliterations lower-cased with articles dropped, acronyms (UN, SDF) in capitals only. A place
inside Syria also files the article under its governorate.

Arabic names are also ordinary words (حمص "chickpeas", تدمر "destroys", السلمية "peaceful"), so
a match must agree with the name on the article (الرقة the city, فرقه "its teams"; حمص the city,
الحمص the pulse) and pass the entry's context rules: `not_next_to` (words that, right before or
after the name, make it something else), `only_after` (the name counts only after one of these
words, or with bi- attached) and `also_adjective` (right after a noun carrying al-, the name is
an adjective describing it: الاحتجاجات السلمية).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from . import datafiles
from .arabic import Reading, arabic_tokens, latin_tokens, latin_words, readings

BUILT_IN = Path(__file__).with_name("gazetteer.toml")
MAX_WORDS = 8


class GazetteerError(datafiles.DataFileError):
    """A gazetteer file that cannot be read; the message names the file and the entry."""


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    en: str = Field(min_length=1, max_length=200)
    en_variants: tuple[str, ...] = ()
    ar: tuple[str, ...] = Field(min_length=1)
    kind: str = Field(min_length=1, max_length=40)
    governorate: str | None = None
    not_next_to: tuple[str, ...] = ()
    only_after: tuple[str, ...] = ()
    also_adjective: bool = Field(default=False, strict=True)


@dataclass(frozen=True)
class Context:
    """An entry's context rules, normalised for matching (see the module docstring)."""

    not_next_to: frozenset[str] = frozenset()
    only_after: frozenset[str] = frozenset()
    also_adjective: bool = False

    @classmethod
    def of(cls, entry: Entry) -> Context:
        arabic = {
            r.stem for w in entry.not_next_to for t in arabic_tokens(w) for r in readings(t)[:1]
        }
        latin = {t for w in entry.not_next_to for t in latin_tokens(w)}
        after = {
            r.stem for w in entry.only_after for t in arabic_tokens(w) for r in readings(t)[:1]
        }
        return cls(frozenset(arabic | latin), frozenset(after), entry.also_adjective)

    def rejects_arabic(self, before: str | None, reading: Reading, after: str | None) -> bool:
        near = [word for word in (before, after) if word is not None]
        if any(r.stem in self.not_next_to for word in near for r in readings(word)):
            return True
        announced = before is not None and any(r.stem in self.only_after for r in readings(before))
        if self.only_after and reading.preposition != "ب" and not announced:
            return True
        attached = reading.preposition or reading.conjunction
        after_definite = before is not None and any(r.article for r in readings(before))
        return self.also_adjective and not attached and after_definite

    def rejects_latin(self, before: str | None, after: str | None) -> bool:
        return before in self.not_next_to or after in self.not_next_to


@dataclass(frozen=True)
class Found:
    id: str
    name: str
    type: Literal["place", "organisation"]
    kind: str
    governorate: str | None
    mentions: int


@dataclass
class Gazetteer:
    entries: dict[str, tuple[Literal["place", "organisation"], Entry]] = field(default_factory=dict)
    # Arabic names keep their article (`الرقه`, not `رقه`): see the module docstring.
    arabic: dict[tuple[str, ...], str] = field(default_factory=dict)
    latin: dict[tuple[str, ...], str] = field(default_factory=dict)
    acronyms: dict[str, str] = field(default_factory=dict)
    contexts: dict[str, Context] = field(default_factory=dict)
    # Of the files read: part of the enricher's input, so a changed gazetteer recomputes.
    fingerprint: str = ""

    def add(self, kind: Literal["place", "organisation"], entry: Entry) -> None:
        self.entries[entry.id] = (kind, entry)
        self.contexts[entry.id] = Context.of(entry)
        for name in entry.ar:
            words = arabic_tokens(name)
            if words:
                self.arabic[tuple(words)] = entry.id
        for name in (entry.en, *entry.en_variants):
            if len(name) <= 5 and name.isupper():
                self.acronyms[name] = entry.id
            else:
                words = latin_tokens(name)
                if words:
                    self.latin[tuple(words)] = entry.id

    def find(self, text: str) -> list[Found]:
        """Entities named in `text` (Arabic or English), governorates of places included."""
        counts: dict[str, int] = {}
        for entity_id in (*self._arabic(text), *self._latin(text)):
            counts[entity_id] = counts.get(entity_id, 0) + 1
        for entity_id in list(counts):
            governorate = self.entries[entity_id][1].governorate
            if governorate and governorate in self.entries and governorate not in counts:
                counts[governorate] = 0  # filed under it, not named
        found = []
        for entity_id, mentions in counts.items():
            kind, entry = self.entries[entity_id]
            found.append(Found(entity_id, entry.en, kind, entry.kind, entry.governorate, mentions))
        return sorted(found, key=lambda f: (-f.mentions, f.id))

    def _arabic(self, text: str) -> Iterable[str]:
        words = arabic_tokens(text)
        i = 0
        while i < len(words):
            hit = self._arabic_at(words, i)
            if hit:
                yield hit[0]
                i += hit[1]
            else:
                i += 1

    def _arabic_at(self, words: list[str], i: int) -> tuple[str, int] | None:
        """The longest name starting at word `i` that its context allows, and its length."""
        before = words[i - 1] if i else None
        for reading in readings(words[i]):
            for length in range(min(MAX_WORDS, len(words) - i), 0, -1):
                entity = self.arabic.get((reading.word, *words[i + 1 : i + length]))
                if entity is None:
                    continue
                after = words[i + length] if i + length < len(words) else None
                if not self.contexts[entity].rejects_arabic(before, reading, after):
                    return entity, length
        return None

    def _latin(self, text: str) -> Iterable[str]:
        """English names, longest first; an acronym only where no longer name covers it."""
        written = latin_words(text)
        words = [w.lower() for w in written]
        i = 0
        while i < len(words):
            hit = None
            for length in range(min(MAX_WORDS, len(words) - i), 0, -1):
                hit = self.latin.get(tuple(words[i : i + length]))
                if hit is not None:
                    break
            else:
                length = 1
                if written[i].isupper() and 2 <= len(written[i]) <= 5:
                    hit = self.acronyms.get(written[i])
            before = words[i - 1] if i else None
            after = words[i + length] if i + length < len(words) else None
            if hit is not None and not self.contexts[hit].rejects_latin(before, after):
                yield hit
                i += length
            else:
                i += 1


def load(paths: Iterable[Path] = ()) -> Gazetteer:
    """The built-in gazetteer, then each operator file in order (same id: the later wins)."""
    gazetteer = Gazetteer()
    documents, gazetteer.fingerprint = datafiles.read((BUILT_IN, *paths), GazetteerError)
    for path, data in documents:
        for kind in ("place", "organisation"):
            for entry in datafiles.entries(path, data, kind, Entry, GazetteerError):
                gazetteer.add(kind, entry)
    return gazetteer


@functools.cache
def default(paths: tuple[Path, ...] = ()) -> Gazetteer:
    return load(paths)
