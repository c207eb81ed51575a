"""The request body cap: a body larger than the app will ever accept is refused with a 413
problem before it is read (declared by Content-Length), or as soon as it passes the cap
(chunked), so a client cannot make the server buffer gigabytes.

WebSub pushes are feed documents, capped like fetched ones (FETCH_MAX_BYTES); everything else
at WEB_MAX_BODY_BYTES, which the largest valid request (a translation) fits in.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import Settings
from shared.websub import CALLBACK_PREFIX

from .problems import problem


class BodyLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.default = settings.web_max_body_bytes
        self.websub = settings.fetch_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.websub if scope["path"].startswith(CALLBACK_PREFIX) else self.default
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            # Not read at all; the server closes the connection after the answer.
            response = problem(413, "Content too large", _detail(cap))
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:  # a chunked body: stop reading here
                    raise HTTPException(413, _detail(cap), headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)


def _detail(cap: int) -> str:
    return f"the request body is larger than this server accepts ({cap:,} bytes)"
