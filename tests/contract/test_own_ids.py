"""An id the run made is always its own, however the request that made it was sent.

Against a server that opened a session without the key, schemathesis' auth checks opened
sessions with probes the kit's ``after_call`` hook never saw; their ids came back in
generated cases and the kit stood in for them (``absent-...``), so the server's 404 for
``/sessions/absent-.../models`` was counted against it ("Created resource not found").
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import _ownership, run_contract_test
from weaver_facade.contract._conformance import CREATE_MODEL, ConformanceOutcome, _collect
from weaver_facade.contract._spec import load_spec


@pytest.mark.slow  # runs the kit against a server of its own
def test_sessions_the_run_opened_are_never_stood_in_for(monkeypatch: pytest.MonkeyPatch) -> None:
    stood_in: list[str] = []
    stand_in = _ownership.Ownership.stand_in

    def watched(self: _ownership.Ownership, case: Any) -> None:
        before = dict(case.path_parameters or {})
        stand_in(self, case)
        after = case.path_parameters or {}
        stood_in.extend(value for name, value in before.items() if after.get(name) != value)

    monkeypatch.setattr(_ownership.Ownership, "stand_in", watched)
    with serve_emulator(Drift.OPEN_SESSIONS) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    assert stood_in, "nothing was stood in for: the test shows nothing"
    assert served.middleware.sessions
    assert sorted(served.middleware.sessions & set(stood_in)) == []
    assert [f.line() for f in report.findings if f.check == "ensure_resource_availability"] == []


def _step(label: str, path_parameters: dict[str, str], status: int) -> SimpleNamespace:
    operation = SimpleNamespace(label=label)
    case = SimpleNamespace(
        operation=operation, path_parameters=path_parameters, headers={}, method="POST"
    )
    body = json.dumps({"error": "not_found", "message": "no such session", "retryable": False})
    response = SimpleNamespace(
        status_code=status, headers={"Content-Type": ["application/json"]}, content=body.encode()
    )
    return SimpleNamespace(case=case, response=response)


def test_a_stand_in_on_a_step_that_did_not_follow_its_link_is_no_finding() -> None:
    # schemathesis follows a link's value only most of the time; otherwise it generates the
    # id (with true randomness: no run reproduces it at will). The kit stands in for that
    # id, not the run's, and schemathesis, which takes a path parameter that differs from
    # the generated one for the link's value, blamed the server for the stand-in's 404:
    # "Created resource not found" for POST /sessions, `absent-...` 66 ms after the
    # session was opened.
    ownership = _ownership.Ownership("POST /api/v1/sessions")
    step = _step(CREATE_MODEL, {"session_id": "s-generated"}, 404)
    ownership.stand_in(step.case)
    assert step.case.path_parameters["session_id"].startswith("absent-")
    failure = SimpleNamespace(
        operation="POST /api/v1/sessions",
        title="Created resource not found",
        message="The API returned `404 Not Found` for a resource that was just created.",
    )
    check = SimpleNamespace(
        name="ensure_resource_availability",
        failure_info=SimpleNamespace(failure=failure, code_sample="curl ..."),
    )
    recorder = SimpleNamespace(
        interactions={"c1": SimpleNamespace(response=step.response)},
        cases={"c1": SimpleNamespace(value=step.case)},
        checks={"c1": [check]},
    )
    outcome = ConformanceOutcome()
    _collect(load_spec(), recorder, outcome, None, ownership.stood_in)
    assert [f.line() for f in outcome.findings] == []
    # The same 404 for an id the run made (no stand-in) is still the server's.
    made = _step(CREATE_MODEL, {"session_id": "s-made"}, 404)
    recorder.cases["c1"] = SimpleNamespace(value=made.case)
    _collect(load_spec(), recorder, outcome, None, ownership.stood_in)
    assert [f.check for f in outcome.findings] == ["ensure_resource_availability"]
