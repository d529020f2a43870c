"""`missing_auth` is for a key the server refuses, not for the 401s of schemathesis' own
requests without it.

schemathesis (4.32.5) counts, per scenario, the share of 401/403 replies, and leaves out
only a scenario that omits an `Authorization` header. The key here is
`X-WEAVER-API-KEY`: a coverage scenario with the request that omits it (401) and a TRACE
(a request-shape probe it does not count) was "almost every request got 401" for every
operation that never served a positive case. A server written from the wire sheet got
that finding for five operations while it accepted the key on all of them.
"""

from __future__ import annotations

import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test

READ_MODEL = "GET /api/v1/models/{model_id}"


@pytest.mark.slow  # runs the kit against a server of its own
def test_the_runs_own_requests_without_the_key_are_no_refused_key() -> None:
    with serve_emulator(Drift.UNREAD_MODELS) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    assert report.conformance is not None
    statuses = {s for (label, s) in report.conformance.statuses if label == READ_MODEL}
    assert {401, 404} <= statuses, statuses
    assert [f.line() for f in report.findings if f.check == "missing_auth"] == []


@pytest.mark.slow  # runs the kit against a server of its own
def test_a_key_one_operation_refuses_is_still_named() -> None:
    with serve_emulator(Drift.TERMINATE_REFUSES_THE_KEY) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    found = [f for f in report.findings if f.check == "missing_auth"]
    assert [f.operation for f in found] == ["POST /api/v1/models/{model_id}/terminate"], found
    assert "almost every request got 401: the API key was refused" in found[0].message


@pytest.mark.parametrize("parts", [("conformance",), ("lifecycle",)])
def test_no_key_from_python_names_the_settings_field(parts: tuple[str, ...]) -> None:
    # From Python the kit reads only ContractSettings: "no API key was given (--api-key or
    # WEAVER_API_KEY)" named a flag and a variable that run_contract_test never reads.
    with serve_emulator() as served:
        report = run_contract_test(quick(served.base_url, api_key=None, parts=parts))
    said = [f.message for f in report.findings] + report.notes
    assert any("no API key was given (ContractSettings.api_key)" in s for s in said), said
    assert not [s for s in said if "WEAVER_API_KEY" in s or "--api-key" in s], said
