"""Choosing how a source's entries are recognised, and noticing when a feed breaks the rule.

A feed should give each story its own guid; some CMSs give every item the same one, or reuse
them. Then guids cannot identify stories and the source moves to links (or, when links repeat
too, to a hash of title and content), recording why for the operator.
"""

from __future__ import annotations

from collections import defaultdict

from shared.feeds.parse import ParsedEntry

RULES = ("guid", "link", "hash")


def _repeated(entries: list[ParsedEntry], key: str) -> tuple[str, int] | None:
    """A value of `key` ("guid" or "link") shared by entries that are different stories."""
    stories: dict[str, set[tuple[str, str | None]]] = defaultdict(set)
    for entry in entries:
        value = entry.guid if key == "guid" else (entry.link_as_written or entry.link)
        if value:
            stories[value].add((entry.title, entry.link if key == "guid" else None))
    for value, distinct in stories.items():
        if len(distinct) > 1:
            return value, len(distinct)
    return None


def identity_rule(current: str, entries: list[ParsedEntry]) -> tuple[str, str | None]:
    """The rule to use for this document, and a note when it had to change."""
    rule = current
    notes = []
    if rule == "guid":
        repeated = _repeated(entries, "guid")
        if repeated:
            value, count = repeated
            # Links identify stories only if the feed gives them.
            has_links = all(entry.link_as_written or entry.link for entry in entries)
            rule = "link" if has_links else "hash"
            notes.append(f"guid {value[:80]!r} is used by {count} different stories")
    if rule == "link":
        repeated = _repeated(entries, "link")
        if repeated:
            value, count = repeated
            rule = "hash"
            notes.append(f"link {value[:80]!r} is used by {count} different stories")
    if rule == current:
        return rule, None
    return rule, "; ".join(notes) + f"; recognising stories by {rule} from now on"
