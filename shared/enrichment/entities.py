"""Places and organisations named in a text, from the gazetteer (data, extensible by operators).

Matching is dictionary lookup over normalised word sequences, longest name first: Arabic with
hamza, ta marbuta, alef maqsura, diacritics and attached prefixes folded (see `arabic`), English
transliterations lower-cased with articles dropped, acronyms (UN, SDF) in capitals only. A place
inside Syria also files the article under its governorate.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .arabic import arabic_tokens, latin_tokens, prefix_forms, without_article

BUILT_IN = Path(__file__).with_name("gazetteer.toml")
MAX_WORDS = 8


class GazetteerError(ValueError):
    """A gazetteer file that cannot be read; the message names the file and the entry."""


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    en: str = Field(min_length=1, max_length=200)
    en_variants: tuple[str, ...] = ()
    ar: tuple[str, ...] = Field(min_length=1)
    kind: str = Field(min_length=1, max_length=40)
    governorate: str | None = None


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
    arabic: dict[tuple[str, ...], str] = field(default_factory=dict)
    latin: dict[tuple[str, ...], str] = field(default_factory=dict)
    acronyms: dict[str, str] = field(default_factory=dict)
    # Of the files read: part of the enricher's input, so a changed gazetteer recomputes.
    fingerprint: str = ""

    def add(self, kind: Literal["place", "organisation"], entry: Entry) -> None:
        self.entries[entry.id] = (kind, entry)
        for name in entry.ar:
            words = arabic_tokens(name)
            if words:
                self.arabic[tuple(without_article(w) for w in words)] = entry.id
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
        for entity_id in (*self._arabic(text), *self._latin(text), *self._acronyms(text)):
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
        rest = [without_article(w) for w in words]
        i = 0
        while i < len(words):
            hit = None
            for form in prefix_forms(words[i]):
                for length in range(min(MAX_WORDS, len(words) - i), 0, -1):
                    entity = self.arabic.get((form, *rest[i + 1 : i + length]))
                    if entity is not None:
                        hit = (entity, length)
                        break
                if hit:
                    break
            if hit:
                yield hit[0]
                i += hit[1]
            else:
                i += 1

    def _latin(self, text: str) -> Iterable[str]:
        words = latin_tokens(text)
        i = 0
        while i < len(words):
            for length in range(min(MAX_WORDS, len(words) - i), 0, -1):
                entity = self.latin.get(tuple(words[i : i + length]))
                if entity is not None:
                    yield entity
                    i += length
                    break
            else:
                i += 1

    def _acronyms(self, text: str) -> Iterable[str]:
        for word in re.findall(r"\b[A-Z]{2,5}\b", text):
            entity = self.acronyms.get(word)
            if entity is not None:
                yield entity


def load(paths: Iterable[Path] = ()) -> Gazetteer:
    """The built-in gazetteer, then each operator file in order (same id: the later wins)."""
    gazetteer = Gazetteer()
    digest = hashlib.sha256()
    for path in (BUILT_IN, *paths):
        try:
            raw_text = Path(path).read_text(encoding="utf-8")
            data = tomllib.loads(raw_text)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise GazetteerError(f"{path}: {exc}") from exc
        digest.update(raw_text.encode())
        for kind in ("place", "organisation"):
            for n, raw in enumerate(data.get(kind, []), 1):
                try:
                    gazetteer.add(kind, Entry.model_validate(raw))
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(p) for p in first["loc"]) or "entry"
                    raise GazetteerError(f"{path}: {kind} #{n}: {where}: {first['msg']}") from exc
    gazetteer.fingerprint = digest.hexdigest()[:16]
    return gazetteer


@functools.cache
def default(paths: tuple[Path, ...] = ()) -> Gazetteer:
    return load(paths)
