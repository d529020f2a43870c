"""Request validation against openapi.yaml, with messages that name the field.

Bodies are checked with the shared validator of the spec's own component schemas
(``weaver_facade._spec_schema``, which the contract kit uses too), so the emulator
and the contract cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

from .._spec_schema import best_error, describe, field_path, spec_document, spec_schemas
from ._errors import invalid

__all__ = [
    "RESOURCE_ID",
    "body_is_valid",
    "check_body",
    "check_checkpoint_id",
    "check_idempotency_key",
    "check_resource_id",
    "parse_json",
    "query_int",
    "query_number",
    "query_pattern",
]


@functools.cache
def _schema_pattern(schema_name: str) -> re.Pattern[str]:
    return re.compile(spec_document()["components"]["schemas"][schema_name]["pattern"])


RESOURCE_ID = _schema_pattern("ResourceId")
_IDEMPOTENCY_KEY = re.compile(
    spec_document()["components"]["parameters"]["IdempotencyKey"]["schema"]["pattern"]
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


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


def body_is_valid(schema_name: str, body: Any) -> bool:
    """True when the compiled validator accepts ``body`` (fast); False means "ask
    ``check_body``", which may still accept it."""
    fast = _fast_validator(schema_name)
    if fast is None:
        return False
    try:
        return bool(fast.is_valid(body))
    except (ValueError, TypeError, OverflowError):  # a value it cannot take: ask Python
        return False


def check_body(schema_name: str, body: Any) -> None:
    """Raise a 400 naming the first offending field when ``body`` breaks the schema."""
    if body_is_valid(schema_name, body):
        return
    validator = spec_schemas().component(schema_name)
    error = best_error(validator.iter_errors(body))
    if error is None:
        return
    path, problem = describe(error)
    raise invalid(field_path("body", path), problem)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A ``\\uD800``-``\\uDFFF`` escape: json.loads pairs the valid ones into one character and
# keeps an unpaired one as a lone surrogate, which no reply can encode as UTF-8.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string of ``value`` (a key or a value, at any depth) holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item) is not None:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def parse_json(raw: bytes, *, required: bool) -> Any:
    """Parse a request body strictly: UTF-8, no NaN/Infinity, no trailing garbage, no
    unpaired surrogate escape (a string that would be stored, then fail every reply that
    holds it)."""
    if not raw.strip():
        if required:
            raise invalid("body", "is required")
        return None
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise invalid("body", "is not valid JSON") from exc
    if _SURROGATE_ESCAPE.search(raw) is not None and _has_lone_surrogate(value):
        raise invalid("body", "is not valid JSON: a string holds an unpaired UTF-16 surrogate")
    return value


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
