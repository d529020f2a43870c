"""Request validation against openapi.yaml, with messages that name the field.

Bodies are checked with JSON Schema 2020-12 against the spec's own component
schemas, so the emulator and the contract cannot drift apart. Patterns must
match the whole string (``re.fullmatch``): JSON Schema's ``pattern`` is a
search, and Python's ``$`` also matches before a trailing newline.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ._errors import invalid
from ._spec import spec_document

__all__ = [
    "RESOURCE_ID",
    "check_body",
    "check_checkpoint_id",
    "check_idempotency_key",
    "check_resource_id",
    "parse_json",
    "query_int",
    "query_number",
    "query_pattern",
]

_SPEC_URI = "urn:weaver:openapi"


def _pattern_fullmatch(
    validator: Any, patrn: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.exceptions.ValidationError]:
    if validator.is_type(instance, "string") and _compiled(patrn).fullmatch(instance) is None:
        yield jsonschema.exceptions.ValidationError(f"must match {patrn}")


@functools.cache
def _compiled(patrn: str) -> re.Pattern[str]:
    return re.compile(patrn)


_Validator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, validators={"pattern": _pattern_fullmatch}
)


@functools.cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(
        spec_document(), default_specification=DRAFT202012
    )
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


@functools.cache
def _validator(schema_name: str) -> Any:
    if schema_name not in spec_document()["components"]["schemas"]:
        raise KeyError(schema_name)
    ref = {"$ref": f"{_SPEC_URI}#/components/schemas/{schema_name}"}
    return _Validator(ref, registry=_registry())


def _schema_pattern(schema_name: str) -> re.Pattern[str]:
    return _compiled(spec_document()["components"]["schemas"][schema_name]["pattern"])


RESOURCE_ID = _schema_pattern("ResourceId")
_IDEMPOTENCY_KEY = _compiled(
    spec_document()["components"]["parameters"]["IdempotencyKey"]["schema"]["pattern"]
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def field_path(root: str, parts: Iterable[str | int]) -> str:
    out = root
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT.fullmatch(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _describe_types(types: Any) -> str:
    names = {
        "integer": "an integer",
        "number": "a number",
        "string": "a string",
        "boolean": "a boolean",
        "object": "an object",
        "array": "an array",
        "null": "null",
    }
    seq = [types] if isinstance(types, str) else list(types)
    return " or ".join(names.get(t, t) for t in seq)


def _problem(error: jsonschema.exceptions.ValidationError) -> tuple[list[str | int], str]:
    """(path of the offending field, what is wrong with it)."""
    path: list[str | int] = list(error.absolute_path)
    kind: Any = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if kind == "required" and isinstance(instance, Mapping):
        missing = next(name for name in value if name not in instance)
        return [*path, missing], "is required"
    if kind == "additionalProperties" and isinstance(instance, Mapping):
        known = set(schema.get("properties", {}))
        extra = sorted(name for name in instance if name not in known)
        if extra:
            return [*path, extra[0]], "is not a known field"
    if kind == "type" and value == "integer" and isinstance(instance, int | float):
        minimum = schema.get("minimum")
        return path, "must be an integer" + (f" >= {minimum}" if minimum is not None else "")
    if kind == "minimum" and schema.get("type") == "integer":
        return path, f"must be an integer >= {value}"
    return path, _message(str(kind), value) or error.message[:200]


def _message(kind: str, value: Any) -> str | None:
    if kind == "type":
        return f"must be {_describe_types(value)}"
    if kind == "enum" and isinstance(value, list):
        return "must be one of " + ", ".join(json.dumps(v) for v in value)
    if kind == "const":
        return f"must be {json.dumps(value)}"
    templates = {
        "minimum": "must be >= {}",
        "maximum": "must be <= {}",
        "exclusiveMinimum": "must be > {}",
        "exclusiveMaximum": "must be < {}",
        "minLength": "must be at least {} characters long",
        "maxLength": "must be at most {} characters long",
        "minItems": "must have at least {} items",
        "maxItems": "must have at most {} items",
        "minProperties": "must have at least {} entries",
        "maxProperties": "must have at most {} entries",
        "pattern": "must match {}",
        "anyOf": "does not match any allowed form",
        "oneOf": "does not match exactly one allowed form",
    }
    template = templates.get(kind)
    return template.format(value) if template is not None else None


@functools.cache
def _fast_validator(schema_name: str) -> Any | None:
    """A compiled (Rust) validator of the same schema, or None without jsonschema_rs.

    The pure-Python validator walks every token of a request: a 65,536-token
    forward-backward body took 1.4 s, on the event loop, holding up every other
    request. This one answers the common question (valid?) in milliseconds;
    the Python one still explains a refusal, naming the field. Every pattern of
    the spec is anchored (``^...$``), and in this regex dialect ``$`` matches
    only at the very end, so both validators match whole strings.
    """
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - the emulator extra installs it
        return None
    document = spec_document()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{schema_name}",
        "components": document["components"],
    }
    return jsonschema_rs.Draft202012Validator(schema)


def check_body(schema_name: str, body: Any) -> None:
    """Raise a 400 naming the first offending field when ``body`` breaks the schema."""
    fast = _fast_validator(schema_name)
    if fast is not None:
        try:
            if fast.is_valid(body):
                return
        except (ValueError, TypeError, OverflowError):  # a value it cannot take: ask Python
            pass
    error = jsonschema.exceptions.best_match(_validator(schema_name).iter_errors(body))
    if error is None:
        return
    path, problem = _problem(error)
    raise invalid(field_path("body", path), problem)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, *, required: bool) -> Any:
    """Parse a request body strictly: UTF-8, no NaN/Infinity, no trailing garbage."""
    if not raw.strip():
        if required:
            raise invalid("body", "is required")
        return None
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise invalid("body", "is not valid JSON") from exc


def check_resource_id(field: str, value: str) -> str:
    if RESOURCE_ID.fullmatch(value) is None:
        raise invalid(field, f"must match {RESOURCE_ID.pattern}")
    return value


def check_checkpoint_id(field: str, value: str) -> str:
    if _UUID.fullmatch(value) is None:
        raise invalid(field, "must be a UUID")
    return str(uuid.UUID(value))


def check_idempotency_key(value: str | None) -> str | None:
    if value is not None and _IDEMPOTENCY_KEY.fullmatch(value) is None:
        raise invalid("header.Idempotency-Key", f"must match {_IDEMPOTENCY_KEY.pattern}")
    return value


_INT = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def query_int(
    params: Mapping[str, str], name: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    bounds = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
    if _INT.fullmatch(raw) is None:
        raise invalid(f"query.{name}", f"must be an integer {bounds}")
    # Python refuses to parse integers of thousands of digits; any such value
    # is far past every bound, so its sign decides.
    digits = raw.lstrip("-")
    value = int(raw) if len(digits) <= 40 else (-(10**40) if raw.startswith("-") else 10**40)
    if value < minimum or (maximum is not None and value > maximum):
        raise invalid(f"query.{name}", f"must be an integer {bounds}")
    return value


def query_number(
    params: Mapping[str, str], name: str, *, minimum: float, maximum: float
) -> float | None:
    raw = params.get(name)
    if raw is None:
        return None
    problem = f"must be a number between {minimum:g} and {maximum:g}"
    if _NUMBER.fullmatch(raw) is None or len(raw) > 64:
        raise invalid(f"query.{name}", problem)
    value = float(raw)
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise invalid(f"query.{name}", problem)
    return value


def query_pattern(params: Mapping[str, str], name: str, schema_name: str) -> str | None:
    raw = params.get(name)
    if raw is None:
        return None
    pattern = _schema_pattern(schema_name)
    if pattern.fullmatch(raw) is None:
        raise invalid(f"query.{name}", f"must match {pattern.pattern}")
    return raw
