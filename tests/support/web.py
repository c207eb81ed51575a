"""The real web app served by uvicorn on 127.0.0.1 in a thread, for API tests."""

from __future__ import annotations

import socket
import threading
from typing import Any

import requests
import uvicorn

from services.web.app import create_server
from shared.settings import Settings
from tests.support.api import Api
from tests.support.wait import wait_for


def listening_socket() -> socket.socket:
    """A socket bound to a free port on 127.0.0.1, to know the port before the settings."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class WebServer:
    def __init__(self, settings: Settings, sock: socket.socket | None = None) -> None:
        self.sock = sock or listening_socket()
        self.port = int(self.sock.getsockname()[1])
        self.app = create_server(settings)
        config = uvicorn.Config(self.app, log_config=None, lifespan="off", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WebServer:
        self.thread.start()
        wait_for(lambda: self.server.started, timeout=15, what="uvicorn to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    @property
    def api(self) -> Api:
        return Api(self.url)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.api.get(path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.api.post(path, token, **kwargs)

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        return self.api.request(method, path, token, **kwargs)
