"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Iterator
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared.celery_app import queue_depths
from shared.metrics import registry_for
from shared.status import SystemStatus, collect_status

from .problems import problem

log = structlog.get_logger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The web process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database and the broker answer", response_model=None)
def readyz(request: Request) -> Any:
    checks: dict[str, str] = {}
    try:
        request.app.state.database.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported below
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        queue_depths(request.app.state.celery, timeout=2.0)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported below
        checks["broker"] = f"error: {type(exc).__name__}"
    if all(value == "ok" for value in checks.values()):
        return {"status": "ok", "checks": checks}
    log.warning("not_ready", **checks)
    return problem(503, "Not ready", "a dependency does not answer", checks=checks)


class SystemCollector(Collector):
    """Gauges read from the database and broker at scrape time: the same in every process.

    Read at most every CACHE_SECONDS, so frequent or concurrent scrapes cost one read."""

    CACHE_SECONDS = 5.0

    def __init__(self, request_app: Any) -> None:
        self.app = request_app
        self._lock = threading.Lock()
        self._cached: tuple[float, SystemStatus] | None = None

    def _status(self) -> SystemStatus:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.CACHE_SECONDS:
                status = collect_status(self.app.state.database, self.app.state.celery)
                self._cached = (time.monotonic(), status)
            return self._cached[1]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            status = self._status()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail because a gauge did
            log.warning("metrics_status_failed", error=str(exc))
            return
        articles = GaugeMetricFamily(
            "crossfeed_articles", "Articles by workflow state", labels=["state"]
        )
        for state, count in status.articles_by_state.items():
            articles.add_metric([state], count)
        yield articles
        sources = GaugeMetricFamily(
            "crossfeed_sources", "Sources by status and health", labels=["status", "failing"]
        )
        buckets: dict[tuple[str, str], int] = {}
        for source in status.sources:
            key = (source.status, "true" if source.consecutive_failures else "false")
            buckets[key] = buckets.get(key, 0) + 1
        for (state, failing), count in buckets.items():
            sources.add_metric([state, failing], count)
        yield sources
        yield GaugeMetricFamily(
            "crossfeed_outbox_pending",
            "Events not yet sent by the relay",
            value=status.outbox.pending,
        )
        yield GaugeMetricFamily(
            "crossfeed_outbox_oldest_pending_seconds",
            "Age of the oldest unsent event",
            value=status.outbox.oldest_pending_seconds or 0.0,
        )
        yield GaugeMetricFamily(
            "crossfeed_outbox_stuck", "Events redelivery gave up on", value=status.outbox.stuck
        )
        if status.queues is not None:
            queues = GaugeMetricFamily(
                "crossfeed_queue_depth", "Messages waiting", labels=["queue"]
            )
            for name, depth in status.queues.items():
                queues.add_metric([name], depth)
            yield queues


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False, response_model=None)
def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}"
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return problem(
                401,
                "Unauthorized",
                "send the metrics token",
                headers={"WWW-Authenticate": "Bearer"},
            )
    registry = registry_for(settings)
    body = generate_latest(registry) + generate_latest(request.app.state.system_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def system_registry(app: Any) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(app))
    return registry
