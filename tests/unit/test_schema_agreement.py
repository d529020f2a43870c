"""``_schema.explain`` names the same failing field as the shared jsonschema validator.

Two independent readings of the spec: the facade's dependency-free walker over
``weaver_client.schemas`` and jsonschema over ``openapi.yaml`` (``_spec_schema``).
Every reply schema of the spec gets a value with every optional field filled in,
then one defect at a time at every place of it: a wrong type, a missing required
field, a value outside an enum, a pattern, a length, a bound or an item count, or a
bad format, in nested objects and array items too. Both must name the same field,
and it must be the one the defect was put into.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.support.spec_values import OF_TYPE, SCHEMAS, full, resolve, types
from weaver_facade._result_shape import result_schemas
from weaver_facade._schema import explain
from weaver_facade._spec_schema import (
    SCHEMA_REF,
    best_error,
    field_parts,
    field_path,
    spec_document,
    spec_schemas,
)

DOC = spec_document()
Path = tuple[str | int, ...]
MISSING = object()


def reply_schemas() -> list[str]:
    """Every component schema the spec's routes reply with, and every operation result."""
    responses = DOC["components"].get("responses", {})
    names = set(result_schemas(DOC["components"]["schemas"]).values())
    for item in DOC["paths"].values():
        for op in item.values():
            for reply in op.get("responses", {}).values() if isinstance(op, Mapping) else ():
                reply = responses.get(str(reply.get("$ref", "")).rsplit("/", 1)[-1], reply)
                schema = reply.get("content", {}).get("application/json", {}).get("schema", {})
                if str(schema.get("$ref", "")).startswith(SCHEMA_REF):
                    names.add(schema["$ref"][len(SCHEMA_REF) :])
    return sorted(names)


# No reply bounds an item count (the wire leaves batch and sequence sizes to the server),
# so a request schema that does stands in for that kind of defect.
CHECKED = [*reply_schemas(), "CreateSessionRequest"]


def defects(
    schema: Mapping[str, Any], value: Any, path: Path, *, typed: bool = True
) -> Iterator[tuple[Path, Any, str]]:
    """(the field, its broken value or ``MISSING``, what is wrong) at ``path`` and below."""
    schema = resolve(schema)
    allowed = types(schema)
    if allowed and typed:
        yield path, next(v for t, v in OF_TYPE.items() if t not in allowed), "type"
    if "anyOf" in schema:
        # The branch the value takes: a wrong type was tried against all of them above.
        branch = next(b for b in schema["anyOf"] if resolve(b).get("type") != "null")
        if value is not None:
            yield from defects(branch, value, path, typed=False)
        return
    if "enum" in schema:
        yield path, "not-in-the-enum", "enum"
    if isinstance(value, str):
        yield from string_defects(schema, value, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield from number_defects(schema, value, path)
    elif isinstance(value, dict):
        for name in schema.get("required", ()):
            yield (*path, name), MISSING, "required"
        for name, item in value.items():
            prop = schema.get("properties", {}).get(name, schema.get("additionalProperties"))
            if isinstance(prop, Mapping):
                yield from defects(prop, item, (*path, name))
    elif isinstance(value, list):
        if schema.get("minItems", 0) > 0:
            yield path, value[: schema["minItems"] - 1], "minItems"
        if "maxItems" in schema and value:
            yield path, value * (schema["maxItems"] + 1), "maxItems"
        for i, item in enumerate(value):
            yield from defects(schema["items"], item, (*path, i))


def string_defects(
    schema: Mapping[str, Any], value: str, path: Path
) -> Iterator[tuple[Path, Any, str]]:
    if "pattern" in schema:
        yield path, "/no match: " + value, "pattern"  # "/": even a wide name refuses it
        if not re.fullmatch(schema["pattern"], value + "\n"):  # a name may hold a newline
            yield path, value + "\n", "pattern"  # only a whole-string match refuses it
    if schema.get("minLength", 0) > 0:
        yield path, "", "minLength"
    if "maxLength" in schema:
        yield path, "x" * (schema["maxLength"] + 1), "maxLength"
    if schema.get("format") in ("uuid", "date-time"):
        yield path, "not a " + schema["format"], "format"


def number_defects(
    schema: Mapping[str, Any], value: float, path: Path
) -> Iterator[tuple[Path, Any, str]]:
    step = 1 if "integer" in (schema.get("type") or ()) else 0.5
    if step == 1:
        yield path, value + 0.5, "type"  # JSON has one number type; the schema asks for more
    if "minimum" in schema:
        yield path, schema["minimum"] - step, "minimum"
    if "maximum" in schema:
        yield path, schema["maximum"] + step, "maximum"
    if "exclusiveMinimum" in schema:
        yield path, schema["exclusiveMinimum"], "exclusiveMinimum"
    if "exclusiveMaximum" in schema:
        yield path, schema["exclusiveMaximum"], "exclusiveMaximum"


def broken(value: Any, path: Path, new: Any) -> Any:
    """A copy of ``value`` with the field at ``path`` replaced by ``new`` (or removed)."""
    if not path:
        return new
    out = copy.copy(value)
    head, rest = path[0], path[1:]
    if rest:
        out[head] = broken(value[head], rest, new)
    elif new is MISSING:
        del out[head]
    else:
        out[head] = new
    return out


def jsonschema_field(name: str, value: Any) -> str | None:
    validator = spec_schemas().component(name, formats=True)
    error = best_error(validator.iter_errors(value))
    return None if error is None else field_path("", field_parts(error))


@pytest.mark.parametrize("name", CHECKED)
def test_explain_names_the_field_jsonschema_names(name: str) -> None:
    valid = full(SCHEMAS[name])
    assert jsonschema_field(name, valid) is None, valid
    assert explain(name, valid) is None
    compared: dict[str, int] = {}
    for path, new, what in defects(SCHEMAS[name], valid, ()):
        value = broken(valid, path, new)
        expected = field_path("", path)
        problem = explain(name, value)
        assert problem is not None, (what, expected, value)
        assert (problem.field, jsonschema_field(name, value)) == (expected, expected), what
        compared[what] = compared.get(what, 0) + 1
    assert compared.get("type", 0) >= 2, compared


def test_every_kind_of_defect_is_tried() -> None:
    tried: set[str] = set()
    for name in CHECKED:
        tried |= {what for *_, what in defects(SCHEMAS[name], full(SCHEMAS[name]), ())}
    assert tried >= {
        "type",
        "required",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "maxItems",
        "format",
    }, tried
