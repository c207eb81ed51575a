"""Cross-source duplicates: the same facts in other words are one story; other facts are not."""

from __future__ import annotations

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
