"""The kit names a reply's time without a time zone, in its own words, with the field.

RFC 3339 (the spec's `format: date-time`, the sheet's "RFC 3339") requires the offset;
`datetime.fromisoformat` takes a time without one, so the facade alone would not tell.
"""

from __future__ import annotations

import json

import pytest

from tests.support.fakeserver import checkpoint_json
from weaver_facade.contract._findings import Finding, fold_server_wide
from weaver_facade.contract._spec import load_spec

HEADERS = {"X-Request-ID": "req-1", "Content-Type": "application/json"}


def listing(**changes: object) -> bytes:
    return json.dumps({"items": [{**checkpoint_json("m-1", "a"), **changes}]}).encode()


def test_a_time_without_a_time_zone_is_named_with_its_field() -> None:
    spec = load_spec()
    op = spec.by_id("list_checkpoints")
    [problem] = spec.check_reply(op, 200, HEADERS, listing(created_at="2026-11-29T10:00:00"))
    assert problem.check == "response_schema_conformance"
    assert "Checkpoint: field `created_at`" in problem.message
    assert "time zone" in problem.message
    assert "RFC 3339" in problem.expected
    assert problem.got == '"2026-11-29T10:00:00"'


@pytest.mark.parametrize(
    "value", ["2026-11-29T10:00:00Z", "2026-11-29T10:00:00.5+02:00", "2026-11-29t10:00:00z"]
)
def test_a_time_with_its_time_zone_conforms(value: str) -> None:
    spec = load_spec()
    op = spec.by_id("list_checkpoints")
    assert spec.check_reply(op, 200, HEADERS, listing(created_at=value)) == []


def test_the_same_time_defect_in_many_replies_is_one_finding() -> None:
    # One serializer writes every time: each reply of every operation would be a finding
    # of its own, as each holds another time.
    spec = load_spec()
    findings = []
    for operation, value in (
        ("list_checkpoints", "2026-11-29T10:00:00"),
        ("list_checkpoints", "2026-11-29T10:00:01"),
        ("get_checkpoint", "2026-11-29T10:00:02"),
    ):
        op = spec.by_id(operation)
        body = listing(created_at=value)
        if operation == "get_checkpoint":
            body = json.dumps(json.loads(body)["items"][0]).encode()
        for problem in spec.check_reply(op, 200, HEADERS, body):
            findings.append(
                Finding(
                    "conformance",
                    op.label,
                    problem.check,
                    problem.message,
                    problem.expected,
                    problem.got,
                )
            )
    [finding] = fold_server_wide(findings)
    assert finding.operation == "GET /api/v1/models/{model_id}/checkpoints"
    assert "; 2 more replies too (GET /api/v1/checkpoints/{checkpoint_id})" in finding.message
