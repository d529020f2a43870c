"""A Checkpoint reply either converts to exactly its data, or fails naming a changed field."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.spec_values import SCHEMAS, types
from weaver_facade import ResponseValidationError
from weaver_facade._checkpoints import checkpoint_result

GOOD: dict[str, Any] = {
    "id": "6f1c2a3b-0d4e-4f5a-8b6c-7d8e9f0a1b2c",
    "name": "step-1",
    "type": "weight",
    "path": "weaver://m-1/checkpoints/step-1",
    "status": "completed",
    "ttl_seconds": None,
    "created_at": "2026-11-29T10:01:00.123Z",
    "expires_at": None,
    "train_unembed": True,
    "train_mlp": True,
    "train_attn": False,
    "model_id": "m-1",
    "size_bytes": 12,
    "sha256": "0" * 64,
}
# The extensions, which the real service does not promise.
OPTIONAL = ["model_id", "size_bytes", "sha256"]
PROPERTIES = SCHEMAS["Checkpoint"]["properties"]
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=2**40),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "step-1",
            "other",
            "weaver://m-1/checkpoints/other",
            "weaver://m-2/checkpoints/step-1",
            "weaver://m-1/checkpoints/.x",
            "m-1",
            "m 2",
            "2026-11-30T00:00:00Z",
            "",
        ]
    ),
    st.lists(st.integers(), max_size=2),
)
changes = st.dictionaries(st.sampled_from(sorted(GOOD)), odd_values, max_size=3)


def _json_type(value: object) -> str:
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    return "null" if value is None else kinds[type(value)]


def _same(field: str, got: object, sent: object) -> bool:
    if isinstance(got, uuid.UUID | datetime.datetime):
        return got == (uuid.UUID(str(sent)) if isinstance(got, uuid.UUID) else got)
    return str(got) == str(sent) if field in {"type", "status", "path"} else got == sent


@settings(max_examples=400, deadline=None)
@given(changes, st.sets(st.sampled_from(OPTIONAL)))
def test_a_reply_converts_exactly_or_names_a_changed_field(
    changed: dict[str, Any], dropped: set[str]
) -> None:
    data = {**{k: v for k, v in GOOD.items() if k not in dropped}, **changed}
    error: ResponseValidationError | None = None
    try:
        checkpoint = checkpoint_result("save_checkpoint", data)
    except ResponseValidationError as exc:
        error = exc
    if error is not None:
        assert error.operation == "save_checkpoint"
        assert error.field is not None
        # `name` and `model_id` must agree with `path`: a change to either side is
        # reported on the field.
        named = {error.field} | ({"path"} if error.field in ("name", "model_id") else set())
        assert named & set(changed), (error.field, str(error))
        assert f"`{error.field}`" in str(error)
        return
    for field, sent in data.items():
        if field == "created_at":
            continue  # parsed; compared below
        got = getattr(checkpoint, field)
        if field in OPTIONAL and _json_type(sent) not in types(PROPERTIES[field]):
            # An extension of a type of the server's own, which it may send: left out.
            sent = checkpoint.path.model_id if field == "model_id" else None
        assert _same(field, got, sent), (field, got, sent)
    assert checkpoint.created_at == datetime.datetime.fromisoformat(str(data["created_at"]))
    for field in dropped - set(changed):
        expected = checkpoint.path.model_id if field == "model_id" else None
        assert getattr(checkpoint, field) == expected


def test_a_model_id_that_the_path_does_not_name_is_refused() -> None:
    # The path is `weaver://{model_id}/checkpoints/{name}`: a reply naming two models
    # would leave `checkpoint.model_id` and the path a load sends disagreeing.
    data = {**GOOD, "model_id": "m-2"}
    with pytest.raises(
        ResponseValidationError, match="`model_id` is 'm-2' but `path` names 'm-1'"
    ) as info:
        checkpoint_result("list_checkpoints", data)
    assert info.value.field == "model_id"
