from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.domain.events import (
    EVENT_TYPES,
    ArticleIngested,
    SourcePollRequested,
    UnknownEvent,
    envelope,
    parse_envelope,
)
from shared.subscriptions import QUEUES, SUBSCRIPTIONS


def test_envelope_round_trip() -> None:
    event = ArticleIngested(article_id=1, source_id=2, revision_id=3)
    raw = envelope(event, event_id="e-1")
    assert raw["type"] == "article.ingested"
    assert raw["version"] == 1
    assert raw["data"] == {"article_id": 1, "source_id": 2, "revision_id": 3}
    assert parse_envelope(raw) == ("e-1", event)


def test_older_versions_are_read() -> None:
    raw = envelope(SourcePollRequested(source_id=5))
    raw["version"] = 0
    assert parse_envelope(raw)[1] == SourcePollRequested(source_id=5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "article.exploded"}, "unknown event type"),
        ({"version": 2}, "newer than this code"),
        ({"data": {"source_id": "five"}}, "bad source.poll_requested data"),
        ({"data": {"source_id": 5, "extra": 1}}, "bad source.poll_requested data"),
    ],
)
def test_unreadable_envelopes_are_refused(change: dict[str, object], message: str) -> None:
    raw = {**envelope(SourcePollRequested(source_id=5)), **change}
    with pytest.raises(UnknownEvent, match=message):
        parse_envelope(raw)


@pytest.mark.parametrize("raw", [{}, {"id": "x"}, None, []])
def test_non_envelopes_are_refused(raw: object) -> None:
    with pytest.raises(UnknownEvent, match="not an event envelope"):
        parse_envelope(raw)  # type: ignore[arg-type]


def test_events_are_immutable() -> None:
    event = SourcePollRequested(source_id=1)
    with pytest.raises(ValidationError):
        event.source_id = 2  # type: ignore[misc]


def test_every_event_type_has_a_subscription_entry() -> None:
    # An event nobody listed would be sent nowhere without anyone deciding so.
    assert set(EVENT_TYPES) == set(SUBSCRIPTIONS)


def test_consumers_are_on_their_services_queue() -> None:
    for consumers in SUBSCRIPTIONS.values():
        for consumer in consumers:
            assert consumer.queue in QUEUES
