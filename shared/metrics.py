"""Prometheus metrics. Counters and histograms only, so they aggregate across processes."""

from __future__ import annotations

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from shared.settings import Settings

log = structlog.get_logger(__name__)

POLLS = Counter("crossfeed_polls_total", "Source polls by outcome", ["outcome"])
FETCH_SECONDS = Histogram("crossfeed_fetch_seconds", "Time to fetch a source document")
PARSE_SECONDS = Histogram("crossfeed_parse_seconds", "Time to parse a source document")
ENTRIES = Counter("crossfeed_entries_total", "Feed entries by result", ["result"])

EVENTS_DISPATCHED = Counter(
    "crossfeed_events_dispatched_total", "Events sent by the relay", ["type"]
)
EVENTS_REDELIVERED = Counter(
    "crossfeed_events_redelivered_total", "Events sent again for lack of a receipt", ["type"]
)
RELAY_ERRORS = Counter("crossfeed_relay_errors_total", "Relay sends that failed")

TASKS = Counter("crossfeed_tasks_total", "Celery tasks finished, by outcome", ["task", "outcome"])
TASK_SECONDS = Histogram("crossfeed_task_seconds", "Celery task run time", ["task"])
HTTP_REQUESTS = Counter(
    "crossfeed_http_requests_total", "Web requests by route and status", ["route", "status"]
)


def registry_for(settings: Settings) -> CollectorRegistry:
    """The registry to expose: every process's counters when they share a folder (a prefork
    worker's pool processes count in their own process), else this process's."""
    if settings.metrics_dir is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def serve_metrics(settings: Settings) -> None:
    """Serve this process's metrics on CROSSFEED_METRICS_PORT, if set (workers, beat, relay)."""
    if not settings.metrics_port:
        return
    try:
        start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=registry_for(settings)
        )
    except OSError as exc:
        # A second worker on the same host: metrics are lost for it, the work is not.
        log.warning("metrics_port_unavailable", port=settings.metrics_port, error=str(exc))
