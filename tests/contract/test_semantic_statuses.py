"""The refusals a schema-valid request may get are ones the spec documents for it."""

from __future__ import annotations

from weaver_facade.contract._conformance import SEMANTIC_STATUSES
from weaver_facade.contract._spec import load_spec


def test_each_semantic_refusal_is_documented_for_its_operation() -> None:
    by_id = {op.operation_id: op for op in load_spec().operations.values()}
    undocumented = [
        (operation, status)
        for operation, statuses in SEMANTIC_STATUSES.items()
        for status in statuses
        if status not in by_id[operation].responses
    ]
    assert undocumented == []
