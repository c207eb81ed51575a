from __future__ import annotations

import contextlib
import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.feeds.parse import MAX_TITLE, FeedParseError, ParsedEntry, parse_feed
from tests.support.feeds import Item, atom, json_feed, rss

URL = "https://outlet.example/feed.xml"
UTC_PUBLISHED = dt.datetime(2025, 11, 24, 16, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("build", [rss, atom, json_feed])
def test_each_format_gives_the_same_entries(build: object) -> None:
    items = [
        Item(
            "tag:outlet.example,2025:1",
            "انقطاع الكهرباء في درعا",
            "<p>تقنين جديد</p>",
            "https://outlet.example/1",
        ),
        Item(
            "tag:outlet.example,2025:2", "أسعار الخبز", "<p>ارتفاع</p>", "https://outlet.example/2"
        ),
    ]
    feed = parse_feed(build(items), URL)  # type: ignore[operator]
    assert [e.title for e in feed.entries] == ["انقطاع الكهرباء في درعا", "أسعار الخبز"]
    first = feed.entries[0]
    assert first.link == "https://outlet.example/1"
    assert first.identity_key() == "guid:tag:outlet.example,2025:1"
    assert "تقنين جديد" in (first.content_html or first.summary_html)
    assert first.published_at == UTC_PUBLISHED


def test_dates_with_offsets_are_normalised_to_utc() -> None:
    body = rss([Item("g", "t")]).replace(
        b"Mon, 24 Nov 2025 16:00:00 GMT", b"Mon, 24 Nov 2025 18:00:00 +0200"
    )
    assert parse_feed(body, URL).entries[0].published_at == UTC_PUBLISHED


@pytest.mark.parametrize("date", [b"", b"not a date", b"Mon, 99 Nov 2025 99:99:99 GMT"])
def test_missing_or_garbage_dates_are_none(date: bytes) -> None:
    body = rss([Item("g", "t")]).replace(b"Mon, 24 Nov 2025 16:00:00 GMT", date)
    assert parse_feed(body, URL).entries[0].published_at is None


def test_identity_falls_back_to_link_then_hash() -> None:
    entries = parse_feed(
        rss([Item(None, "a", link="https://outlet.example/a"), Item(None, "b")]), URL
    ).entries
    assert entries[0].identity_key() == "link:https://outlet.example/a"
    assert entries[1].identity_key().startswith("hash:")


def test_hash_identity_depends_on_title_and_content() -> None:
    a = ParsedEntry(None, None, "t", "", "<p>x</p>", None, None)
    b = ParsedEntry(None, None, "t", "", "<p>y</p>", None, None)
    assert a.identity_key() != b.identity_key()
    assert (
        a.identity_key() == ParsedEntry(None, None, "t", "", "<p>x</p>", None, None).identity_key()
    )


def test_content_hash_ignores_markup_only_changes() -> None:
    a = ParsedEntry("g", None, "عنوان", "", "<p>نص  الخبر</p>", None, None)
    b = ParsedEntry("g", None, "عنوان", "", "<div><p>نص الخبر</p></div>", None, None)
    c = ParsedEntry("g", None, "عنوان", "", "<p>نص آخر</p>", None, None)
    assert a.content_hash() == b.content_hash() != c.content_hash()


def test_entry_html_is_sanitised_and_links_resolved() -> None:
    body = rss(
        [
            Item(
                "g",
                "t",
                '<p>x</p><script>alert(1)</script><a href="/more">m</a>',
                "https://outlet.example/news/1",
            )
        ]
    )
    entry = parse_feed(body, URL).entries[0]
    html = entry.content_html or entry.summary_html
    assert "script" not in html and "alert" not in html
    assert 'href="https://outlet.example/more"' in html


def test_windows_1256_feed() -> None:
    text = (
        '<?xml version="1.0" encoding="windows-1256"?>'
        '<rss version="2.0"><channel><title>قناة</title>'
        "<item><guid>g</guid><title>خبر عاجل من حلب</title><description>نص</description></item>"
        "</channel></rss>"
    )
    feed = parse_feed(text.encode("cp1256"), URL)
    assert feed.entries[0].title == "خبر عاجل من حلب"


def test_iso_8859_6_feed() -> None:
    text = (
        '<?xml version="1.0" encoding="iso-8859-6"?><rss version="2.0"><channel><title>قناة</title>'
        "<item><guid>g</guid><title>خبر من دمشق</title><description>نص</description></item>"
        "</channel></rss>"
    )
    assert parse_feed(text.encode("iso-8859-6"), URL).entries[0].title == "خبر من دمشق"


def test_huge_titles_are_clipped() -> None:
    entry = parse_feed(rss([Item("g", "ع" * 100_000)]), URL).entries[0]
    assert len(entry.title) == MAX_TITLE


def test_ttl_is_read() -> None:
    assert parse_feed(rss([Item("g", "t")], extra_channel="<ttl>60</ttl>"), URL).ttl_minutes == 60


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty document"),
        (b"   \n", "empty document"),
        (b"<html><body><p>not a feed</p></body></html>", "serves a web page, not a feed"),
        (b'<?xml version="1.0"?><note><to>x</to></note>', "not an RSS or Atom feed"),
        (b'{"hello": "world"}', "not a JSON Feed"),
        (b"{not json", "invalid JSON"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}', "items list"),
    ],
)
def test_not_a_feed(body: bytes, message: str) -> None:
    with pytest.raises(FeedParseError, match=message):
        parse_feed(body, URL)


