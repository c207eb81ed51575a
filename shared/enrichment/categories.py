"""Categories by rules that are data: a shipped TOML file, extended by the operator's own.

A rule names gazetteer entities and words; an article that names one of the entities, or uses
enough of the words, is filed under the rule's category. Governorates an article is located in
can be categories too. Words are matched as the gazetteer matches names: Arabic with its
attached prefixes and spelling variants folded, English lower-cased with plurals folded.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from . import datafiles
from .arabic import arabic_tokens, latin_tokens, normalise_arabic, prefix_forms, without_article
from .entities import Found

BUILT_IN = Path(__file__).with_name("categories.toml")


class CategoryError(datafiles.DataFileError):
    """A rules file that cannot be read; the message names the file and the rule."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    entities: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    min_words: int = Field(2, ge=1, le=20)


def _latin_form(token: str) -> str:
    return token[:-1] if token.endswith("s") and len(token) > 3 else token


def _word_key(word: str) -> str:
    """A rule's word as the index holds it."""
    arabic = arabic_tokens(word)
    if arabic:
        return " ".join(without_article(w) for w in arabic)
    return " ".join(_latin_form(t) for t in latin_tokens(word))


def text_words(text: str) -> set[str]:
    """Every form of every word of `text` a rule's word may match (one- and two-word)."""
    forms: set[str] = set()
    arabic = arabic_tokens(text)
    for i, token in enumerate(arabic):
        for form in prefix_forms(token):
            forms.add(form)
            if i + 1 < len(arabic):
                forms.add(f"{form} {without_article(arabic[i + 1])}")
    latin = [_latin_form(t) for t in latin_tokens(text)]
    forms.update(latin)
    forms.update(f"{a} {b}" for a, b in itertools.pairwise(latin))
    return forms


@dataclass
class Rules:
    governorates: bool = True
    rules: dict[str, Rule] = field(default_factory=dict)
    keys: dict[str, frozenset[str]] = field(default_factory=dict)
    fingerprint: str = ""

    def add(self, rule: Rule) -> None:
        self.rules[rule.name] = rule
        self.keys[rule.name] = frozenset(_word_key(w) for w in rule.words if _word_key(w))

    def categorise(self, text: str, found: Sequence[Found]) -> list[str]:
        names = {f.id: f.name for f in found}
        result: list[str] = []
        if self.governorates:
            result.extend(sorted({names.get(f.governorate, "") for f in found if f.governorate}))
        words = text_words(normalise_arabic(text)) if any(self.keys.values()) else set()
        for name, rule in self.rules.items():
            if any(entity in names for entity in rule.entities) or (
                len(self.keys[name] & words) >= rule.min_words
            ):
                result.append(name)
        return [r for i, r in enumerate(result) if r and r not in result[:i]]


def load(paths: Iterable[Path] = ()) -> Rules:
    """The built-in rules, then each operator file in order (same name: the later wins)."""
    rules = Rules()
    documents, rules.fingerprint = datafiles.read((BUILT_IN, *paths), CategoryError)
    for path, data in documents:
        unknown = set(data) - {"governorates", "category"}
        if unknown:
            raise CategoryError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")
        if "governorates" in data:
            if not isinstance(data["governorates"], bool):
                raise CategoryError(f"{path}: governorates must be true or false")
            rules.governorates = data["governorates"]
        for rule in datafiles.entries(path, data, "category", Rule, CategoryError):
            rules.add(rule)
    return rules


@functools.cache
def default(paths: tuple[Path, ...] = ()) -> Rules:
    return load(paths)
