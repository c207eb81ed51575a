"""A small client of the Crossfeed API for tests: base URL, optional bearer token."""

from __future__ import annotations

from typing import Any

import requests


class Api:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = requests.Session()

    def with_token(self, token: str) -> Api:
        return Api(self.base_url, token)

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        bearer = token or self.token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.base_url + path, headers=headers, **kwargs)

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, token, **kwargs)

    def post(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, token, **kwargs)

    def ready(self) -> bool:
        try:
            return self.get("/readyz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False
