"""The embedded broker: kombu's filesystem transport, made safe for several processes.

Two faults in kombu's own (kombu issue #1551 and its cause), both seen in our fault tests:
- a sender creates the message file under its final name and then writes it, while readers
  take any `*.msg` file they see without locking: a reader can take a file before its content
  is written, and a sender killed mid-write leaves an empty message for ever;
- a reader that takes an unreadable file raises from the worker's event loop, and the whole
  worker stops ("Unrecoverable error").
Here a sender writes under a temporary name and renames the file into place (atomic on one
filesystem), and a reader sets an unreadable file aside with a warning and takes the next.
Everything else is kombu's.
"""

from __future__ import annotations

import os
import time
import uuid
from queue import Empty
from typing import Any

import structlog
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps

log = structlog.get_logger(__name__)

# Unreadable files set aside in one call before giving up for this poll of the queue.
MAX_SKIPPED = 100


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message under a temporary name, then rename it into the queue."""
        name = f"{time.time_ns()}_{uuid.uuid4()}.{queue}"
        final = os.path.join(self.data_folder_out, f"{name}.msg")
        temporary = os.path.join(self.data_folder_out, f"{name}.tmp")  # not a *.msg: unseen
        try:
            with open(temporary, "wb") as handle:
                handle.write(dumps(payload).encode("utf-8"))
            os.replace(temporary, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> Any:  # type: ignore[override]
        """The next readable message; unreadable files are left in the processed folder."""
        for _ in range(MAX_SKIPPED):
            try:
                return super()._get(queue)
            except ValueError as exc:  # JSON decode error of a torn or foreign file
                log.warning("broker_message_unreadable", queue=queue, error=str(exc))
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
