"""The kit aims each generated training body at the path's model (``trainable``); a
negative case's body of any shape is left alone, never a crash of the hook that sends it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from weaver_facade.contract._conformance import trainable

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


def _shaped(**parts: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A dict of these parts, or anything in its place."""
    return st.fixed_dictionaries(parts) | JSON


# The shape of a forward-backward body, any of whose parts may be anything.
CHUNKS = st.lists(_shaped(tokens=JSON), max_size=3)
DATA = st.lists(_shaped(model_input=_shaped(chunks=CHUNKS | JSON)), max_size=3)
SHAPED = _shaped(payload=_shaped(forward_backward_input=_shaped(data=DATA)))


@settings(max_examples=300, deadline=None)
@given(body=SHAPED)
def test_any_body_is_aimed_or_left_alone(body: Any) -> None:
    aimed = trainable(body, "m-1")
    assert aimed is None or aimed["payload"]["model_id"] == "m-1"


@pytest.mark.parametrize(
    "item",
    [{"model_input": []}, {"model_input": {"chunks": [{"tokens": None}]}}, {"model_input": None}],
    ids=["input-a-list", "tokens-null", "input-null"],
)
def test_the_shapes_that_crashed_are_left_alone(item: dict[str, Any]) -> None:
    body = {"payload": {"seq_id": 1, "forward_backward_input": {"data": [item]}}}
    assert trainable(body, "m-1") is None
