"""urllib3 connections that connect through the AddressGuard and report their sockets to the
request's deadline. Everything else is urllib3 and requests as they are."""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from shared.http import deadline
from shared.http.addresses import AddressGuard
from shared.http.errors import FetchError


def _guarded_pool(
    base: type[HTTPConnectionPool], conn: type[HTTPConnection], guard: AddressGuard
) -> Any:
    class GuardedConnection(conn):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            timeout = self.timeout if isinstance(self.timeout, int | float) else 10.0
            current = deadline.current()
            if current is not None:
                timeout = min(timeout, max(current.remaining(), 0.001))
            try:
                sock = guard.connect(
                    self._dns_host, self.port, timeout, socket_options=self.socket_options
                )
            except FetchError:
                raise
            except TimeoutError as exc:
                raise FetchError(f"connect to {self.host}:{self.port} timed out") from exc
            except OSError as exc:
                raise FetchError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
            if current is not None:
                current.watch(sock)
            return sock

        # A kept-alive connection was registered by an earlier request: register it again.
        def request(self, *args: Any, **kwargs: Any) -> Any:
            _watch(self.sock)
            return super().request(*args, **kwargs)

        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            _watch(self.sock)
            return super().getresponse(*args, **kwargs)

    class GuardedPool(base):  # type: ignore[valid-type,misc]
        ConnectionCls = GuardedConnection

    return GuardedPool


def _watch(sock: socket.socket | None) -> None:
    current = deadline.current()
    if current is not None:
        current.watch(sock)


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections go through an AddressGuard."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _guarded_pool(HTTPConnectionPool, HTTPConnection, self.guard),
            "https": _guarded_pool(HTTPSConnectionPool, HTTPSConnection, self.guard),
        }
