"""openapi.yaml and JSON Schema over it: the one validator of the emulator and the contract kit.

The emulator checks request bodies and the kit checks a server's replies, both with JSON
Schema 2020-12 against the spec's own schemas, reached through a registry that holds the
whole document. ``pattern`` must match the whole string (``re.fullmatch``): JSON Schema's
``pattern`` is a search, and Python's ``$`` also matches before a trailing newline. Formats
are annotations unless a validator is asked to check them.

Needs jsonschema and PyYAML (the ``emulator`` extra, which ``contract`` includes); the facade
never imports this module, whose field paths and type words are those of the facade's own,
dependency-free ``_schema``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ._dest import shown_path
from ._schema import ARTICLES, BOUNDS, field_at

SCHEMA_REF = "#/components/schemas/"
PATTERN_WORDS = "x-weaver-pattern-words"
_URI = "urn:weaver:openapi"

# -- the spec file --------------------------------------------------------------------------


def spec_path() -> Path:
    """The checked-in openapi.yaml: the wheel ships it inside the emulator package; a source
    checkout has it at the repository's root."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "emulator" / "openapi.yaml", here.parent / "openapi.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("openapi.yaml is missing from this installation")


@functools.cache
def spec_bytes() -> bytes:
    """The checked-in spec's bytes, as the emulator serves them."""
    return spec_path().read_bytes()


def _parse(raw: bytes, where: Path) -> dict[str, Any]:
    # libyaml's safe loader, where PyYAML has it, reads the spec ten times as fast: each
    # emulator and kit process reads it once at start.
    safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(raw, Loader=safe)  # noqa: S506 (a safe loader)
    if not isinstance(document, dict):
        raise ValueError(f"{shown_path(where)} is not an OpenAPI document")
    return document


@functools.cache
def spec_document() -> dict[str, Any]:
    """The checked-in spec, parsed once. Callers must not change it."""
    return _parse(spec_bytes(), spec_path())


def read_document(path: Path) -> dict[str, Any]:
    """The OpenAPI document at ``path`` (a new copy each call)."""
    return _parse(path.read_bytes(), path)


# -- validators -----------------------------------------------------------------------------


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _pattern_fullmatch(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.exceptions.ValidationError]:
    if validator.is_type(instance, "string") and _compiled(pattern).fullmatch(instance) is None:
        yield jsonschema.exceptions.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, validators={"pattern": _pattern_fullmatch}
)


class Located(NamedTuple):
    """Where a schema error was found, in the spec's words.

    Attributes:
        node: The schema that holds the failing keyword.
        names: The component schemas passed on the way, outermost first.
        own: The component schema of the failing value itself (``CheckpointType`` for
            ``Checkpoint.type``), if it has one.
    """

    node: Any
    names: list[str]
    own: str | None


