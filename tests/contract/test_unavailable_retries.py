"""The availability finding says how often each request that still asked to try later
was sent again.

Once an operation has used its retries, conformance sends its later requests once only;
the finding said "after 3 retries each" of those too.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from weaver_facade.contract._conformance import (
    ConformanceOutcome,
    PatientTransport,
    _collect,
    _unavailable,
)
from weaver_facade.contract._spec import load_spec

LABEL = "GET /api/v1/checkpoints/{checkpoint_id}/artifacts"


class _Busy:
    """schemathesis' transport, answering every request 503 with `Retry-After: 0`."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, case: Any, **kwargs: Any) -> Any:
        self.sent += 1
        body = {"error": "unavailable", "message": "busy", "retryable": True}
        return SimpleNamespace(
            status_code=503,
            headers={"Retry-After": ["0"], "Content-Type": ["application/json"]},
            content=json.dumps(body).encode(),
        )


def _case() -> Any:
    return SimpleNamespace(
        operation=SimpleNamespace(label=LABEL, method="GET"), headers={}, method="GET"
    )


def test_a_request_after_its_operation_used_its_retries_is_said_not_retried() -> None:
    inner = _Busy()
    patient = PatientTransport(inner, deadline=float("inf"))
    cases = [_case(), _case()]
    replies = [patient.send(case) for case in cases]
    assert inner.sent == 5  # the first request and its 3 retries, then the second once
    failure = SimpleNamespace(operation=LABEL, title="Server error", message="")
    check = SimpleNamespace(
        name="not_a_server_error",
        failure_info=SimpleNamespace(failure=failure, code_sample="curl ..."),
    )
    recorder = SimpleNamespace(
        interactions={f"c{i}": SimpleNamespace(response=r) for i, r in enumerate(replies)},
        cases={f"c{i}": SimpleNamespace(value=c) for i, c in enumerate(cases)},
        checks={f"c{i}": [check] for i in range(len(cases))},
    )
    outcome = ConformanceOutcome()
    _collect(
        load_spec(), recorder, outcome, None, ran_out=patient.ran_out, retries_of=patient.retries_of
    )
    assert outcome.findings == []
    finding = _unavailable(outcome.later)
    assert finding.message == (
        "2 replies still asked to try again later, 1 after 3 retries, 1 not retried (an "
        "operation that used its retries is not retried again): those requests were not "
        "checked"
    )


def test_replies_all_retried_alike() -> None:
    one = _unavailable([(LABEL, 503, "curl", 3)])
    assert one.message.startswith("1 reply still asked to try again later, after 3 retries: ")
    two = _unavailable([(LABEL, 503, "curl", 3), (LABEL, 429, "curl", 3)])
    assert two.message.startswith("2 replies still asked to try again later, after 3 retries each")
