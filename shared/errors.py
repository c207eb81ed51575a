"""Errors the user sees. The API turns them into problem+json, the CLI into a message and exit 1."""

from __future__ import annotations

from typing import Any


class CrossfeedError(Exception):
    """Base of errors caused by the request, not by a bug."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = (
            extra  # more members of the problem document (e.g. the current version)
        )


class NotFound(CrossfeedError):
    status = 404
    title = "Not found"


class Conflict(CrossfeedError):
    status = 409
    title = "Conflict"


class Unauthorized(CrossfeedError):
    status = 401
    title = "Unauthorized"


class Forbidden(CrossfeedError):
    status = 403
    title = "Forbidden"


class Invalid(CrossfeedError):
    status = 422
    title = "Invalid input"
