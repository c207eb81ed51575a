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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the article: الرقة is the city, فرقه "its teams"; حمص the city, الحمص the pulse
        ("قال الدفاع المدني إن فرقه تعمل", {"syrian-civil-defence": 1}),
        ("وصلت فرقه إلى الرقة وبالرقة", {"raqqa": 2}),
        ("ارتفع سعر كيلو الحمص وطبق فتة بالحمص", {}),
        ("ارتفعت الأسعار في حمص وبحمص", {"homs": 2}),
        ("ضعف البصر البصري", {}),
        # not_next_to: words beside the name that make it something else
        ("صحن فول وحمص بطحينة", {}),
        ("نوى الزيتون ونوى التمر للتدفئة", {}),
        ("قصف على نوى بريف درعا", {"nawa": 1, "daraa": 1}),
        ("أنشد التلاميذ حماة الديار", {}),
        ("في ريف حماة الشمالي", {"hama": 1}),
        ("التفوق في مختلف الميادين والميادين كافة", {}),
        ("اشتباكات في مدينة الميادين", {"al-mayadin": 1, "deir-ez-zor": 0}),
        ("A delegation from Russia's State Duma", {}),
        ("Shelling hit Douma and Duma", {"douma": 2, "rif-dimashq": 0}),
        ("Trucks crossed Bab al-Hawa and Bab al-Salama", {}),
        ("Shelling on al-Bab, east of Aleppo", {"al-bab": 1, "aleppo": 1}),
        # only_after: تدمر "destroys" counts as Palmyra after a place word or with bi-
        ("الغارات تدمر منازل والنيران تدمر المحاصيل", {}),
        ("وصل وفد إلى تدمر وزار متحف تدمر وبتدمر", {"palmyra": 3, "homs": 0}),
        # also_adjective: right after a noun with al-, السلمية is "peaceful"
        ("الاحتجاجات السلمية والحلول السلمية", {}),
        ("حملة في حماة والسلمية وفي السلمية", {"hama": 1, "salamiyah": 2}),
        # acronyms: not inside a longer name; possessive 's
        ("the UN refugee agency said", {"unhcr": 1}),
        ("The UN's envoy visited Palmyra's museum", {"united-nations": 1, "palmyra": 1, "homs": 0}),
    ],
)
def test_look_alike_words_are_not_places(text: str, expected: dict[str, int]) -> None:
    assert ids(text) == expected


def test_operators_give_context_rules_too(tmp_path: Path) -> None:
    extra = tmp_path / "ours.toml"
    extra.write_text(
        '[[place]]\nid = "sharaa"\nen = "Sharaa"\nar = ["شرعا"]\nkind = "town"\n'
        'governorate = "daraa"\nnot_next_to = ["قانون"]\nonly_after = ["بلدة"]\n',
        encoding="utf-8",
    )
    gazetteer = load([extra])
    assert {f.id for f in gazetteer.find("قصف بلدة شرعا")} == {"sharaa", "daraa"}
    assert gazetteer.find("يجوز شرعا") == []  # not after بلدة
    assert gazetteer.find("بلدة شرعا قانون") == []
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[place]]\nid = "x"\nen = "X"\nar = ["س"]\nkind = "town"\nalso_adjective = "yes"\n',
        encoding="utf-8",
    )
    with pytest.raises(GazetteerError, match=r"bad\.toml: place #1: also_adjective"):
        load([bad])


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
