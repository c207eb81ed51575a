"""The NINJS 2.1 rules the feed tests validate against refuse what IPTC's schema refuses."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.support import ninjs

VALID: dict[str, Any] = {
    "uri": "urn:uuid:5f0b1c1e-7f2a-4c55-9c1e-2b8f7d0a9e41",
    "type": "text",
    "pubstatus": "usable",
    "versioncreated": "2026-11-25T10:00:00Z",
    "headlines": [{"role": "main", "value": "Bread prices rise in Jasim"}],
    "bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>x</p>", "wordcount": 1}],
    "subjects": [{"name": "Daraa", "rel": "category", "relevance": 100}],
    "places": [{"name": "Jasim", "literal": "jasim"}],
    "genres": [{"name": "Translation", "uri": "not a uri, and that is allowed"}],
    "people": [{"name": "Tara", "rel": "translator",
                "contactinfo": [{"type": "web", "value": "https://news.example/tara"}]}],
}  # fmt: skip


def test_a_valid_item_passes() -> None:
    ninjs.validate(VALID)


@pytest.mark.parametrize(
    "change",
    [
        {"uri": None},  # required
        {"colour": "blue"},  # no such member
        {"pubstatus": "published"},
        {"urgency": 10},
        {"versioncreated": "yesterday"},
        {"headlines": [{"role": "main"}]},  # a headline needs a value
        {"subjects": [{"name": "Daraa", "relevance": 101}]},
        {"genres": [{"name": "Translation", "rel": "genre"}]},  # genres name no relationship
        {"people": [{"name": "Tara", "contactinfo": [{"type": "web"}]}]},  # value or address
        {"rightsinfo": {"langid": "https://example.org/"}},  # linked or encoded rights
    ],
)
def test_what_iptc_refuses_is_refused(change: dict[str, Any]) -> None:
    item = {**VALID, **change}
    item = {k: v for k, v in item.items() if v is not None}
    with pytest.raises(jsonschema.ValidationError):
        ninjs.validate(item)
