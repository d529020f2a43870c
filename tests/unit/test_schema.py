"""The schema explainer names the first offending field, reading the spec's own schemas."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.fakeserver import checkpoint_json
from weaver_facade._schema import explain

OUTPUT = {"logprobs": {"data": [-1.0], "dtype": "float32"}}


@pytest.mark.parametrize(
    ("schema", "value", "field", "message"),
    [
        ("OptimStepResult", {}, "metrics", "required field `metrics` missing"),
        (
            "ForwardBackwardResult",
            {
                "loss_fn_outputs": [OUTPUT, {"logprobs": {"data": ["x"], "dtype": "float32"}}],
                "metrics": {},
            },
            "loss_fn_outputs[1].logprobs.data[0]",
            "field `loss_fn_outputs[1].logprobs.data[0]`: expected a number or an array, "
            "got a string",
        ),
        (
            "OptimStepResult",
            {"metrics": {"optim:step": True}},
            'metrics["optim:step"]',
            'field `metrics["optim:step"]`: expected a number, got a boolean',
        ),
        (
            "LoadResult",
            {"path": "weaver://m-1/checkpoints/a", "optimizer_step": -1},
            "optimizer_step",
            "field `optimizer_step`: -1 is not >= 0",
        ),
        (
            "CheckpointList",
            {"items": [], "next_cursor": ""},
            "next_cursor",
            "field `next_cursor`: '' is shorter than 1 characters",
        ),
    ],
)
def test_names_the_field(schema: str, value: Any, field: str, message: str) -> None:
    problem = explain(schema, value)
    assert problem is not None
    assert (problem.field, problem.message) == (field, message)


def test_valid_values_and_unknown_fields_are_no_problem() -> None:
    assert explain("CheckpointList", {"items": [], "next_cursor": None, "new_field": 1}) is None
    assert explain("OptimStepResult", {"metrics": {"optim:step": 2}}) is None
    assert explain("NoSuchSchema", {}) is None


# A valid Checkpoint without `created_at`, the required field each case leaves missing.
WITHOUT_CREATED_AT = {k: v for k, v in checkpoint_json("m-1", "a").items() if k != "created_at"}


@pytest.mark.parametrize(
    ("extra", "got"),
    [
        # A field of the server's own that has nothing to do with it is no clue.
        ({"x_unknown": 1}, ""),
        # Its words, among others (the history's `checkpoint_type` for `type`), or nearly
        # its name (another case, a typo).
        ({"x_unknown": 1, "checkpoint_created_at": "t"}, " (got `checkpoint_created_at`)"),
        ({"createdAt": "t", "x_unknown": 1}, " (got `createdAt`)"),
        ({"created_ta": "t"}, " (got `created_ta`)"),
        # An object that holds it: the reply is wrapped.
        ({"checkpoint": {"created_at": "t"}, "meta": {"other": 1}}, " (got `checkpoint`)"),
    ],
    ids=["unrelated", "its-words", "its-name-camel-case", "a-typo", "a-wrapper"],
)
def test_a_missing_field_names_only_unknown_fields_that_may_stand_for_it(
    extra: dict[str, Any], got: str
) -> None:
    problem = explain("Checkpoint", {**WITHOUT_CREATED_AT, **extra})
    assert problem is not None
    assert problem.message == f"required field `created_at` missing{got}"
