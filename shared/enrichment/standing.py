"""Standing copy of a translated article: its attribution line, disclaimer and slug.

The attribution credits the outlet the way the newsroom does ("Regime shells Daraa, Syria TV
says"): the source's template either holds `{headline}` where the headline goes, or is appended
to it after a comma. The disclaimer is the newsroom's text (CROSSFEED_DISCLAIMER) with the
article's names filled in.
"""

from __future__ import annotations

import string

from slugify import slugify

SLUG_MAX = 80
# Placeholders a disclaimer may use (checked when settings load, so a typo stops start-up).
DISCLAIMER_FIELDS = frozenset({"newsroom", "source", "author", "translator"})
ATTRIBUTION_FIELDS = frozenset({"headline", "source"})


class TemplateError(ValueError):
    """A template naming a placeholder we cannot fill, or malformed braces."""


def fields_of(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise TemplateError(f"{template!r}: {exc}") from exc


def check_template(template: str, allowed: frozenset[str]) -> None:
    unknown = fields_of(template) - allowed
    if unknown:
        raise TemplateError(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in sorted(unknown))} "
            f"(use {', '.join('{' + a + '}' for a in sorted(allowed))})"
        )


def _fill(template: str, values: dict[str, str], allowed: frozenset[str]) -> str:
    try:
        check_template(template, allowed)
        return template.format_map(values)
    except (TemplateError, ValueError, IndexError):
        return template  # a stored template gone wrong shows as written, never fails the story


def attribution_line(headline: str, template: str | None, source_name: str) -> str:
    """`headline` credited with the source's template (None: "<source name> says")."""
    template = (template or f"{source_name} says").strip()
    headline = headline.strip().rstrip(".")
    if "{headline}" in template:
        return _fill(template, {"headline": headline, "source": source_name}, ATTRIBUTION_FIELDS)
    credit = _fill(template, {"headline": headline, "source": source_name}, ATTRIBUTION_FIELDS)
    return f"{headline}, {credit}" if headline else credit


def disclaimer(
    template: str, newsroom: str, source: str, author: str | None, translator: str | None
) -> str:
    values = {
        "newsroom": newsroom,
        "source": source,
        "author": author or source,
        "translator": translator or newsroom,
    }
    return _fill(template, values, DISCLAIMER_FIELDS).strip()


def slug(headline: str) -> str | None:
    """URL slug of the English headline, cut at a word; None when nothing is left of it."""
    return slugify(headline, max_length=SLUG_MAX, word_boundary=True) or None


def public_slug(headline: str, article_id: int) -> str:
    """The published article's slug, fixed at first publication (corrections keep it, so its
    URL stays): the headline's, ending in the article id, which makes it unique and lets a
    publisher find its post again after a crash (a site would otherwise add "-2")."""
    return f"{slug(headline) or 'article'}-{article_id}"
