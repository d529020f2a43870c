"""The schema explainer names the first offending field, reading the spec's own schemas."""

from __future__ import annotations

from typing import Any

import pytest

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
            {"items": [], "next_cursor": "not a cursor"},
            "next_cursor",
            "field `next_cursor`: 'not a cursor' does not match ^[A-Za-z0-9_-]{1,256}$",
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
