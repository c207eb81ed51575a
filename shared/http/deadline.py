"""A total deadline for one request, however the server stalls (connect, headers, body).

Timeouts on a socket only bound each wait; a server sending one byte of headers every few
seconds never trips them. So each request runs under a watchdog: every socket the request uses
is registered, and when the deadline passes the watchdog shuts them down, which wakes whatever
read or write is blocked on them.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Self

_current = threading.local()


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def remaining(self) -> float:
        return max(0.0, self.expires - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.fired:
                _shutdown(sock)
            else:
                self._sockets.append(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def __enter__(self) -> Self:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        _current.deadline = None


def current() -> Deadline | None:
    """The deadline of the request running on this thread, if any."""
    return getattr(_current, "deadline", None)


def _shutdown(sock: socket.socket) -> None:
    # The plain socket method, also for TLS sockets: it acts on the descriptor and leaves the
    # TLS object, which another thread may be inside, alone. Already closed: nothing to do.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
