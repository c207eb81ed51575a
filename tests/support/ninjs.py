"""The rules of IPTC NINJS 2.1 (https://iptc.org/std/ninjs/) that partner feeds must keep,
written out here as a JSON Schema (draft 2020-12) from the published specification: its
property names (anything else is invalid), types, enumerations, ranges, required members and
formats. IPTC's own schema file (ninjs-schema_2.1.json, CC BY 4.0) is not copied into this
repository; this transcription was last checked against it member by member on 2026-11-25.
Only GeoJSON inside a place is left as any object (IPTC refers to geojson.org's schema)."""

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


_URI = {"type": "string", "format": "uri"}
_PERCENT = {"type": "integer", "minimum": 0, "maximum": 100}
# A contact: a method (type, role, lang, name) with a value or a postal address.
_CONTACTS = {"type": "array", "items": {
    "type": "object", "additionalProperties": False,
    "properties": {
        "type": {"type": "string"}, "role": {"type": "string"}, "lang": {"type": "string"},
        "name": {"type": "string"}, "value": {"type": "string"},
        "address": {"type": "object", "additionalProperties": False, "properties": {
            "lines": {"type": "array", "items": {"type": "string"}},
            "locality": {"type": "string"}, "area": {"type": "string"},
            "postalcode": {"type": "string"}, "country": {"type": "string"}}},
    },
    "oneOf": [{"required": ["value"]}, {"required": ["address"]}],
}}  # fmt: skip


def _concepts(**extra: Any) -> dict[str, Any]:
    """An array of concepts: name, rel, uri, literal, and the kind's own members."""
    properties: dict[str, Any] = {"name": {"type": "string"}, "rel": {"type": "string"},
                                  "uri": _URI, "literal": {"type": "string"}}  # fmt: skip
    properties |= extra
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
        "people": _concepts(contactinfo=_CONTACTS),
        "organisations": _concepts(contactinfo=_CONTACTS, symbols={"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {"ticker": _STRING, "exchange": _STRING, "symboltype": _URI,
                           "symbol": _STRING}}}),
        "places": _concepts(contactinfo=_CONTACTS, geojson={"type": "object"}),
        "subjects": _concepts(creator=_STRING, relevance=_PERCENT, confidence=_PERCENT),
        "events": _concepts(), "objects": _concepts(),
        # Genres name no relationship, and their uri is any string.
        "genres": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {"name": _STRING, "uri": _STRING, "literal": _STRING}}},
        "infosources": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "properties": {"name": _STRING, "role": _STRING, "literal": _STRING,
                           "uri": {"type": "string", "format": "uri"},
                           "contactinfo": _CONTACTS}}},
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
        "rightsinfo": {"type": "object", "properties": {
            "langid": _URI, "linkedrights": _URI, "encodedrights": _STRING},
            "oneOf": [{"required": ["linkedrights"]}, {"required": ["encodedrights"]}]},
    },
}  # fmt: skip


def validate(item: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if `item` is not a valid NINJS 2.1 news item."""
    jsonschema.validate(
        item, NINJS_2_1, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