def test_identity_does_not_depend_on_the_feed_url() -> None:
    # Relative guids and links are common; a feed moving from http to https must not make
    # every story look new.
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>a</title><guid>story-43</guid><link>/news/43</link></item>"
        b"<item><title>b</title><link>/news/44</link></item></channel></rss>"
    )
    old = parse_feed(body, "http://old.example/feed")
    new = parse_feed(body, "https://new.example/rss")
    assert [e.identity_key() for e in old.entries] == ["guid:story-43", "link:/news/44"]
    assert [e.identity_key() for e in new.entries] == [e.identity_key() for e in old.entries]
    assert new.entries[0].link == "https://new.example/news/43"  # resolved for display


def test_json_feed_with_odd_values() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": None,
            "items": [
                {
                    "id": 7,
                    "title": None,
                    "url": "/story/7",
                    "tags": None,
                    "authors": "nobody",
                    "content_html": "<p>نص</p>",
                    "date_published": 12345,
                },
                "not an item",
                {
                    "id": "",
                    "url": "javascript:alert(1)",
                    "title": ["x"],
                    "summary": {"a": 1},
                    "author": {"name": "فريق التحرير"},
                },
            ],
        }
    ).encode()
    feed = parse_feed(body, "https://outlet.example/feed.json")
    assert feed.skipped == 1
    first, second = feed.entries
    assert (first.guid, first.title, first.link) == ("7", "", "https://outlet.example/story/7")
    assert first.categories == [] and first.author is None and first.published_at is None
    assert (second.guid, second.link, second.title) == (None, None, "")
    assert second.author == "فريق التحرير"
    assert feed.title == ""


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
ITEM_KEYS = [
    "id",
    "url",
    "title",
    "content_html",
    "content_text",
    "summary",
    "tags",
    "authors",
    "author",
    "date_published",
    "date_modified",
    "image",
]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_parse_or_fail_cleanly(body: bytes) -> None:
    with contextlib.suppress(FeedParseError):
        parse_feed(body, URL)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(ITEM_KEYS), JSON_VALUES, max_size=8), max_size=5),
    st.dictionaries(st.sampled_from(["title", "home_page_url", "feed_url", "hubs"]), JSON_VALUES),
)
def test_any_json_feed_shape_parses_or_fails_cleanly(
    items: list[dict[str, object]], top: dict[str, object]
) -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", **top, "items": items}
    try:
        feed = parse_feed(json.dumps(doc).encode(), URL)
    except FeedParseError:
        return
    for entry in feed.entries:
        assert isinstance(entry.title, str) and len(entry.title) <= MAX_TITLE
        assert entry.link is None or entry.link.startswith("http")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(max_size=40), st.text(max_size=200), st.text(max_size=40)), max_size=5
    )
)
def test_any_rss_text_parses(items: list[tuple[str, str, str]]) -> None:
    body = rss([Item(guid or None, title, f"<p>{text}</p>") for guid, text, title in items])
    feed = parse_feed(body, URL)
    assert len(feed.entries) + feed.skipped <= len(items)


@pytest.mark.parametrize("build", [rss, atom, json_feed])
def test_max_entries_reads_the_first_entries_and_counts_them_all(build: object) -> None:
    items = [Item(f"g{n}", f"خبر {n}", f"<p>{n}</p>", f"https://o.example/{n}") for n in range(9)]
    feed = parse_feed(build(items), URL, max_entries=4)  # type: ignore[operator]
    assert [e.guid for e in feed.entries] == ["g0", "g1", "g2", "g3"]
    assert feed.listed == 9
    assert parse_feed(build(items), URL).listed == 9  # type: ignore[operator]
