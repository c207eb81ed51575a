"""Errors the user sees. The API turns them into problem+json, the CLI into a message and exit 1."""

from __future__ import annotations


class CrossfeedError(Exception):
    """Base of errors caused by the request, not by a bug."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(CrossfeedError):
    status = 404
    title = "Not found"


class Conflict(CrossfeedError):
    status = 409
    title = "Conflict"


class Forbidden(CrossfeedError):
    status = 403
    title = "Forbidden"


class Invalid(CrossfeedError):
    status = 422
    title = "Invalid input"
