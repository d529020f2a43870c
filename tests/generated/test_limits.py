"""The generated ``weaver_client.limits`` holds every limit of openapi.yaml, and follows it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from weaver_client import limits

from tests.support.openapi import openapi
from weaver_facade import OperationStatus

ROOT = Path(__file__).resolve().parents[2]
# Read straight from the YAML, not through the facade, so that the two sources stay apart.
SPEC: dict[str, Any] = openapi()
KEYWORDS = {
    "pattern": "PATTERN",
    "minLength": "MIN_LENGTH",
    "maxLength": "MAX_LENGTH",
    "minimum": "MINIMUM",
    "exclusiveMinimum": "EXCLUSIVE_MINIMUM",
    "maximum": "MAXIMUM",
    "exclusiveMaximum": "EXCLUSIVE_MAXIMUM",
    "minItems": "MIN_ITEMS",
    "maxItems": "MAX_ITEMS",
    "minProperties": "MIN_PROPERTIES",
    "maxProperties": "MAX_PROPERTIES",
    "default": "DEFAULT",
    "x-weaver-pattern-words": "PATTERN_WORDS",
}


def _schemas_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping of the document read straight from the YAML, examples (data, not
    schemas) left out."""
    if isinstance(node, dict):
        yield node
        for key, value in node.items():
            if key not in {"example", "examples"}:
                yield from _schemas_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schemas_in(item)


def _limits_in(document: Any) -> Iterator[tuple[str, Any]]:
    """Every limiting keyword anywhere in the document."""
    for node in _schemas_in(document):
        for key, value in node.items():
            if key in KEYWORDS and not isinstance(value, dict | list):
                yield KEYWORDS[key], value


def test_every_limit_of_the_spec_has_a_constant() -> None:
    constants = {name: getattr(limits, name) for name in dir(limits) if name.isupper()}
    found = list(_limits_in(SPEC))
    assert len(found) > 40
    missing = [
        (keyword, value)
        for keyword, value in found
        if not any(
            name.endswith(keyword) and value == const and type(value) is type(const)
            for name, const in constants.items()
        )
    ]
    assert missing == []


def test_the_defaults_of_each_marked_schema_are_its_spec_example() -> None:
    schemas = SPEC["components"]["schemas"]
    marked = sorted(name for name, s in schemas.items() if s.get("x-weaver-example-is-default"))
    assert {"AdamParams", "ExportRequest"} <= set(marked)
    for name in marked:
        constant = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).upper() + "_DEFAULTS"
        assert getattr(limits, constant) == schemas[name]["example"], name


def test_the_terminal_statuses_are_the_marked_values_of_the_enum() -> None:
    schemas = SPEC["components"]["schemas"]
    status = schemas["OperationStatus"]
    assert set(status["x-weaver-terminal"]) < set(status["enum"])
    assert tuple(status["x-weaver-terminal"]) == limits.OPERATION_STATUS_TERMINAL


def _patterns_in(document: Any) -> Iterator[tuple[str, str]]:
    """Each ``pattern`` of the document with its ``x-weaver-pattern-words``."""
    for node in _schemas_in(document):
        if isinstance(node.get("pattern"), str) and "x-weaver-pattern-words" in node:
            yield node["pattern"], node["x-weaver-pattern-words"]


def test_words_that_say_letters_say_which_the_pattern_takes() -> None:
    # "letters" alone reads as any letter: `café` was refused as not "letters, digits, ...".
    spoken = [(p, w) for p, w in _patterns_in(SPEC) if "letters" in w]
    assert len(spoken) >= 3
    for pattern, words in spoken:
        assert re.fullmatch(pattern, "a"), pattern
        if not re.fullmatch(pattern, "é"):
            assert "ASCII letters" in words, (pattern, words)


def test_the_lengths_the_words_say_are_the_pattern_s_and_the_schema_s() -> None:
    # The words reach the CLI's help, refusals and docs: a maxLength changed without
    # them left "1 to 128" there while the facade refused a 65th character.
    said = []
    for node in _schemas_in(SPEC):
        pattern, words = node.get("pattern"), node.get("x-weaver-pattern-words")
        counted = re.match(r"(\d+)(?: to (\d+))? ", words) if isinstance(words, str) else None
        if not isinstance(pattern, str) or counted is None:
            continue
        low, high = int(counted[1]), int(counted[2] or counted[1])
        # "a" is a letter and a hex digit: every counted rule takes it.
        assert re.fullmatch(pattern, "a" * low), words
        assert re.fullmatch(pattern, "a" * high), words
        assert not re.fullmatch(pattern, "a" * (high + 1)), words
        assert low == 0 or not re.fullmatch(pattern, "a" * (low - 1)), words
        assert node.get("maxLength", high) == high, words
        assert node.get("minLength", low) == low, words
        said.append(words)
    assert len(said) >= 4


def test_the_status_docstring_names_the_statuses_the_spec_marks_terminal() -> None:
    named = set(re.findall(r"``([A-Z]+)``", OperationStatus.__doc__ or ""))
    assert named == {status.name for status in OperationStatus if status.is_terminal}
