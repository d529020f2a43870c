"""Why a JSON value breaks a schema of openapi.yaml: the first offending field, in words.

Generated models check little (required keys, enums, UUIDs, date-times) and say it
in the words of whatever refused the value. When one refuses a reply, or a converter
finds a value of the wrong type, ``explain`` walks the spec's own schema (the data
module ``weaver_client.schemas``, written by ``scripts/regenerate``) and names the
field. Unknown fields are no problem: replies may grow.
"""

from __future__ import annotations

import datetime
import functools
import json
import operator
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from ._extensions import WITHOUT, field_marker
from ._result_shape import stand_ins

_TYPES: Mapping[str, tuple[str, Any]] = {
    "string": ("a string", str),
    "integer": ("an integer", int),
    "number": ("a number", int | float),
    "boolean": ("a boolean", bool),
    "object": ("an object", Mapping),
    "array": ("an array", list),
    "null": ("null", type(None)),
}
#: A JSON type with its article, in the words of both validators (``_spec_schema``).
ARTICLES = {name: article for name, (article, _) in _TYPES.items()}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Problem(NamedTuple):
    """The first field of a value that breaks its schema.

    Attributes:
        field: Its path, such as ``items[1].type``.
        message: A sentence about it, such as ``field `type`: ...`` or
            ``items[1]: required field `type` missing (got `checkpoint_type`)``.
    """

    field: str
    message: str


def json_type(value: object) -> str:
    """The JSON type of a value, with its article: ``a string``, ``null``."""
    for name, kind in _TYPES.values():
        if name != "an integer" and _is(value, kind):
            return name
    return type(value).__name__


def _is(value: object, kind: Any) -> bool:
    # JSON true is not a number, although Python's bool is an int.
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


@functools.cache
def _schemas() -> Mapping[str, Any]:
    from weaver_client.schemas import SCHEMAS  # only ever needed for a bad reply

    return SCHEMAS


def explain(schema: str, value: object) -> Problem | None:
    """The first problem of ``value`` against the spec's schema ``schema``, if any."""
    found = _schemas().get(schema)
    return None if found is None else next(_problems(found, value, "", schema), None)


def unpromised(schema: str) -> frozenset[str]:
    """The fields of ``schema`` the real service does not promise: those outside its
    ``x-weaver-promised`` list (when it has one), and those of an extension (marked on
    the field or on the schema it names)."""
    found = _schemas().get(schema, {})
    promised = found.get("x-weaver-promised")
    return frozenset(
        key
        for key, field in found.get("properties", {}).items()
        if (promised is not None and key not in promised)
        or field_marker(field, _schemas()) is not None
    )


def own_meaning(schema: str, field: str, value: object) -> bool:
    """Whether ``value`` of ``schema``'s extension field ``field`` is one the spec lets a
    server without the extension send with a meaning of its own (the field's
    ``x-weaver-without-extension``: the wire sheet's rules on it)."""
    prop = _schemas().get(schema, {}).get("properties", {}).get(field, {})
    rule = prop.get(WITHOUT)
    if not isinstance(rule, Mapping):
        return False
    return next(_problems(rule, value, "", field), None) is None


def without_unpromised(
    schema: str, value: Mapping[str, Any]
) -> tuple[dict[str, Any], tuple[Problem, ...]]:
    """``value`` without its unpromised fields (``unpromised``) whose values break the
    schema, and the problem of each field left out; a server may send such a field with
    a meaning of its own, as a server without the extension would leave it out."""
    kept, dropped = dict(value), []
    leavable = unpromised(schema)
    while (problem := explain(schema, kept)) is not None and problem.field in leavable:
        if problem.field not in kept:  # missing: leaving it out is no cure
            break
        del kept[problem.field]
        dropped.append(problem)
    return kept, tuple(dropped)


class AbsentNull(NamedTuple):
    """A field that ``schema`` requires but lets be null, absent from a value.

    Attributes:
        schema: The schema whose field it is, such as ``Checkpoint``.
        name: The field's name, such as ``ttl_seconds``.
        field: Its path in the value, such as ``items[0].ttl_seconds``.
    """

    schema: str
    name: str
    field: str


def with_absent_nulls(schema: str, value: object) -> tuple[Any, tuple[AbsentNull, ...]]:
    """``value`` with null for each field absent from it, at any depth, that its schema
    requires but lets be null, and each such field; a server may leave a null out,
    and the field then means what null means."""
    found = _schemas().get(schema)
    filled: list[AbsentNull] = []
    if found is not None:
        value = _fill_nulls(found, value, "", schema, filled)
    return value, tuple(filled)


