"""The enricher's smaller parts: language, keywords, categories, standing copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yake

from shared.enrichment import categories, entities, keywords, language, standing
from shared.enrichment.categories import CategoryError


def test_language_is_detected_or_left_undecided() -> None:
    arabic = language.detect("قتل مدنيان وأصيب خمسة آخرون بقصف مدفعي على مدينة جاسم")
    english = language.detect("Two civilians were killed by shelling on the town of Jasim")
    assert (arabic.language, english.language) == ("ar", "en")
    assert arabic.confidence > 0.9
    assert language.detect("OK 12").language is None  # too little to tell
    with pytest.raises(language.UnknownLanguage):
        language.language_of("xx")


def test_keywords_put_names_first_and_drop_dates_and_repeats() -> None:
    text = (
        "Shelling on Jasim kills two\nTwo civilians were killed on Tuesday 14 November when "
        "artillery shells hit the eastern quarter of Jasim in the Daraa countryside, the Syrian "
        "Civil Defence said. Civil Defence teams took the wounded to hospital in Nawa."
    )
    found = entities.default().find(text)
    words = keywords.keywords(text, "en", found)
    assert words[0] in {"Jasim", "Daraa"}
    assert "Syrian Civil Defence" in words
    assert not any(w.lower() in {"tuesday", "november"} for w in " ".join(words).split())
    taken: set[str] = set()
    for phrase in words:  # no word in two keywords ("Daraa" and "Daraa countryside")
        assert not ({w.casefold() for w in phrase.split()} & taken), words
        taken |= {w.casefold() for w in phrase.split()}
    assert keywords.edited([" Jasim ", "jasim", "", "shelling"]) == ["Jasim", "shelling"]


def test_yake_rust_agrees_with_the_yake_package() -> None:
    """We use yake-rust for speed on the claim that it is the same algorithm."""
    text = (
        "The World Food Programme will cut monthly food baskets for displaced families in "
        "Hasakah province from next month because of a funding shortfall, the agency said. "
        "Displaced families in camps near Hasakah depend on the food baskets."
    )
    theirs = [k.lower() for k, _ in yake.KeywordExtractor(lan="en", n=3, top=10)
              .extract_keywords(text)]  # fmt: skip
    ours = {k.lower() for k, _ in keywords._extractor("en").get_n_best(text, n=10)}
    assert sum(k in ours for k in theirs) >= 8


def test_categories_by_rules(tmp_path: Path) -> None:
    rules = categories.default()
    text = "قصف مدفعي على جاسم يوقع قتيلين وجرحى"
    assert rules.categorise(text, entities.default().find(text)) == ["Daraa", "Security"]
    ours = tmp_path / "ours.toml"
    ours.write_text(
        'governorates = false\n[[category]]\nname = "Security"\nwords = ["sport"]\n'
        '[[category]]\nname = "Aid"\nentities = ["wfp"]\n',
        encoding="utf-8",
    )
    custom = categories.load([ours])
    wfp = "WFP cuts food baskets in Hasakah"
    assert custom.categorise(wfp, entities.default().find(wfp)) == ["Humanitarian", "Aid"]
    assert custom.categorise(text, entities.default().find(text)) == []  # Security replaced
    ours.write_text('colour = "red"\n', encoding="utf-8")
    with pytest.raises(CategoryError, match="unknown setting"):
        categories.load([ours])


def test_attribution_disclaimer_and_slug() -> None:
    assert (
        standing.attribution_line("Regime shells Daraa.", "Syria TV says", "Syria TV")
        == "Regime shells Daraa, Syria TV says"
    )
    assert (
        standing.attribution_line("Regime shells Daraa", "{headline}: {source}", "Syria TV")
        == "Regime shells Daraa: Syria TV"
    )
    assert standing.attribution_line("X", None, "Enab Baladi") == "X, Enab Baladi says"
    # A stored template gone wrong shows as written instead of failing the story.
    assert standing.attribution_line("X", "{oops", "S") == "X, {oops"
    assert (
        standing.disclaimer("By {translator} for {newsroom}; views: {author}.", "Desk", "S",
                            None, None)
        == "By Desk for Desk; views: S."
    )  # fmt: skip
    assert standing.slug("Two killed in Saraqib’s market — Idlib") == (
        "two-killed-in-saraqibs-market-idlib"
    )
    with pytest.raises(standing.TemplateError):
        standing.check_template("{headline} {when}", standing.ATTRIBUTION_FIELDS)
