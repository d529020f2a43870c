"""A 500 is one finding, however many checks its one reply fails.

A server that crashed once showed three findings for the one reply: the server error,
"500 is not a documented status", and schemathesis' missing-header check, each with the
same reproduction. What the crash sent is no answer of the server's to hold to the spec.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from weaver_facade.contract._conformance import ConformanceOutcome, _collect
from weaver_facade.contract._spec import load_spec

LABEL = "GET /api/v1/checkpoints/{checkpoint_id}/artifacts"
SPEC = load_spec()


def check(name: str, title: str, message: str = "") -> Any:
    failure = SimpleNamespace(operation=LABEL, title=title, message=message)
    return SimpleNamespace(
        name=name, failure_info=SimpleNamespace(failure=failure, code_sample="curl ...")
    )


def collected(status: int, checks: list[Any], headers: dict[str, list[str]]) -> list[Any]:
    case = SimpleNamespace(
        operation=SimpleNamespace(label=LABEL, method="GET"), headers={}, method="GET"
    )
    body = json.dumps({"error": "internal", "message": "boom", "retryable": False})
    response = SimpleNamespace(
        status_code=status,
        headers={"Content-Type": ["application/json"], **headers},
        content=body.encode(),
    )
    recorder = SimpleNamespace(
        interactions={"c1": SimpleNamespace(response=response)},
        cases={"c1": SimpleNamespace(value=case)},
        checks={"c1": checks},
    )
    outcome = ConformanceOutcome()
    _collect(SPEC, recorder, outcome, None)
    return outcome.findings


def test_a_500_whose_reply_fails_three_checks_is_one_finding() -> None:
    checks = [
        check("not_a_server_error", "Server error"),
        check("status_code_conformance", "Undocumented HTTP status code"),
        check("response_headers_conformance", "Missing required headers", "X-Request-ID"),
    ]
    found = collected(500, checks, {})
    assert [(f.operation, f.check) for f in found] == [(LABEL, "not_a_server_error")], [
        f.line() for f in found
    ]
    (finding,) = found
    # The other checks' words stay on it: nothing the reply showed is lost.
    assert finding.message.startswith("the server failed with 500 (`internal`: boom); "), (
        finding.message
    )
    assert "500 is not a documented status" in finding.message, finding.message
    assert "Missing required headers" in finding.message, finding.message


def test_a_reply_below_500_keeps_a_finding_per_check() -> None:
    checks = [
        check("status_code_conformance", "Undocumented HTTP status code"),
        check("response_headers_conformance", "Missing required headers", "X-Request-ID"),
    ]
    found = collected(418, checks, {})
    assert sorted(f.check for f in found) == [
        "response_headers_conformance",
        "status_code_conformance",
    ], [f.line() for f in found]
