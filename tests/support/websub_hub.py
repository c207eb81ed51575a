"""A WebSub hub on 127.0.0.1 speaking the W3C protocol, for the subscriber's tests.

It takes form-encoded subscription requests (202), verifies intent with a GET carrying a
challenge to the callback, and publishes content to verified subscribers with X-Hub-Signature.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import parse_qs

import requests

from tests.support.httpserver import LocalServer, Reply, Request


@dataclass
class Subscription:
    topic: str
    callback: str
    secret: str
    lease_seconds: int
    verified: bool = False


class Hub:
    def __init__(self) -> None:
        self.server = LocalServer()
        self.server.route("/hub", self._subscribe)
        self.subscriptions: dict[str, Subscription] = {}  # by topic
        self.requests: list[dict[str, str]] = []
        self.refuse_with: int | None = None  # answer subscription requests with this status
        self.http = requests.Session()

    @property
    def url(self) -> str:
        return self.server.url("/hub")

    @property
    def host_port(self) -> str:
        return self.server.host_port

    def start(self) -> Hub:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self.http.close()

    def _subscribe(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        self.requests.append(form)
        if self.refuse_with:
            return Reply(self.refuse_with, b"no")
        subscription = Subscription(
            form["hub.topic"], form["hub.callback"], form.get("hub.secret", ""),
            int(form.get("hub.lease_seconds", "86400")),
        )  # fmt: skip
        threading.Thread(target=self._verify, args=(subscription,), daemon=True).start()
        return Reply(202)

    def _verify(self, subscription: Subscription) -> None:
        challenge = secrets.token_hex(16)
        answer = self.http.get(
            subscription.callback,
            params={
                "hub.mode": "subscribe",
                "hub.topic": subscription.topic,
                "hub.challenge": challenge,
                "hub.lease_seconds": str(subscription.lease_seconds),
            },
            timeout=10,
        )
        subscription.verified = answer.status_code == 200 and answer.text == challenge
        if subscription.verified:
            self.subscriptions[subscription.topic] = subscription

    def deny(self, topic: str, callback: str, reason: str) -> int:
        answer = self.http.get(
            callback,
            params={"hub.mode": "denied", "hub.topic": topic, "hub.reason": reason},
            timeout=10,
        )
        return answer.status_code

    def publish(self, topic: str, body: bytes, secret: str | None = None) -> int:
        """POST content to the topic's subscriber; `secret` overrides the one it gave us."""
        subscription = self.subscriptions[topic]
        key = (secret if secret is not None else subscription.secret).encode()
        signature = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        answer = self.http.post(
            subscription.callback,
            data=body,
            headers={
                "Content-Type": "application/rss+xml",
                "X-Hub-Signature": signature,
                "Link": f'<{self.url}>; rel="hub", <{topic}>; rel="self"',
            },
            timeout=10,
        )
        return answer.status_code
