"""Bad input, generated: checkpoint paths, names, references and training data.

Each property feeds values a caller could pass (hostile strings, wrong types,
huge or non-finite numbers, lone surrogates) and allows exactly two outcomes:
a value the spec accepts, or the documented ``InvalidInputError`` subclass.
Anything else (a ``TypeError``, a ``UnicodeEncodeError`` when sending, a value
the server's schema refuses) is a bug. The oracles are openapi.yaml's own
patterns and schemas, not the facade's regexes.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.fakeserver import FakeWeaver
from tests.support.fakeserver import service as unit_service
from weaver_facade import (
    AdamParams,
    CheckpointPath,
    Datum,
    InvalidArgumentError,
    InvalidCheckpointName,
    InvalidCheckpointPath,
    InvalidCheckpointRef,
    InvalidDatumError,
    datum_from_tokens,
)
from weaver_facade._checkpoints import (
    coerce_checkpoint_path,
    coerce_checkpoint_ref,
    validate_checkpoint_name,
)
from weaver_facade.emulator._errors import ApiError
from weaver_facade.emulator._validation import check_body

SPEC = Path(__file__).resolve().parents[2] / "openapi.yaml"
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def spec_pattern(schema: str) -> re.Pattern[str]:
    """A component's pattern as a whole-string match (``$`` would allow a final newline)."""
    document = yaml.safe_load(SPEC.read_text())
    pattern: str = document["components"]["schemas"][schema]["pattern"]
    assert pattern.startswith("^")
    assert pattern.endswith("$")
    return re.compile(pattern[1:-1])


def spec_allows(schema: str, text: str) -> bool:
    return spec_pattern(schema).fullmatch(text) is not None


# -- strategies ------------------------------------------------------------------------------

# Characters that matter to paths and to the wire: separators, dots, escapes, NUL,
# whitespace, look-alikes of '.' and '/', a non-ASCII letter and a lone surrogate.
TRICKY = "/.%2eEfF\x00\\ :\n\t?#\u2024\uff0e\u2215\u00e9\ud800"
SAFE = "abcm019-_"
pieces = st.text(alphabet=TRICKY + SAFE, max_size=12) | st.sampled_from(
    ["..", ".", "%2e%2e", "%2E%2E%2F", "..%2f", "%00", "\x00", "", "a" * 128, "a" * 129]
)
segments = st.one_of(
    pieces, st.text(max_size=20), st.from_regex(r"[A-Za-z0-9._-]{1,10}", fullmatch=True)
)
path_texts = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, model, mid, name, tail: f"{scheme}{model}{mid}{name}{tail}",
        st.sampled_from(["weaver://", "Weaver://", "weaver:/", "s3://", "", "weaver:///"]),
        segments,
        st.sampled_from(["/checkpoints/", "/checkpoints//", "/../checkpoints/", "/ckpt/", "/"]),
        segments,
        st.sampled_from(["", "/", "/x", "\n", "?a", "#b", "/.."]),
    ),
)
not_strings = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.binary(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.builds(object),
    st.just(Path("/etc/passwd")),
)
anything = st.one_of(path_texts, not_strings, st.uuids(), st.uuids().map(str))


# -- checkpoint paths, names and references --------------------------------------------------


@SETTINGS
@given(path_texts)
@example("weaver://m-1/checkpoints/../../etc/passwd")
@example("weaver://../checkpoints/a")
@example("weaver://m-1/checkpoints/%2e%2e")
@example("weaver://m-1/checkpoints/a\x00b")
@example("weaver://m-1/checkpoints/a\n")
def test_path_parsing_accepts_exactly_what_the_spec_allows(text: str) -> None:
    try:
        path = CheckpointPath.parse(text)
    except InvalidCheckpointPath:
        assert not spec_allows("CheckpointPath", text)
        return
    assert spec_allows("CheckpointPath", text)
    assert str(path) == text
    assert CheckpointPath.parse(str(path)) == path
    assert spec_allows("ResourceId", path.model_id)
    assert spec_allows("StoredCheckpointName", path.name)


@SETTINGS
@given(st.one_of(segments, not_strings), st.one_of(segments, not_strings))
def test_path_construction_validates_both_parts(model_id: Any, name: Any) -> None:
    try:
        path = CheckpointPath(model_id, name)
    except InvalidCheckpointPath:
        assert not (
            isinstance(model_id, str)
            and isinstance(name, str)
            and spec_allows("ResourceId", model_id)
            and spec_allows("StoredCheckpointName", name)
        )
        return
    assert spec_allows("CheckpointPath", str(path))


