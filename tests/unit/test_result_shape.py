"""A result where its Operation belongs is told by shape, read from the spec's schemas."""

from __future__ import annotations

from typing import Any

import pytest
from weaver_client.schemas import SCHEMAS

from tests.support.openapi import openapi
from weaver_facade._result_shape import only_fields_of, result_schemas, shaped_as

# The spec file itself, next to the generated copy of its schemas.
SPEC = openapi()
EXAMPLES = {name: s.get("example") for name, s in SPEC["components"]["schemas"].items()}
OPERATION = EXAMPLES["Operation"]


def test_each_operation_post_has_the_result_the_spec_names() -> None:
    assert result_schemas(SCHEMAS) == {
        "forward_backward": "ForwardBackwardResult",
        "forward": "ForwardBackwardResult",
        "optim_step": "OptimStepResult",
        "save_checkpoint": "Checkpoint",
        "load_checkpoint": "LoadResult",
        "export_checkpoint": "Artifact",
        "export_model_weights": "Artifact",
    }
    assert result_schemas(SPEC["components"]["schemas"]) == result_schemas(SCHEMAS)
    assert result_schemas({}) == {}


@pytest.mark.parametrize("result", ["Checkpoint", "ForwardBackwardResult"])
def test_a_result_is_not_an_operation(result: str) -> None:
    assert shaped_as(EXAMPLES[result], result, "Operation", SCHEMAS)
    # Whatever its status: a pending Checkpoint parses as an Operation, but is none.
    assert shaped_as({**EXAMPLES[result], "status": "pending"}, result, "Operation", SCHEMAS)


@pytest.mark.parametrize(
    "operation",
    [
        OPERATION,
        {"id": "op-1", "status": "done", "response": EXAMPLES["Checkpoint"]},
        # An Operation that also carries a field of the result is still an Operation.
        {**OPERATION, "metrics": {}, "name": "x"},
    ],
)
@pytest.mark.parametrize("result", ["Checkpoint", "ForwardBackwardResult", "OptimStepResult"])
def test_an_operation_is_not_a_result(operation: dict[str, Any], result: str) -> None:
    assert not shaped_as(operation, result, "Operation", SCHEMAS)


def test_a_result_with_fewer_than_two_fields_of_its_own_tells_nothing() -> None:
    # LoadResult requires no field; OptimStepResult only `metrics`, which an Operation that
    # grew a field could carry too.
    assert not shaped_as({"path": "weaver://m/checkpoints/a"}, "LoadResult", "Operation", SCHEMAS)
    assert not shaped_as(EXAMPLES["OptimStepResult"], "OptimStepResult", "Operation", SCHEMAS)
    assert not shaped_as(["not", "an", "object"], "Checkpoint", "Operation", SCHEMAS)


@pytest.mark.parametrize(
    ("response", "fits"),
    [
        (EXAMPLES["OptimStepResult"], {"OptimStepResult"}),
        (EXAMPLES["LoadResult"], {"LoadResult"}),
        ({"path": "weaver://m/checkpoints/a", "include_optimizer": True}, {"LoadResult"}),
        # Nothing, or a field no result schema has beside one: no guess, the raw response.
        ({}, set()),
        ({**EXAMPLES["OptimStepResult"], "seq_id": 3}, set()),
        ({**EXAMPLES["LoadResult"], "metrics": {}}, set()),
        ("not an object", set()),
    ],
)
def test_a_plain_result_is_told_by_having_only_fields_of_its_schema(
    response: Any, fits: set[str]
) -> None:
    schemas = set(result_schemas(SCHEMAS).values())
    assert {s for s in schemas if only_fields_of(response, s, SCHEMAS)} == fits
