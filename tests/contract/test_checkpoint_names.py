"""The contract kit holds a reply's checkpoint names to what the wire allows, no more.

The wire says only `"name"?: str`: a server that lists a checkpoint named `epoch 2`
(saved by another client, or named by the server) has not drifted.
"""

from __future__ import annotations

import json

import pytest

from tests.support.fakeserver import checkpoint_json
from weaver_facade.contract._spec import load_spec


def problems_of(listed: dict[str, object]) -> list[str]:
    spec = load_spec()
    op = spec.by_id("list_checkpoints")
    body = json.dumps({"items": [checkpoint_json("m-1", "step-1"), listed]}).encode()
    reply = spec.check_reply(op, 200, {"X-Request-ID": "req-1"}, body)
    return [p.message for p in reply]


@pytest.mark.parametrize("name", ["epoch 2", ".hidden", "a" * 300, "naïve"])
def test_a_listed_name_outside_the_save_pattern_is_no_drift(name: str) -> None:
    assert problems_of(checkpoint_json("m-1", name)) == []


def test_a_name_with_a_slash_is_still_drift() -> None:
    listed = {**checkpoint_json("m-1", "x"), "name": "a/b", "path": "weaver://m-1/checkpoints/a/b"}
    found = problems_of(listed)
    assert any("name" in p for p in found), found
    assert any("path" in p for p in found), found
