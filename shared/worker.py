"""The Celery worker's consumer, mended where Celery 5.7.0 stops a worker on a Redis restart.

Celery 5.7.0, on losing the broker, first `collect()`s the connection (which detaches it from
its transport) and then closes it. On Redis, closing asks the channel to give back the
messages it had not acknowledged, through the connection `collect()` detached: kombu raises
AttributeError, which is not a connection error, so the worker stops with "Unrecoverable
error" instead of reconnecting (tests/faults/test_broker_and_database.py caught it; Celery
5.6 did not close after collecting). Here that one failure is logged and the reconnection goes
on. The messages are not lost: Redis gives unacknowledged ones back after the visibility
timeout, and the outbox redelivers any event a consumer did not finish.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery.worker.consumer import Consumer as CeleryConsumer

log = structlog.get_logger(__name__)


class Consumer(CeleryConsumer):  # type: ignore[misc]  # Celery is untyped
    def on_connection_error_after_connected(self, exc: Exception) -> None:
        connection = self.connection
        if connection is not None:
            close = connection.close

            def close_detached() -> Any:
                try:
                    return close()
                except AttributeError as error:
                    log.warning("broker_connection_close_failed", error=repr(error))
                    return None

            connection.close = close_detached  # this connection only, about to be dropped
        super().on_connection_error_after_connected(exc)
