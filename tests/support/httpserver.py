"""A real HTTP server on 127.0.0.1 whose answers a test scripts per path."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Send the body in pieces with a pause between them (a slow or dripping server).
    chunk_size: int = 0
    chunk_delay: float = 0.0
    # Hold the connection this long before answering at all (a hanging server).
    delay: float = 0.0
    # No Content-Length: the body ends when the server closes the connection.
    close_delimited: bool = False
    # A body made as it is sent (one as large as a gibibyte, never held in memory): a
    # function giving its pieces, and the Content-Length to announce (None: close-delimited).
    stream: Callable[[], Iterator[bytes]] | None = None
    stream_length: int | None = None


Route = Reply | Callable[["Request"], Reply]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _QuietServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that give up (as the deadline tests make them) are expected


class LocalServer:
    """Serve scripted replies; record every request. On 127.0.0.1 unless told another
    loopback address (127.0.0.2, ::1)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self.httpd = _QuietServer((host, 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def host_port(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.host_port}{path}"

    def route(self, path: str, reply: Route) -> None:
        self.routes[path] = reply

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> LocalServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, self.path, dict(self.headers.items()), body)
                with server._lock:
                    server.requests.append(request)
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    reply = Reply(404, b"not found")
                elif callable(route):
                    reply = route(request)
                else:
                    reply = route
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                if reply.close_delimited or (reply.stream and reply.stream_length is None):
                    headers = {"Connection": "close", **reply.headers}
                    self.close_connection = True
                elif reply.stream:
                    headers = {"Content-Length": str(reply.stream_length), **reply.headers}
                else:
                    headers = {"Content-Length": str(len(reply.body)), **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command == "HEAD" or reply.status == 304:
                    return
                try:
                    if reply.stream:
                        for piece in reply.stream():
                            self.wfile.write(piece)
                    elif reply.chunk_size:
                        for start in range(0, len(reply.body), reply.chunk_size):
                            self.wfile.write(reply.body[start : start + reply.chunk_size])
                            self.wfile.flush()
                            time.sleep(reply.chunk_delay)
                    else:
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should with a slow server

            do_GET = do_POST = do_HEAD = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
