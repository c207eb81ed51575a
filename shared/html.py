"""The HTML allow-list. Every path that stores HTML (ingest, translation save) goes through here,
and every text field that may arrive with markup (titles, deks, authors) through plain_text."""

from __future__ import annotations

import html as stdlib_html
import re
from typing import Literal
from urllib.parse import urlsplit

import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
        "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li",
        "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody",
        "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "*": {"dir", "lang"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed with their content, not just unwrapped.
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template"}
)

_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")
_TAG_TOKEN = re.compile(rb"<(/?)([A-Za-z][A-Za-z0-9]*)[^>]*?(/?)>")
VOID_TAGS = frozenset({b"br", b"img", b"hr", b"input", b"meta", b"link", b"wbr", b"source", b"col"})
# Real articles nest a few dozen levels at most. The sanitiser's parser takes time quadratic in
# nesting depth (100,000 nested tags: about 30 s), so deeper markup is flattened to its text.
MAX_NESTING = 256


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """Keep only the allow-listed markup; resolve relative links against `base_url`."""
    if not fragment:
        return ""
    if nesting_depth(fragment) > MAX_NESTING:
        return "<p>" + stdlib_html.escape(to_text(fragment)) + "</p>"
    if base_url and urlsplit(base_url).scheme.lower() in ("http", "https"):
        relative: tuple[Literal["rewrite_with_base"], str] | Literal["deny"] = (
            "rewrite_with_base",
            base_url,
        )
    else:
        relative = "deny"
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        url_relative=relative,
        link_rel="noopener noreferrer nofollow",
    ).strip()


def plain_text(fragment: str) -> str:
    """A field that holds no markup (titles, deks, names): tags go, and scripts and styles
    with their content; entities become characters; whitespace collapsed."""
    return to_text(sanitize_html(fragment)) if "<" in fragment else to_text(fragment)


def nesting_depth(fragment: str) -> int:
    """The deepest nesting of open tags, by a linear scan (unclosed tags count as open)."""
    depth = deepest = 0
    for closing, name, self_closing in _TAG_TOKEN.findall(fragment.encode("utf-8", "replace")):
        if closing:
            depth = max(0, depth - 1)
        elif not self_closing and name.lower() not in VOID_TAGS:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed (for hashing, search, language)."""
    text = _TAG.sub(" ", fragment)
    return _WHITESPACE.sub(" ", stdlib_html.unescape(text)).strip()