def _fill_nulls(
    schema: Mapping[str, Any], value: Any, path: str, name: str, filled: list[AbsentNull]
) -> Any:
    schema, name = _resolve(schema, name)
    if isinstance(value, list) and "items" in schema:
        items = schema["items"]
        return [_fill_nulls(items, v, field_at(path, i), name, filled) for i, v in enumerate(value)]
    if not isinstance(value, Mapping) or not _fits(schema, value):
        return value  # nor does it look into the forms of an anyOf
    properties: Mapping[str, Any] = schema.get("properties", {})
    others = schema.get("additionalProperties")
    kept: dict[str, Any] = {}
    for key, item in value.items():
        inner = properties.get(key, others if isinstance(others, Mapping) else None)
        kept[key] = (
            item if inner is None else _fill_nulls(inner, item, field_at(path, key), key, filled)
        )
    for key in schema.get("required", []):
        if key not in kept and key in properties and _admits_null(properties[key]):
            kept[key] = None
            filled.append(AbsentNull(name, key, field_at(path, key)))
    return kept


def with_upper_date_times(schema: str, value: object) -> Any:
    """``value`` with each date-time its schema has, at any depth, in upper case: RFC 3339
    lets a date-time's ``T`` and ``Z`` be lowercase (section 5.6), and the generated models'
    ``datetime.fromisoformat`` refuses a ``z``. Only schemas that hold one are walked."""
    return _upper(_schemas()[schema], value) if schema in _dated() else value


def _upper(schema: Mapping[str, Any], value: Any) -> Any:
    if "$ref" in schema:
        found, name = _resolve(schema)
        return _upper(found, value) if name in _dated() else value
    if isinstance(value, str) and schema.get("format") == "date-time":
        upper = value.upper()  # unless it is no date-time at all: an error quotes it
        return (
            upper if upper != value and _parses(datetime.datetime.fromisoformat, upper) else value
        )
    if isinstance(value, list) and "items" in schema:
        return [_upper(schema["items"], v) for v in value]
    if isinstance(value, Mapping) and "properties" in schema:
        fields = schema["properties"]
        return {k: _upper(fields[k], v) if k in fields else v for k, v in value.items()}
    return value


@functools.cache
def _dated() -> frozenset[str]:
    """The spec's schemas with a date-time at any depth."""
    texts = {name: json.dumps(found) for name, found in _schemas().items()}
    dated = {name for name, text in texts.items() if '"date-time"' in text}
    while more := {
        n for n, t in texts.items() if n not in dated and any(f'/{d}"' in t for d in dated)
    }:
        dated |= more
    return frozenset(dated)


def _admits_null(schema: Mapping[str, Any]) -> bool:
    schema = _resolve(schema)[0]
    forms = schema.get("anyOf", schema.get("oneOf", []))
    return "null" in _types(schema) or any(_admits_null(f) for f in forms)


