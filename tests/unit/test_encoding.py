"""Feeds in the encodings Arabic outlets use, with right, wrong and missing declarations."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from shared.feeds.encoding import to_utf8
from shared.feeds.parse import parse_feed

DEMO = json.loads((Path(__file__).resolve().parents[2] / "shared/demo/outlets.json").read_text())
DEMO_TITLES = [a["title"] for o in DEMO["outlets"] for a in o["articles"]]
# Written for this test, not drawn from the demo articles the letter table was measured on.
HELD_OUT = [
    "وصول قافلة مساعدات إلى مخيم الركبان",
    "ارتفاع أسعار الخضار في أسواق حمص",
    "افتتاح مدرسة جديدة في بلدة الصنمين",
    "جفاف الآبار يهدد الموسم الزراعي في الحسكة",
    "مجلس بلدية طفس يناقش مشكلة النظافة",
    "عودة التيار الكهربائي إلى أحياء حلب الشرقية",
    "حريق في أحراج ريف اللاذقية الشمالي",
    "تأخر صرف رواتب المعلمين في دير الزور",
    "ظهور إصابات بالكوليرا قرب نهر الفرات",
    "ضبط شحنة أدوية مهربة على طريق دمشق",
]
ENCODINGS = ["utf-8", "cp1256", "iso-8859-6"]
DECLARATIONS = [None, "utf-8", "iso-8859-1", "windows-1256", "iso-8859-6"]


def feed(title: str, encoding: str, declared: str | None) -> bytes:
    prolog = f'<?xml version="1.0" encoding="{declared}"?>' if declared else '<?xml version="1.0"?>'
    xml = (
        f'{prolog}<rss version="2.0"><channel><title>t</title><item><guid>g</guid>'
        f"<title>{html.escape(title)}</title></item></channel></rss>"
    )
    return xml.encode(encoding, errors="xmlcharrefreplace")


@pytest.mark.parametrize("declared", DECLARATIONS)
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_arabic_titles_survive_any_declaration(encoding: str, declared: str | None) -> None:
    wrong = [
        title
        for title in DEMO_TITLES + HELD_OUT
        if parse_feed(feed(title, encoding, declared), "https://o.example/f").entries[0].title
        != title
    ]
    assert wrong == []


def test_a_wrong_header_is_overruled_too() -> None:
    body = feed(HELD_OUT[0], "cp1256", "windows-1256")
    parsed = parse_feed(body, "https://o.example/f", "application/rss+xml; charset=utf-8")
    assert parsed.entries[0].title == HELD_OUT[0]


def test_the_note_says_what_was_wrong() -> None:
    parsed = parse_feed(feed(HELD_OUT[1], "cp1256", "utf-8"), "https://o.example/f")
    assert parsed.encoding == "cp1256"
    assert parsed.encoding_note == "declared utf-8; read as cp1256"
    right = parse_feed(feed(HELD_OUT[1], "utf-8", "utf-8"), "https://o.example/f")
    assert (right.encoding, right.encoding_note) == ("utf-8", None)


def test_a_latin_feed_is_not_read_as_arabic() -> None:
    title = "Hausse des prix du pain à Alep, selon la chambre de commerce"
    parsed = parse_feed(feed(title, "cp1252", "utf-8"), "https://o.example/f")
    assert parsed.entries[0].title == title


def test_utf16_with_a_byte_order_mark() -> None:
    body = "\ufeff" + feed(HELD_OUT[2], "utf-8", None).decode()
    assert parse_feed(body.encode("utf-16"), "https://o.example/f").entries[0].title == HELD_OUT[2]


def test_ascii_keeps_its_declaration() -> None:
    decoded = to_utf8(b'<?xml version="1.0" encoding="windows-1256"?><rss/>')
    assert (decoded.encoding, decoded.guessed) == ("cp1256", False)
    assert decoded.body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
