"""Every input the web app reads has a size limit in its schema.

The app's OpenAPI schema is generated with every route in it (the desk's pages and the WebSub
callbacks too, which the published schema leaves out), and every request body and parameter of
every operation is walked: a string must have maxLength, an array maxItems, an object with free
keys maxProperties, an integer or number both bounds. What is exempt is listed below with why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute

from services.web.app import create_app
from tests.conftest import make_settings

# (where, why). `where` is a location as `unbounded()` names it.
ALLOWED: dict[str, str] = {
    "POST /api/v1/articles/{article_id}/actions/{action} body.at": (
        "an RFC 3339 date-time: pydantic's datetime parser takes only that fixed grammar "
        "(a longer string is refused by it), and the body cap bounds what is read"
    ),
}


def unbounded(schema: dict[str, Any], where: str, components: dict[str, Any],
              seen: frozenset[str] = frozenset()) -> Iterator[str]:  # fmt: skip
    """Locations under `schema` that lack a bound, each with what is missing."""
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:  # recursive models: each visited once per path
            yield from unbounded(components[name], where, components, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            yield from unbounded(option, where, components, seen)
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return
    if kind == "string" and "maxLength" not in schema:
        yield f"{where}: string without maxLength"
    elif kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: array without maxItems"
        yield from unbounded(schema.get("items", {}), f"{where}[]", components, seen)
    elif kind in ("integer", "number"):
        bounds = ("minimum" in schema or "exclusiveMinimum" in schema,
                  "maximum" in schema or "exclusiveMaximum" in schema)  # fmt: skip
        if not all(bounds):
            yield f"{where}: {kind} without minimum and maximum"
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from unbounded(sub, f"{where}.{name}", components, seen)
        extra = schema.get("additionalProperties")
        if extra not in (None, False):
            if "maxProperties" not in schema:
                yield f"{where}: object with free keys without maxProperties"
            if isinstance(extra, dict):
                yield from unbounded(extra, f"{where}.*", components, seen)
            else:
                yield f"{where}.*: values of any type"


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI's include_router wrapper
        if included is not None:
            yield from api_routes(included.routes)


def full_schema(tmp_path: Path) -> dict[str, Any]:
    app = create_app(make_settings(tmp_path))
    for route in api_routes(app.routes):
        route.include_in_schema = True
    app.openapi_schema = None
    return app.openapi()


def inputs(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(location, schema) of every parameter and request body of every operation."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                yield f"{name} {parameter['in']}.{parameter['name']}", parameter["schema"]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                yield f"{name} body", media["schema"]


def test_every_input_of_every_operation_is_bounded(tmp_path: Path) -> None:
    schema = full_schema(tmp_path)
    components = schema.get("components", {}).get("schemas", {})
    walked = list(inputs(schema))
    assert len(walked) > 50  # the walk reaches every operation (53 inputs today)
    missing = [
        problem
        for where, sub in walked
        for problem in unbounded(sub, where, components)
        if problem.split(":", 1)[0] not in ALLOWED
    ]
    assert missing == [], "inputs without a size limit:\n" + "\n".join(missing)


def test_the_allow_list_names_only_inputs_that_exist(tmp_path: Path) -> None:
    schema = full_schema(tmp_path)
    components = schema.get("components", {}).get("schemas", {})
    found = {p.split(":", 1)[0] for w, s in inputs(schema) for p in unbounded(s, w, components)}
    assert set(ALLOWED) <= found, "stale allow-list entries: " + ", ".join(set(ALLOWED) - found)


def test_the_walk_finds_what_is_missing() -> None:
    """The checker itself: each kind of unbounded input is reported."""
    components = {"Item": {"type": "object", "properties": {"tag": {"type": "string"}}}}
    body = {
        "type": "object",
        "properties": {
            "ok": {"type": "string", "maxLength": 5},
            "text": {"type": "string"},
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
            "n": {"type": "integer", "minimum": 0},
            "map": {"type": "object", "additionalProperties": True},
            "state": {"type": "string", "enum": ["a", "b"]},
            "maybe": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 9}, {"type": "null"}]},
        },
    }
    assert list(unbounded(body, "b", components)) == [
        "b.text: string without maxLength",
        "b.items: array without maxItems",
        "b.items[].tag: string without maxLength",
        "b.n: integer without minimum and maximum",
        "b.map: object with free keys without maxProperties",
        "b.map.*: values of any type",
    ]
