"""Text the database cannot store is refused where it enters the API (422), not at the INSERT.

JSON may carry `\\u0000` and lone UTF-16 surrogates (`\\ud800`), which Python decodes into a
str; PostgreSQL refuses both (NUL in text and in JSONB, surrogates in UTF-8), and the request
would fail with a 500 deep in a transaction. Found by the API fuzz test. This dependency, on
every /api/v1 route and on the desk's pages, checks the query, the path and a JSON or form body
before the endpoint runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
FORM = "application/x-www-form-urlencoded"
MESSAGE = "holds a character no database text can store (NUL, or half of a UTF-16 pair)"


async def storable_input(request: Request) -> None:
    form: list[tuple[str, str]] = []
    body = b""
    if request.headers.get("content-type", "").startswith(FORM):
        # FastAPI has parsed the form already (the stream is spent): read its parsed copy.
        form = [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    else:
        body = await request.body()
    errors = [
        {"loc": [where, *map(_shown, path)], "msg": MESSAGE, "type": "value_error"}
        for where, path in _unstorable(request, body, form)
    ]
    if errors:
        raise RequestValidationError(errors)


def _shown(part: Any) -> Any:
    """A name in the error's location, itself storable: the bad characters as escapes."""
    if isinstance(part, str):
        return UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", part)
    return part


def _unstorable(
    request: Request, body: bytes, form: list[tuple[str, str]]
) -> Iterator[tuple[str, list[Any]]]:
    for name, value in request.query_params.multi_items():
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            yield "query", [name]
    for name, value in request.path_params.items():
        if isinstance(value, str) and UNSTORABLE.search(value):
            yield "path", [name]
    for name, value in form:
        if UNSTORABLE.search(name) or UNSTORABLE.search(value):
            yield "body", [name]
    if body and (b"\\u" in body or b"\x00" in body):
        try:
            document = json.loads(body)
        except ValueError:
            return  # not JSON: the endpoint's own parsing answers 422
        for path in _walk(document, []):
            yield "body", path


def _walk(value: Any, path: list[Any]) -> Iterator[list[Any]]:
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if UNSTORABLE.search(key):
                yield [*path, key]
            yield from _walk(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, [*path, index])
