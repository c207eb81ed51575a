"""Names found in Arabic and English text: normalisation, prefixes, variants, whole words."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.enrichment.arabic import arabic_tokens, latin_tokens, normalise_arabic, prefix_forms
from shared.enrichment.entities import GazetteerError, default, load
from tests.conftest import make_settings


def ids(text: str) -> dict[str, int]:
    return {f.id: f.mentions for f in default().find(text)}


@pytest.mark.parametrize(
    ("written", "folded"),
    [("أحمد", "احمد"), ("إدلب", "ادلب"), ("آمنة", "امنه"), ("مستشفى", "مستشفي"),
     ("دَرْعَا", "درعا"), ("حـــلب", "حلب"), ("مؤسسة", "موسسه"), ("رئيس", "رييس")],
)  # fmt: skip
def test_arabic_spelling_variants_fold_together(written: str, folded: str) -> None:
    assert normalise_arabic(written) == folded


def test_attached_prefixes_come_off() -> None:
    assert "رقه" in prefix_forms(arabic_tokens("وبالرقة")[0])
    assert "رقه" in prefix_forms(arabic_tokens("للرقة")[0])
    assert "درعا" in prefix_forms(arabic_tokens("ودرعا")[0])
    assert prefix_forms("لبنان")[0] == "لبنان"  # the word itself is always tried first
    assert latin_tokens("Dar'a, al-Raqqa and Deir ez-Zor") == [
        "dara",
        "raqqa",
        "and",
        "deir",
        "zor",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("قصف على جاسم بريف درعا", {"jasim": 1, "daraa": 1}),
        ("وصل وفد إلى جاسم أمس", {"jasim": 1, "daraa": 0}),  # filed under its governorate
        ("في إدلب وادلب وبإدلب", {"idlib": 3}),
        ("وبالرقّة ولدير الزور", {"raqqa": 1, "deir-ez-zor": 1}),
        ("قالت قوات سوريا الديمقراطية (قسد)", {"sdf": 2}),
        ("Shelling hit Jassem in northern Deraa", {"jasim": 1, "daraa": 1}),
        ("Fighting near Deir el-Zour and in Idleb", {"deir-ez-zor": 1, "idlib": 1}),
        ("The UN said Hay'at Tahrir al-Sham left", {"united-nations": 1, "hts": 1}),
    ],
)
def test_places_and_organisations_are_found(text: str, expected: dict[str, int]) -> None:
    assert ids(text) == expected


@pytest.mark.parametrize(
    "text",
    ["Hamas leaders met", "a homsi dish", "it is un-clear", "Un jour", "فتح الباب أمام الحوار",
     "الطبقة الوسطى", "درعاوي الأصل"],
)  # fmt: skip
def test_names_match_whole_words_only(text: str) -> None:
    assert ids(text) == {}


def test_operators_extend_and_override_the_gazetteer(tmp_path: Path) -> None:
    extra = tmp_path / "ours.toml"
    extra.write_text(
        '[[place]]\nid = "kafr-shams"\nen = "Kafr Shams"\nar = ["كفر شمس"]\nkind = "town"\n'
        'governorate = "daraa"\n\n'
        '[[place]]\nid = "jasim"\nen = "Jassim"\nar = ["جاسم"]\nkind = "town"\n'
        'governorate = "daraa"\n',
        encoding="utf-8",
    )
    gazetteer = load([extra])
    found = {f.id: f for f in gazetteer.find("اشتباكات في كفر شمس وجاسم")}
    assert set(found) == {"kafr-shams", "jasim", "daraa"}
    assert found["jasim"].name == "Jassim"  # the operator's entry replaced the built-in one
    assert gazetteer.fingerprint != default().fingerprint


def test_a_broken_gazetteer_file_is_refused_with_its_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[organisation]]\nid = "x"\nen = "X"\nkind = "party"\n', encoding="utf-8")
    with pytest.raises(GazetteerError, match=r"bad\.toml: organisation #1: ar: Field required"):
        load([bad])
    with pytest.raises(ValidationError, match=r"bad\.toml"):
        make_settings(tmp_path / "var", gazetteer_files=str(bad))
    broken = tmp_path / "broken.toml"
    broken.write_text("[[place]\n", encoding="utf-8")
    with pytest.raises(GazetteerError, match=r"broken\.toml"):
        load([broken])
