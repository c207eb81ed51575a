"""The rules of IPTC NINJS 2.1 (https://iptc.org/std/ninjs/) that partner feeds must keep,
written out here as a JSON Schema (draft 2020-12) from the published specification: its
property names (anything else is invalid), types, enumerations, required members and formats.
IPTC's own schema file is not copied into this repository."""

from __future__ import annotations

from typing import Any

import jsonschema


def _text_objects(*extra: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"role": {"type": "string"}, "contenttype": {"type": "string"},
                                  "value": {"type": "string"}}  # fmt: skip
    properties |= {name: {"type": "number"} for name in extra}
    item = {"type": "object", "required": ["value"], "additionalProperties": False,
            "properties": properties}  # fmt: skip
    return {"type": "array", "items": item}


def _concepts(*extra: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {"type": "string"}, "rel": {"type": "string"},
        "uri": {"type": "string", "format": "uri"}, "literal": {"type": "string"},
    }  # fmt: skip
    for name in extra:
        properties[name] = {"type": ["string", "integer", "array", "object"]}
    item = {"type": "object", "additionalProperties": False, "properties": properties}
    return {"type": "array", "items": item}


_DATE = {"type": "string", "format": "date-time"}
_STRING = {"type": "string"}

NINJS_2_1: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["uri"],
    "additionalProperties": False,
    "properties": {
        "uri": {"type": "string", "format": "uri"},
        "type": {"enum": ["text", "audio", "video", "picture", "graphic", "composite",
                          "component"]},
        "representationtype": {"enum": ["full", "partial"]},
        "profile": _STRING, "version": _STRING,
        "firstcreated": _DATE, "versioncreated": _DATE, "contentcreated": _DATE,
        "embargoed": _DATE, "expires": _DATE,
        "pubstatus": {"enum": ["usable", "withheld", "canceled"]},
        "urgency": {"type": "integer", "minimum": 1, "maximum": 9},
        "copyrightholder": _STRING, "copyrightnotice": _STRING, "usageterms": _STRING,
        "ednote": _STRING, "language": _STRING, "title": _STRING, "by": _STRING,
        "slugline": _STRING, "located": _STRING,
        "descriptions": _text_objects(),
        "bodies": _text_objects("charcount", "wordcount"),
        "headlines": _text_objects(),
        "people": _concepts("contactinfo"),
        "organisations": _concepts("symbols", "contactinfo"),
        "places": _concepts("contactinfo", "geojson"),
        "subjects": _concepts("creator", "relevance", "confidence"),
        "events": _concepts(), "objects": _concepts(),
        "genres": _concepts(),
        "infosources": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {"name": _STRING, "role": _STRING, "literal": _STRING,
                           "uri": {"type": "string", "format": "uri"},
                           "contactinfo": {"type": "array"}}}},
        "renditions": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name"],
            "properties": {"name": _STRING, "href": {"type": "string", "format": "uri"},
                           "contenttype": _STRING, "title": _STRING, "height": {"type": "number"},
                           "width": {"type": "number"}, "sizeinbytes": {"type": "number"},
                           "duration": {"type": "number"}, "format": _STRING}}},
        "associations": {"type": "array", "items": {"type": "object",
                                                    "required": ["name", "uri"]}},
        "altids": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {"role": _STRING, "value": _STRING}}},
        "trustindicators": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {"role": {"type": "string", "format": "uri"}, "title": _STRING,
                           "href": {"type": "string", "format": "uri"}}}},
        "standard": {"type": "object", "additionalProperties": False,
                     "properties": {"name": _STRING, "version": _STRING,
                                    "schema": {"type": "string", "format": "uri"}}},
        "rightsinfo": {"type": "object"},
    },
}  # fmt: skip


def validate(item: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if `item` is not a valid NINJS 2.1 news item."""
    jsonschema.validate(
        item, NINJS_2_1, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