def field_at(path: str, part: str | int) -> str:
    """``path``'s ``part`` (a key or an index), for people: ``a[0]``, ``a.b``, ``a["x:y"]``."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    if not _IDENT.fullmatch(part):
        return f"{path}[{json.dumps(part)}]"
    return f"{path}.{part}" if path else part


# In order; every caller reads only the first.
def _problems(schema: Mapping[str, Any], value: Any, path: str, name: str) -> Iterator[Problem]:
    def bad(text: str) -> Problem:
        return Problem(path, f"field `{path}`: {text}" if path else text)

    schema, name = _resolve(schema, name)
    if "anyOf" in schema or "oneOf" in schema:
        forms = [_resolve(f)[0] for f in schema.get("anyOf", schema.get("oneOf", []))]
        fitting = [f for f in forms if _fits(f, value)]
        if not fitting:
            wanted = " or ".join(ARTICLES[t] for f in forms for t in _types(f) if t in ARTICLES)
            yield bad(f"expected {wanted or 'another form'}, got {json_type(value)}")
        else:
            found = [next(_problems(f, value, path, name), None) for f in fitting]
            first = found[0]
            if first is not None and all(found):
                yield first if len(fitting) == 1 else bad("does not match any allowed form")
    elif not _fits(schema, value):
        wanted = " or ".join(ARTICLES.get(t, t) for t in _types(schema))
        yield bad(f"expected {wanted}, got {json_type(value)}")
    elif "not" in schema and next(_problems(schema["not"], value, path, name), None) is None:
        yield bad(f"{value!r} is a value {name or 'it'} may not take")
    elif "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(sorted(str(v) for v in schema["enum"]))
        yield bad(f"{value!r} is not a valid {name} (expected one of: {choices})")
    elif "const" in schema and value != schema["const"]:
        yield bad(f"expected {schema['const']!r}, got {value!r}")
    elif isinstance(value, str):
        yield from _string_problems(schema, value, bad)
    elif _is(value, int | float):
        yield from _number_problems(schema, value, bad)
    elif isinstance(value, Mapping):
        yield from _object_problems(schema, value, path)
    elif isinstance(value, list):
        yield from _array_problems(schema, value, path, name, bad)


def _resolve(schema: Mapping[str, Any], name: str = "") -> tuple[Mapping[str, Any], str]:
    """The schema ``schema`` refers to, and its name (else ``schema`` and ``name``)."""
    while "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        schema = _schemas()[name]
    return schema, name


def _types(schema: Mapping[str, Any]) -> list[str]:
    types = schema.get("type")
    return [] if types is None else [types] if isinstance(types, str) else list(types)


def _fits(schema: Mapping[str, Any], value: object) -> bool:
    """Whether ``value`` has one of the schema's types (any, when it names none)."""
    types = _types(schema)
    return not types or any(_is(value, _TYPES[t][1]) for t in types if t in _TYPES)


def _string_problems(schema: Mapping[str, Any], value: str, bad: Any) -> Iterator[Problem]:
    kind = schema.get("format")
    if kind == "uuid" and not _parses(uuid.UUID, value):
        yield bad(f"{value!r} is not a UUID")
    elif kind == "date-time" and not _parses(datetime.datetime.fromisoformat, value.upper()):
        yield bad(f"{value!r} is not a date-time (RFC 3339)")
    elif "pattern" in schema and re.fullmatch(schema["pattern"], value) is None:
        yield bad(f"{value!r} does not match {schema['pattern']}")
    elif len(value) < schema.get("minLength", 0):
        yield bad(f"{value!r} is shorter than {schema['minLength']} characters")
    elif len(value) > schema.get("maxLength", len(value)):
        yield bad(f"is {len(value)} characters long; at most {schema['maxLength']} are allowed")


def _parses(parse: Any, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


# The spec's bound keywords, each as the comparison ``value OP bound`` that must hold.
BOUNDS: tuple[tuple[str, Callable[[Any, Any], bool], str], ...] = (
    ("minimum", operator.ge, ">="),
    ("exclusiveMinimum", operator.gt, ">"),
    ("maximum", operator.le, "<="),
    ("exclusiveMaximum", operator.lt, "<"),
)


def _number_problems(schema: Mapping[str, Any], value: float, bad: Any) -> Iterator[Problem]:
    for keyword, holds, words in BOUNDS:
        if keyword in schema and not holds(value, schema[keyword]):
            yield bad(f"{value!r} is not {words} {schema[keyword]}")


def _object_problems(
    schema: Mapping[str, Any], value: Mapping[str, Any], path: str
) -> Iterator[Problem]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    for required in schema.get("required", []):
        if required not in value:
            # Only the unknown fields that may stand for it: replies may grow.
            extra = [f"`{k}`" for k in stand_ins([required], value, properties)]
            got = f" (got {', '.join(extra)})" if extra else ""
            text = f"required field `{required}` missing{got}"
            yield Problem(field_at(path, required), f"{path}: {text}" if path else text)
    others = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            yield from _problems(properties[key], item, field_at(path, key), key)
        elif isinstance(others, Mapping):
            yield from _problems(others, item, field_at(path, key), key)


def _array_problems(
    schema: Mapping[str, Any], value: list[Any], path: str, name: str, bad: Any
) -> Iterator[Problem]:
    if len(value) < schema.get("minItems", 0):
        yield bad(f"has {len(value)} items; at least {schema['minItems']} are required")
    elif len(value) > schema.get("maxItems", len(value)):
        yield bad(f"has {len(value)} items; at most {schema['maxItems']} are allowed")
    elif "items" in schema:
        for i, item in enumerate(value):
            yield from _problems(schema["items"], item, field_at(path, i), name)
