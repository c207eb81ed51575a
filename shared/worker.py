"""The Celery worker's consumer, mended where Celery 5.7.0 stops a worker on a Redis restart.

Celery 5.7.0, on losing the broker, first `collect()`s the connection (which detaches it from
its transport) and then closes it. On Redis, closing asks the channel to give back the
messages it had not acknowledged, through the connection `collect()` detached: kombu raises
AttributeError, which is not a connection error, so the worker stops with "Unrecoverable
error" instead of reconnecting (tests/faults/test_broker_and_database.py caught it; Celery
5.6 did not close after collecting). Here that one failure is logged and the reconnection goes
on. The messages are not lost: Redis gives unacknowledged ones back after the visibility
timeout, and the outbox redelivers any event a consumer did not finish.

The same restart can leave an acknowledgement behind: a task that ends while the connection is
being replaced has its ack queued on the event loop for the old channel, whose connection is
gone by the time it runs, and kombu fails the same way (AttributeError from the detached
connection), again stopping the worker. Such an ack is logged and dropped: the message was
not acknowledged, so Redis gives it back after the visibility timeout and the event's receipt
makes running it again a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
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

    def call_soon_ack(self, p: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def ack_or_log() -> Any:
            try:
                return p(*args, **kwargs)
            except AttributeError as error:  # the channel's connection is gone (see above)
                log.warning("ack_after_connection_lost", error=repr(error))
                return None

        return super().call_soon_ack(ack_or_log)
