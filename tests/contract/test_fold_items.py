"""The same defect in every item of a list is one finding, not one per item."""

from __future__ import annotations

import copy
from typing import Any

from tests.support.spec_values import SCHEMAS, full
from weaver_facade.contract._spec import load_spec


def test_a_defect_in_every_item_of_a_list_is_one_problem() -> None:
    # A listing of 14 checkpoints with `checkpoint_type` for `type` gave 14 findings.
    item: dict[str, Any] = full(SCHEMAS["Checkpoint"])
    item["checkpoint_type"] = item.pop("type")
    listing = {"items": [copy.deepcopy(item) for _ in range(3)], "next_cursor": None}
    problems = load_spec().check_schema("CheckpointList", listing)
    assert [p.message for p in problems] == [
        "Checkpoint: required field `type` missing (got `checkpoint_type`) at `items[0]` "
        "(and 2 more items)"
    ]


def test_different_defects_stay_apart() -> None:
    item: dict[str, Any] = full(SCHEMAS["Checkpoint"])
    first, second = copy.deepcopy(item), copy.deepcopy(item)
    first.pop("type")
    # A status no spec has, whatever values it adds (`archived`, fixed here, was a real
    # candidate: adding it failed this test with nothing to say why).
    second["status"] = "not-" + "-or-".join(SCHEMAS["CheckpointStatus"]["enum"])
    problems = load_spec().check_schema("CheckpointList", {"items": [first, second]})
    assert len(problems) == 2
    assert all("more item" not in p.message for p in problems)
