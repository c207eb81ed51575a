"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from shared.db import TRANSIENT_ERRORS
from shared.errors import CrossfeedError

log = structlog.get_logger(__name__)

PROBLEM = "application/problem+json"
# What a client is told to wait when the database is restarting or busy.
RETRY_AFTER_SECONDS = 5


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(CrossfeedError)
    async def _domain(_request: Request, exc: CrossfeedError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type")}
            for err in exc.errors()
        ]
        return problem(422, "Invalid input", "the request does not match the schema", errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        title = {401: "Unauthorized", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
                 413: "Content too large", 429: "Too many requests"}  # fmt: skip
        return problem(
            exc.status_code,
            title.get(exc.status_code, "Error"),
            str(exc.detail) if exc.detail else None,
            headers=dict(exc.headers or {}),
        )

    async def _database_away(request: Request, exc: Exception) -> JSONResponse:
        # A restart or failover of the database: nothing was changed, the client can retry.
        log.warning("database_unavailable", path=request.url.path, error=str(exc)[:300])
        return problem(
            503, "Service unavailable", "the database is not answering; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )  # fmt: skip

    for error in TRANSIENT_ERRORS:
        app.add_exception_handler(error, _database_away)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return problem(500, "Internal error", "something went wrong; the error was logged")
