"""The facade's fast paths give exactly what its checked paths give, or defer to them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from weaver_client import models as wire

from weaver_facade import ResponseValidationError
from weaver_facade._checkpoints import _fast_checkpoint, checked_checkpoint, checkpoint_from_wire

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
replies = st.builds(
    lambda changes, dropped: {
        **{k: v for k, v in GOOD.items() if k not in dropped},
        **changes,
    },
    st.dictionaries(
        st.sampled_from(
            [
                "name",
                "path",
                "ttl_seconds",
                "expires_at",
                "train_unembed",
                "train_mlp",
                "train_attn",
                "model_id",
                "size_bytes",
                "sha256",
            ]
        ),
        odd_values,
        max_size=3,
    ),
    st.sets(st.sampled_from(["model_id", "size_bytes", "sha256"])),
)


@settings(max_examples=400, deadline=None)
@given(replies)
def test_the_fast_checkpoint_path_agrees_with_the_checked_one(data: dict[str, Any]) -> None:
    gen = wire.Checkpoint.from_dict(data)
    try:
        checked = checked_checkpoint("list_checkpoints", gen)
    except ResponseValidationError:
        assert _fast_checkpoint(gen) is None
        return
    fast = _fast_checkpoint(gen)
    assert fast is None or fast == checked
    assert checkpoint_from_wire("list_checkpoints", gen) == checked


def test_a_well_formed_item_takes_the_fast_path() -> None:
    gen = wire.Checkpoint.from_dict(GOOD)
    fast = _fast_checkpoint(gen)
    assert fast is not None
    assert fast == checked_checkpoint("x", gen)
    assert str(fast.path) == GOOD["path"]
