"""Cross-source duplicates: the same facts in other words are one story; other facts are not."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from shared.enrichment import duplicates as dup
from shared.enrichment.entities import default

ONE = ("مقتل ثلاثة مدنيين بقصف على جاسم. قتل ثلاثة مدنيين وأصيب سبعة آخرون، مساء الثلاثاء، "
       "جراء قصف مدفعي استهدف الأحياء السكنية في مدينة جاسم بريف درعا الشمالي، وفق ما أفاد "
       "الدفاع المدني السوري. الحصيلة 3 قتلى و7 جرحى.")  # fmt: skip
SAME = ("الدفاع المدني: 3 قتلى و7 جرحى في جاسم. أعلن الدفاع المدني السوري أن قصفاً "
        "مدفعياً طال أحياء سكنية في جاسم شمالي درعا مساء الثلاثاء، ما أدى إلى مقتل ثلاثة "
        "مدنيين وجرح سبعة.")  # fmt: skip
OTHER = ("انقطاع المياه عن أحياء في مدينة حمص. أعلنت مؤسسة المياه في حمص توقف الضخ عن 12 حياً "
         "لمدة يومين بسبب أعطال في محطة الضخ الرئيسية، بحسب بيان رسمي.")  # fmt: skip
SAME_PLACE_OTHER_DAY = ("قصف على جاسم يوقع قتيلاً. قتل مدني واحد وأصيب 2 جراء قصف بقذائف الهاون "
                        "على أطراف جاسم بريف درعا صباح الجمعة، بحسب مصادر محلية، بعد أسبوعين "
                        "من هدوء نسبي في المنطقة.")  # fmt: skip


def prints() -> dict[str, dup.StoryPrint]:
    gazetteer = default()
    texts = {"one": ONE, "same": SAME, "other": OTHER, "later": SAME_PLACE_OTHER_DAY}
    return {name: dup.story_print(text, gazetteer) for name, text in texts.items()}


def test_the_same_facts_in_other_words_are_one_story() -> None:
    p = prints()
    assert p["one"].numbers >= {"3", "7"}
    assert {"jasim", "syrian-civil-defence"} <= p["one"].entities
    assert dup.same_story(p["one"], p["same"])
    keys = set(dup.band_keys(dup.signature(p["one"])))
    assert keys & set(dup.band_keys(dup.signature(p["same"]))), "not even a candidate"


def test_other_stories_are_not_duplicates() -> None:
    p = prints()
    assert not dup.same_story(p["one"], p["other"])
    assert not dup.same_story(p["one"], p["later"])
    assert dup.similarity(p["one"], p["same"]) > dup.similarity(p["one"], p["later"])


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("قتل ثلاثة وأصيب 7", {"3", "7"}),
        ("ثلاثمئة وأربعون قطعة، ثلاثاً وعشرين إصابة، أربعة عشر مريضاً", {"340", "23", "14"}),
        ("البنزين بـ12 ألف ليرة بعد 10 آلاف، والمازوت 11500", {"12000", "10000", "11500"}),
        ("مليون و200 ألف ليرة، و5 آلاف", {"1200000", "5000"}),
        ("بين 5 و11 شخصاً، نسبة 68.5 بالمئة", {"5", "11", "68.5"}),  # a list, "per cent"
        ("Thirty-two trucks carried 2,000 tonnes for 5,300 people", {"32", "2000", "5300"}),
        ("آلاف المحتجين وعشرات الجرحى، thousands of people, one man", set()),  # no figure
    ],
)
def test_numbers_are_read_in_digits_and_in_words(text: str, numbers: set[str]) -> None:
    assert dup.story_print(text, default()).numbers == numbers


def test_dates_and_weekdays_are_facts_of_their_own() -> None:
    print_ = dup.story_print("مساء الثلاثاء 14 تشرين الثاني، وفي 3 آذار", default())
    assert print_.dates == {"tuesday", "--11-14", "--03-03"}
    assert not print_.numbers  # a day of the month is not a figure
    english = dup.story_print("on Wednesday, 7 February, and on March 3", default())
    assert english.dates == {"wednesday", "--02-07", "--03-03"}
    assert "الثلاثاء" not in print_.words and "wednesday" not in english.words


def test_facts_that_disagree_make_other_stories() -> None:
    one = dup.StoryPrint(frozenset({"قصف"}), frozenset({"3"}), frozenset({"jasim"}),
                         frozenset({"--11-14", "tuesday"}))  # fmt: skip
    assert not dup.contradicts(one, one)
    for other in (
        replace(one, entities=frozenset({"homs"})),
        replace(one, numbers=frozenset({"5"})),
        replace(one, dates=frozenset({"--11-21", "tuesday"})),
        replace(one, dates=frozenset({"friday"})),
    ):
        assert dup.contradicts(one, other) and not dup.same_story(one, other)
    # what only one of them states does not disagree
    assert not dup.contradicts(one, replace(one, dates=frozenset(), entities=frozenset()))


def test_prints_rebuilt_from_stored_lists_still_compare() -> None:
    p = prints()
    stored = {name: json.loads(json.dumps({k: sorted(v) for k, v in vars(pr).items()}))
              for name, pr in p.items()}  # fmt: skip
    assert all(isinstance(x, str) for lists in stored.values() for v in lists.values() for x in v)
    rebuilt = {
        n: dup.StoryPrint(**{k: frozenset(v) for k, v in s.items()}) for n, s in stored.items()
    }
    assert rebuilt == p
    # stored before `dates` existed: three lists; the verdicts do not depend on having it
    old = {n: dup.StoryPrint(pr.words, pr.numbers, pr.entities) for n, pr in p.items()}
    assert dup.same_story(old["one"], old["same"]) and dup.same_story(old["one"], p["same"])
    assert not dup.same_story(old["one"], old["later"])
