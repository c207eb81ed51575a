"""WebSub callbacks: hubs verify our subscriptions here and push new content here.

The path carries each source's unguessable token; content must also carry the HMAC signature
of the secret we gave the hub. The protocol logic is shared.websub; this only speaks HTTP.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from shared.uow import UnitOfWork
from shared.websub import receive_content, verify_intent

router = APIRouter(include_in_schema=False)
Token = Annotated[str, Path(max_length=64)]  # shared.websub gives out 43 characters


@router.get("/websub/{token}")
def verify(token: Token, request: Request) -> Response:
    # A GET that writes (the subscription's state): its own writing unit of work.
    with UnitOfWork(request.app.state.database) as uow:
        status, body = verify_intent(uow, token, dict(request.query_params))
        uow.commit()
    return PlainTextResponse(body, status_code=status)


@router.post("/websub/{token}")
async def content(token: Token, request: Request) -> Response:
    settings = request.app.state.settings
    cap = settings.fetch_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return PlainTextResponse("too large", status_code=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return PlainTextResponse("too large", status_code=413)
        chunks.append(chunk)
    body = b"".join(chunks)

    def store() -> int:
        with UnitOfWork(request.app.state.database) as uow:
            status = receive_content(
                uow,
                settings,
                token,
                body,
                request.headers.get("content-type"),
                request.headers.get("x-hub-signature"),
            )
            uow.commit()
        return status

    return Response(status_code=await run_in_threadpool(store))
