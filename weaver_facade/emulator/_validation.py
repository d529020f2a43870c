"""Request validation against openapi.yaml, with messages that name the field.

Bodies are checked with the shared validator of the spec's own component schemas
(``weaver_facade._spec_schema``, which the contract kit uses too), so the emulator
and the contract cannot drift apart.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import math
import re
import uuid
from collections.abc import Mapping
from typing import Any

from .._spec_schema import (
    best_error,
    describe,
    field_path,
    pattern_rule,
    spec_document,
    spec_schemas,
)
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
]


class _Pattern:
    """A string schema's pattern, and its rule in the spec's words for refusals."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.fullmatch = re.compile(schema["pattern"]).fullmatch
        self.rule = pattern_rule(schema)


@functools.cache
def _schema_pattern(schema_name: str) -> _Pattern:
    return _Pattern(spec_document()["components"]["schemas"][schema_name])


RESOURCE_ID = _schema_pattern("ResourceId")
_IDEMPOTENCY_KEY = _Pattern(spec_document()["components"]["parameters"]["IdempotencyKey"]["schema"])
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
    components = copy.deepcopy(spec_document()["components"])
    for component in components["schemas"].values():
        component[_PAUSE] = True
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{schema_name}",
        "components": components,
    }
    return jsonschema_rs.Draft202012Validator(schema, keywords={_PAUSE: _Pause})


_PAUSE = "x-emulator-pause"


class _Pause:
    """A keyword of every component schema that checks nothing: being Python, it lets
    other threads (the event loop) run at each value of a component schema (each Datum of
    a batch), where one validation of a large batch held the GIL for 0.1 s."""

    def __init__(self, parent_schema: Any, value: Any, schema_path: Any) -> None:
        pass

    def validate(self, instance: Any) -> None:
        pass


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
    error = best_error(validator.iter_errors(_brief(body)))
    if error is None:
        return
    path, problem = describe(error)
    raise invalid(field_path("body", path), problem)


class _BriefList(list[Any]):
    """A list whose repr shows its first 200 items: jsonschema puts the refused value's repr
    in its message (of which a refusal quotes 200 characters at most), and one repr of a
    large value is one C call that holds the GIL, so the event loop (0.3 s for 2 M numbers)."""

    def __repr__(self) -> str:
        return repr(self[:200])[:-1] + (", ...]" if len(self) > 200 else "]")


class _BriefDict(dict[str, Any]):
    """A dict whose repr shows its first 200 items, as ``_BriefList``."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {v!r}" for k, v in itertools.islice(self.items(), 200))
        return "{" + shown + (", ...}" if len(self) > 200 else "}")


def _brief(value: Any, depth: int = 12) -> Any:
    """``value`` with every list and dict brief in repr, down to the depth of a batch's
    tokens (only the speed rests on the guess that a list whose first item is no list or
    dict holds none)."""
    if depth == 0 or not isinstance(value, dict | list):
        return value
    if isinstance(value, dict):
        return _BriefDict((k, _brief(v, depth - 1)) for k, v in value.items())
    if value and isinstance(value[0], dict | list):
        return _BriefList(_brief(item, depth - 1) for item in value)
    return _BriefList(value)


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


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(s: str, i: int) -> int:
    """Where the JSON whitespace from ``s[i]`` on ends."""
    return _SPACE.match(s, i).end()  # type: ignore[union-attr]  # `*` always matches


# Up to 16 KiB of an array's numbers, true, false and null (what cannot start a string,
# object or array): its commas are the array's, so one short C call parses the values
# before its last comma, and refuses them if the array is not JSON.
_SCALARS = re.compile(r"[-+.0-9A-Za-z \t\n\r,]{1,16384}")
# A smaller body is parsed in one call: faster, and it runs on the event loop anyway.
_IN_PIECES_ABOVE = 64 * 1024


def loads_in_pieces(text: str) -> Any:
    """``json.loads(text)`` (strict, no NaN or Infinity) in short C calls.

    One ``json.loads`` of a large body is one C call that holds the GIL, so the event
    loop, for its whole length (0.4 s for a batch of 256 x 4,096 tokens), even on a
    worker thread; here objects and arrays are walked in Python, and each string, and
    each run of numbers, is one call.
    """
    value, end = _piece(text, _skip(text, 0))
    if _skip(text, end) != len(text):
        raise ValueError("extra data")
    return value


def _piece(s: str, i: int) -> tuple[Any, int]:
    """The JSON value starting at ``s[i]``, and where it ends."""
    first = s[i : i + 1]
    if first == '"':
        return json.decoder.scanstring(s, i + 1)  # type: ignore[attr-defined, no-any-return]
    if first not in ("{", "["):
        try:
            return _DECODER.scan_once(s, i)  # type: ignore[attr-defined, no-any-return]
        except StopIteration:
            raise ValueError(f"no JSON value at {i}") from None
    close = "}" if first == "{" else "]"
    items: Any = {} if first == "{" else []
    i = _skip(s, i + 1)
    if s[i : i + 1] == close:
        return items, i + 1
    while True:
        if first == "{":
            if s[i : i + 1] != '"':
                raise ValueError(f"expected a key at {i}")
            key, i = json.decoder.scanstring(s, i + 1)  # type: ignore[attr-defined]
            i = _skip(s, i)
            if s[i : i + 1] != ":":
                raise ValueError(f"expected ':' at {i}")
            items[key], i = _piece(s, _skip(s, i + 1))
        elif (run := _SCALARS.match(s, i)) and (cut := run.group().rfind(",")) > 0:
            items.extend(_DECODER.decode(f"[{s[i : i + cut]}]"))
            i += cut
        else:
            item, i = _piece(s, i)
            items.append(item)
        i = _skip(s, i)
        if s[i : i + 1] == close:
            return items, i + 1
        if s[i : i + 1] != ",":
            raise ValueError(f"expected ',' or {close!r} at {i}")
        i = _skip(s, i + 1)


def parse_json(raw: bytes, *, required: bool) -> Any:
    """Parse a request body strictly: UTF-8, no NaN/Infinity, no trailing garbage, no
    unpaired surrogate escape (a string that would be stored, then fail every reply that
    holds it)."""
    if not raw.strip():
        if required:
            raise invalid("body", "is required")
        return None
    try:
        text = raw.decode("utf-8")
        value = loads_in_pieces(text) if len(raw) > _IN_PIECES_ABOVE else _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise invalid("body", "is not valid JSON") from exc
    if _SURROGATE_ESCAPE.search(raw) is not None and _has_lone_surrogate(value):
        raise invalid("body", "is not valid JSON: a string holds an unpaired UTF-16 surrogate")
    return value


def check_resource_id(field: str, value: str) -> str:
    if RESOURCE_ID.fullmatch(value) is None:
        raise invalid(field, RESOURCE_ID.rule)
    return value


def check_checkpoint_id(field: str, value: str) -> str:
    if _UUID.fullmatch(value) is None:
        raise invalid(field, "must be a UUID")
    return str(uuid.UUID(value))


def check_idempotency_key(value: str | None) -> str | None:
    if value is not None and _IDEMPOTENCY_KEY.fullmatch(value) is None:
        raise invalid("header.Idempotency-Key", _IDEMPOTENCY_KEY.rule)
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
