"""Valid values of the spec's schemas, built from its examples, for tests."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from weaver_facade._spec_schema import SCHEMA_REF, spec_document

SCHEMAS: Mapping[str, Any] = spec_document()["components"]["schemas"]
# One value of each JSON type, to put where another type belongs.
OF_TYPE: Mapping[str, Any] = {
    "null": None,
    "boolean": True,
    "integer": 7,
    "number": 1.5,
    "string": "x",
    "array": [],
    "object": {},
}

# A string of each format the spec uses, where "x" would break it.
FORMATTED: Mapping[str | None, str] = {
    "date-time": "2026-11-29T10:00:00Z",
    "uuid": "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09",
}


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"][len(SCHEMA_REF) :]]
    return schema


def types(schema: Mapping[str, Any]) -> set[str]:
    """The JSON types a schema allows (``anyOf`` branches included); empty for any type."""
    schema = resolve(schema)
    if "anyOf" in schema:
        branches = [types(b) for b in schema["anyOf"]]
        return set() if not all(branches) else set().union(*branches)
    kind = schema.get("type")
    found = {kind} if isinstance(kind, str) else set(kind or ())
    return found | ({"integer"} if "number" in found else set())  # 7 is a number too


def full(schema: Mapping[str, Any]) -> Any:
    """A valid value of ``schema`` with every optional field present (from the examples)."""
    schema = resolve(schema)
    if "anyOf" in schema:
        branch = next(b for b in schema["anyOf"] if resolve(b).get("type") != "null")
        return full(branch)
    value = copy.deepcopy(schema["example"]) if "example" in schema else None
    if "object" in types(schema) and isinstance(value, dict):
        for name, prop in schema.get("properties", {}).items():
            value[name] = full(prop) if name not in value else fill(prop, value[name])
    return value if value is not None or "null" in types(schema) else full_of_type(schema)


def fill(schema: Mapping[str, Any], value: Any) -> Any:
    """``value`` with the optional fields of its nested objects filled in."""
    schema = resolve(schema)
    if isinstance(value, dict) and "properties" in schema:
        return {
            **full(schema),
            **{k: fill(schema["properties"].get(k, {}), v) for k, v in value.items()},
        }
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [fill(schema["items"], item) for item in value]
    return value


def full_of_type(schema: Mapping[str, Any]) -> Any:
    if "enum" in schema:
        return schema["enum"][0]
    kind = sorted(types(schema) - {"null"})[0]
    if kind == "array":
        return [full(schema["items"])] * max(1, schema.get("minItems", 1))
    if kind == "integer" or kind == "number":
        return schema.get("minimum", 0)
    return FORMATTED.get(schema.get("format"), OF_TYPE[kind])


def every_field(schema: Mapping[str, Any], value: Any = None) -> Any:
    """``value`` (by default the example) with every optional field present and not null,
    in nested objects and array items too."""
    schema = resolve(schema)
    if "anyOf" in schema:
        branch = next(b for b in schema["anyOf"] if resolve(b).get("type") != "null")
        return every_field(branch, value)
    if value is None:
        value = full(schema)
    if value is None:
        value = full_of_type({**schema, "type": sorted(types(schema) - {"null"})})
    if isinstance(value, dict) and "properties" in schema:
        props = schema["properties"]
        return {**value, **{k: every_field(p, value.get(k)) for k, p in props.items()}}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [every_field(schema["items"], item) for item in value or [None]]
    return value


def flipped(value: Any) -> Any:
    """``value`` with every boolean in it inverted."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, dict):
        return {k: flipped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [flipped(v) for v in value]
    return value