@SETTINGS
@given(st.one_of(segments, not_strings))
@example("..")
@example(".hidden")
@example("a/b")
@example("%2e%2e")
@example("a\x00")
@example("a..b")
def test_checkpoint_names_are_exactly_the_specs(name: Any) -> None:
    try:
        checked = validate_checkpoint_name(name)
    except InvalidCheckpointName:
        assert not (isinstance(name, str) and spec_allows("CheckpointName", name))
        return
    assert checked == name
    assert spec_allows("CheckpointName", checked)


@SETTINGS
@given(anything)
def test_coercing_to_a_path_gives_a_path_or_the_documented_error(value: Any) -> None:
    try:
        path = coerce_checkpoint_path(value)
    except InvalidCheckpointPath:
        return
    assert isinstance(path, CheckpointPath)
    assert spec_allows("CheckpointPath", str(path))


@SETTINGS
@given(anything)
def test_coercing_a_reference_gives_a_path_an_id_or_the_documented_error(value: Any) -> None:
    try:
        ref = coerce_checkpoint_ref(value)
    except (InvalidCheckpointRef, InvalidCheckpointPath):
        return
    if isinstance(ref, CheckpointPath):
        assert spec_allows("CheckpointPath", str(ref))
    else:
        # An id is sent in its canonical form, whatever form it came in.
        assert isinstance(ref, uuid.UUID)
        assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", str(ref))


# -- training data ---------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-200, max_value=300),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.just(-100),
)
columns = st.one_of(st.lists(numbers, max_size=8), not_strings, st.text(max_size=4))
datum_ids = st.one_of(st.none(), st.text(max_size=140), st.integers(), st.just("x" * 129))


def sendable(datum: Datum) -> dict[str, Any]:
    """The datum's wire form, checked the way the server and the transport will check it."""
    body: dict[str, Any] = datum.to_wire().to_dict()
    try:
        check_body("Datum", body)
    except ApiError as exc:  # pragma: no cover - reported with the body that broke it
        raise AssertionError(f"the spec refuses an accepted Datum: {exc.body(None)}") from None
    # What httpx does with json=...: this raised UnicodeEncodeError for a lone surrogate.
    httpx.Request("POST", "http://weaver.test/", json=body)
    json.dumps(body, allow_nan=False)
    return body


@SETTINGS
@given(columns, columns, columns, datum_ids)
@example([1, 2], [2, 3], [1.0, 1.0], "\ud800")
@example(None, [1], [1.0], None)
@example([1], [1], 1.0, None)
@example([1], [-100], [math.inf], None)
def test_datum_is_spec_valid_or_refused(
    tokens: Any, targets: Any, weights: Any, datum_id: Any
) -> None:
    try:
        datum = Datum(tokens=tokens, target_tokens=targets, weights=weights, datum_id=datum_id)
    except InvalidDatumError:
        return
    body = sendable(datum)
    n = len(datum.tokens)
    assert n >= 1  # the most is the server's to decide
    assert len(datum.target_tokens) == len(datum.weights) == n
    assert body["loss_fn_inputs"]["target_tokens"]["data"] == list(datum.target_tokens)


@SETTINGS
@given(columns, st.one_of(st.none(), columns), datum_ids)
@example([1, 2, 3], None, "\udfff")
@example(7, None, None)
@example([1, 2], 3, None)
@example("abc", None, None)
def test_datum_from_tokens_is_spec_valid_or_refused(
    tokens: Any, weights: Any, datum_id: Any
) -> None:
    try:
        datum = datum_from_tokens(tokens, weights, datum_id=datum_id)
    except InvalidDatumError:
        return
    sendable(datum)
    assert [*datum.tokens, datum.target_tokens[-1]] == list(tokens)


@SETTINGS
@given(
    st.dictionaries(st.sampled_from(["learning_rate", "beta1", "eps", "grad_clip_norm"]), numbers)
)
def test_adam_params_are_spec_valid_or_refused(kwargs: dict[str, Any]) -> None:
    try:
        params = AdamParams(**kwargs)
    except InvalidArgumentError:
        return
    body = params.to_wire().to_dict()
    check_body("AdamParams", body)
    json.dumps(body, allow_nan=False)


# -- text that cannot be sent ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "base_model"),
    [([], "weaver-\ud800"), (["ok", "bad-\udc80"], "weaver-tiny")],
    ids=["base_model", "session tags"],
)
def test_a_lone_surrogate_is_refused_before_anything_is_sent(
    tags: list[str], base_model: str
) -> None:
    fake = FakeWeaver()
    with unit_service(fake, tags=tags) as svc:
        if not tags:
            svc.create_training_client("weaver-tiny")  # the session exists; the model is refused
            fake.requests.clear()
        with pytest.raises(InvalidArgumentError, match="lone surrogate"):
            svc.create_training_client(base_model)
        assert fake.requests == []  # (closing then terminates the first model)