class SpecSchemas:
    """JSON Schema validators over one OpenAPI document's schemas."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        resource: Resource[Any] = Resource.from_contents(
            dict(document), default_specification=DRAFT202012
        )
        self._registry: Registry[Any] = Registry().with_resource(_URI, resource)
        self._validators: dict[tuple[str, bool], Any] = {}

    def validator(self, pointer: str, *, formats: bool = False) -> Any:
        """The validator of the schema at ``pointer`` (such as ``#/components/schemas/Checkpoint``),
        checking ``format`` too when asked."""
        key = (pointer, formats)
        found = self._validators.get(key)
        if found is None:
            checker = _Validator.FORMAT_CHECKER if formats else None
            found = _Validator(
                {"$ref": _URI + pointer}, registry=self._registry, format_checker=checker
            )
            self._validators[key] = found
        return found

    def component(self, name: str, *, formats: bool = False) -> Any:
        """The validator of the component schema ``name``; a ``KeyError`` for an unknown one."""
        if name not in self.document["components"]["schemas"]:
            raise KeyError(name)
        return self.validator(SCHEMA_REF + name, formats=formats)

    def resolve(self, ref: str) -> Any:
        """The node a local ``$ref`` (``#/a/b``, with or without this registry's URI) names."""
        node: Any = self.document
        for segment in ref.removeprefix(_URI).removeprefix("#/").split("/"):
            segment = segment.replace("~1", "/").replace("~0", "~")
            node = node[int(segment)] if isinstance(node, list) else node[segment]
        return node

    def locate(self, error: jsonschema.exceptions.ValidationError, pointer: str) -> Located:
        """Walk ``error``'s schema path from the schema at ``pointer``, noting every component
        schema passed on the way.

        jsonschema leaves ``$ref`` out of schema paths, so a segment missing from a node that
        has a ``$ref`` means the path went through the reference.
        """
        names: list[str] = []

        def through_refs(node: Any, segment: Any) -> Any:
            for _ in range(10):
                if not isinstance(node, Mapping) or segment in node or "$ref" not in node:
                    break
                ref = str(node["$ref"]).removeprefix(_URI)
                if ref.startswith(SCHEMA_REF):
                    names.append(ref[len(SCHEMA_REF) :])
                node = self.resolve(ref)
            return node

        node: Any = {"$ref": pointer}
        path = list(error.absolute_schema_path)
        for segment in path[:-1]:
            node = through_refs(node, segment)
            child = _child(node, segment)
            if child is None:
                break
            node = child
        before = len(names)
        if path:
            node = through_refs(node, path[-1])
        return Located(node, names, names[-1] if len(names) > before else None)


@functools.cache
def spec_schemas() -> SpecSchemas:
    """The validators of the checked-in spec."""
    return SpecSchemas(spec_document())


def _child(node: Any, segment: str | int) -> Any:
    if isinstance(node, list) and isinstance(segment, int) and segment < len(node):
        return node[segment]
    if isinstance(node, Mapping):
        return node.get(segment)
    return None


# -- naming the failing field ---------------------------------------------------------------


def leaves(
    errors: Iterable[jsonschema.exceptions.ValidationError],
) -> Iterator[jsonschema.exceptions.ValidationError]:
    """anyOf/oneOf errors say little; the best error of their best branch says what is wrong."""
    for error in errors:
        if error.validator in ("anyOf", "oneOf") and error.context:
            # A branch that is only `type: null` explains nothing about a non-null value.
            useful = [
                e
                for e in error.context
                if not (e.validator == "type" and e.validator_value == "null")
            ]
            best = jsonschema.exceptions.best_match(useful or error.context)
            if best is not None:
                yield from leaves([best])
                continue
        yield error


def best_error(
    errors: Iterable[jsonschema.exceptions.ValidationError],
) -> jsonschema.exceptions.ValidationError | None:
    """The error that names the failing field: jsonschema's best match, inside the branch of an
    anyOf/oneOf that the value takes (a nullable object's own field, not the object)."""
    best: jsonschema.exceptions.ValidationError | None = jsonschema.exceptions.best_match(
        leaves(errors)
    )
    return best


def missing_fields(error: jsonschema.exceptions.ValidationError) -> list[str]:
    """The required fields a ``required`` error's object lacks, in the schema's order."""
    required: Any = error.validator_value
    if error.validator != "required" or not isinstance(error.instance, Mapping):
        return []
    return [str(name) for name in required if name not in error.instance]


def unknown_fields(error: jsonschema.exceptions.ValidationError) -> list[str]:
    """The fields an ``additionalProperties: false`` error's object has beyond its schema's."""
    if error.validator != "additionalProperties" or not isinstance(error.instance, Mapping):
        return []
    known = set(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else set()
    return sorted(str(name) for name in error.instance if name not in known)


def field_parts(error: jsonschema.exceptions.ValidationError) -> list[str | int]:
    """The path of the offending field: a missing or an unknown field itself, else the value's."""
    path: list[str | int] = list(error.absolute_path)
    named = missing_fields(error)[:1] or unknown_fields(error)[:1]
    return [*path, *named]


def field_path(root: str, parts: Iterable[str | int]) -> str:
    """``body.items[0]["optim:step"]``: a path for people, from ``root`` (which may be empty)."""
    return functools.reduce(field_at, parts, root)


_TEMPLATES = {
    **{keyword: f"must be {words} {{}}" for keyword, _, words in BOUNDS},
    "minLength": "must be at least {} characters long",
    "maxLength": "must be at most {} characters long",
    "minItems": "must have at least {} items",
    "maxItems": "must have at most {} items",
    "minProperties": "must have at least {} entries",
    "maxProperties": "must have at most {} entries",
    "anyOf": "does not match any allowed form",
    "oneOf": "does not match exactly one allowed form",
}


def pattern_rule(schema: Mapping[str, Any]) -> str:
    """What a string that fails ``schema``'s pattern must be: the spec's words for the
    pattern (``x-weaver-pattern-words``, which ``scripts/regenerate`` requires), else the
    pattern itself."""
    words = schema.get(PATTERN_WORDS)
    return f"must be {words}" if isinstance(words, str) else f"must match {schema['pattern']}"


def describe(error: jsonschema.exceptions.ValidationError) -> tuple[list[str | int], str]:
    """(the path of the offending field, what is wrong with it), such as
    ``(["payload", "seq_id"], "must be an integer >= 1")``."""
    path = field_parts(error)
    kind: Any = error.validator
    value: Any = error.validator_value
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    if missing_fields(error):
        return path, "is required"
    if unknown_fields(error):
        return path, "is not a known field"
    integer = kind == "type" and value == "integer" and isinstance(error.instance, int | float)
    if integer or (kind == "minimum" and schema.get("type") == "integer"):
        minimum = value if kind == "minimum" else schema.get("minimum")
        return path, "must be an integer" + (f" >= {minimum}" if minimum is not None else "")
    if kind == "type":
        types = [value] if isinstance(value, str) else list(value)
        return path, "must be " + " or ".join(ARTICLES.get(t, t) for t in types)
    if kind == "enum" and isinstance(value, list):
        return path, "must be one of " + ", ".join(json.dumps(v) for v in value)
    if kind == "const":
        return path, f"must be {json.dumps(value)}"
    if kind == "pattern":
        return path, pattern_rule(schema)
    template = _TEMPLATES.get(str(kind))
    return path, template.format(value) if template is not None else error.message[:200]
