"""The spec the kit holds a server to when it lacks extensions: the same, less theirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate

from tests.support.openapi import openapi
from weaver_facade._extensions import (
    extension_markers,
    extension_names,
    restrict_fields,
    restrict_spec,
)
from weaver_facade.contract._spec import Spec

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = openapi()
ALL = frozenset(extension_names(SPEC))


def _operation_ids(doc: dict[str, Any]) -> set[str]:
    return {
        str(op["operationId"])
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    }


def test_without_any_extension_nothing_of_theirs_is_left_and_the_spec_is_valid() -> None:
    restricted = restrict_spec(SPEC, ALL)
    validate(restricted)
    # No route, operation or parameter of an extension.
    for where, _ in extension_markers(restricted["paths"]):
        raise AssertionError(f"an extension is left at {where}")
    text = json.dumps(restricted["paths"])
    assert "Idempotency-Key" not in text
    assert "IdempotencyKey" not in text
    assert '"cursor"' not in text
    assert '"wait"' not in text
    ids = _operation_ids(restricted)
    by_id = {"get_checkpoint", "delete_checkpoint", "get_artifact", "delete_artifact"}
    gone = by_id | {"list_models"}  # model-listing
    assert gone.isdisjoint(ids)
    assert ids == _operation_ids(SPEC) - gone
    # Links only to operations and parameters that are left.
    assert '"get_checkpoint"' not in text
    assert "NextPage" not in text


def test_with_every_extension_the_spec_is_unchanged() -> None:
    assert restrict_spec(SPEC, frozenset()) == SPEC
    assert restrict_spec(SPEC, frozenset({"model-status"}))["paths"] == SPEC["paths"]


def test_a_field_of_a_missing_extension_is_held_only_to_the_sheets_rules() -> None:
    # A server without `operation-details` may send a `kind` of its own; the wire sheet
    # forbids only an artifact's kinds there.
    op = {"id": "op-1", "status": "done", "kind": "save", "created_at": "yesterday"}
    assert Spec(SPEC).check_schema("Operation", op)
    for restricted in (restrict_spec(SPEC, ALL), restrict_fields(SPEC, ALL)):
        spec = Spec(restricted)
        assert spec.check_schema("Operation", op) == []
        (problem,) = spec.check_schema("Operation", {**op, "kind": "hf_model"})
        assert "`kind`" in problem.message
        validate(restricted)
    # The routes stay for a client that calls them whatever the server offers.
    assert restrict_fields(SPEC, ALL)["paths"] == SPEC["paths"]
