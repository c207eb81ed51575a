from __future__ import annotations

from services.enricher.text import dominant_script, text_stats


def test_arabic_text() -> None:
    stats = text_stats("أعلنت مؤسسة المياه في درعا عن جدول تقنين جديد " * 40)
    assert (stats.script, stats.direction, stats.language_guess) == ("Arab", "rtl", "ar")
    assert stats.word_count == 360
    assert stats.reading_minutes == 2


def test_english_text() -> None:
    stats = text_stats("The water directorate in Daraa announced a new rationing schedule.")
    assert (stats.script, stats.direction, stats.language_guess) == ("Latn", "ltr", "en")
    assert stats.reading_minutes == 1


def test_mixed_text_takes_the_majority_script() -> None:
    assert dominant_script("قال مدير المؤسسة إن UNICEF ستدعم المشروع في حلب وإدلب") == "Arab"


def test_empty_text() -> None:
    stats = text_stats("  123 ... ")
    assert stats.script is None and stats.direction == "ltr"
    assert text_stats("").reading_minutes == 0
