"""Who consumes which event: the contract between the services, in one table.

The relay sends each event to every consumer listed here, by Celery task name, on the consumer
service's queue. Each service registers its consumers under exactly these names (a test checks
that every name here is a registered task). Services never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain import events as ev

# One queue per service that does background work.
QUEUES = ("poll", "enrich", "review", "publish")

# Task name prefix -> queue.
SERVICE_QUEUES = {
    "poller": "poll",
    "enricher": "enrich",
    "review": "review",
    "publisher": "publish",
}


@dataclass(frozen=True)
class Consumer:
    task: str  # "<service>.<what>", also the receipt's consumer name

    @property
    def queue(self) -> str:
        return SERVICE_QUEUES[self.task.partition(".")[0]]


SUBSCRIPTIONS: dict[str, tuple[Consumer, ...]] = {
    ev.SourcePollRequested.type: (Consumer("poller.poll_requested"),),
    ev.SourceContentPushed.type: (Consumer("poller.content_pushed"),),
    ev.ArticleIngested.type: (
        Consumer("enricher.article_ingested"),
        Consumer("review.article_ingested"),
    ),
    ev.SourceRevised.type: (
        Consumer("enricher.source_revised"),
        Consumer("review.source_revised"),
    ),
    ev.ArticleQueued.type: (),
    ev.ArticleEnriched.type: (),
    # The audit trail (the history table is its readable form); the enricher enriches each
    # saved or submitted translation.
    ev.ArticleTransitioned.type: (Consumer("enricher.article_transitioned"),),
    ev.ArticlePublished.type: (Consumer("publisher.article_published"),),
    ev.ArticleWithdrawn.type: (Consumer("publisher.article_withdrawn"),),
}


def consumers_of(event_type: str) -> tuple[Consumer, ...]:
    return SUBSCRIPTIONS.get(event_type, ())
