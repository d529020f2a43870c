"""Where the spec says more than the wire sheet (weaver-wire.md, the real service's facts),
a server that follows the sheet gets notes, not findings; where the sheet states the rule,
it is still held to it.

A server written from the sheet alone got three findings: a session opened for a request
without a body (the sheet gives the body the SDK sends, not that one is required),
`GET /supported-models?limit=1001` answered (the sheet gives no bound), and
`{"ttl_seconds": 255.0}` refused (JSON Schema's integer takes it; the sheet says int).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from schemathesis.core import NOT_SET
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._conformance import _left_open

LEFT_OPEN = {"negative_data_rejection", "positive_data_acceptance"}


def test_what_the_sheet_leaves_open_is_a_note() -> None:
    # Without the extensions, as the real service: with `idempotency-key`, the request
    # without a body carries a generated key already used, and gets 422 for that.
    with serve_emulator(Drift.SHEET_TO_THE_LETTER, extensions="none") as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    assert [f.line() for f in report.findings if f.check in LEFT_OPEN] == []
    notes = "\n".join(report.notes)
    assert "POST /api/v1/sessions: Missing request body was accepted (201)" in notes, notes
    assert "GET /api/v1/supported-models: limit: " in notes, notes


def test_bodiless_replies_the_spec_allows_are_no_finding() -> None:
    # A terminate and a TTL change answered 204 with no body got schemathesis' content-type
    # and JSON findings; the lifecycle changes a real checkpoint's TTL, which no link of the
    # spec leads schemathesis to.
    with serve_emulator(Drift.BODILESS_REPLIES) as served:
        report = run_contract_test(quick(served.base_url))
    assert [f.line() for f in report.findings] == []
    assert report.lifecycle is not None
    assert "a TTL change takes effect, and so does permanent again" in [
        s.name for s in report.lifecycle.steps if s.status == "passed"
    ]


def test_an_integer_written_as_a_float_may_be_refused() -> None:
    # Whether a generated case reaches a resource of the run with such a number is chance:
    # the check itself, on the reply the server gave.
    case = SimpleNamespace(
        operation=SimpleNamespace(label="POST /api/v1/checkpoints/{checkpoint_id}/export"),
        body={"merge_adapter": False, "ttl_seconds": 255.0, "format": "huggingface"},
    )
    note = _left_open("positive_data_acceptance", case, SimpleNamespace(status_code=400))
    assert note is not None
    assert note.startswith("POST /api/v1/checkpoints/{checkpoint_id}/export: `ttl_seconds`: 255.0")
    assert note.endswith("the wire sheet says int")


def _negative(label: str, location: ParameterLocation, body: Any = NOT_SET) -> Any:
    data = SimpleNamespace(parameter_location=location, parameter=None, description="invalid")
    info = SimpleNamespace(mode=GenerationMode.NEGATIVE)
    meta = SimpleNamespace(phase=SimpleNamespace(data=data), components={location: info})
    return SimpleNamespace(operation=SimpleNamespace(label=label), meta=meta, body=body, query={})


def test_what_the_sheet_states_is_still_a_finding() -> None:
    accepted = SimpleNamespace(status_code=201)
    # The sheet gives the save's `type` (no `?`): a save without a body is still refused.
    no_save_body = _negative("POST /api/v1/models/{model_id}/checkpoints", ParameterLocation.BODY)
    assert _left_open("negative_data_rejection", no_save_body, accepted) is None
    # A session's `tags` are `[str]` by the sheet: a number there is still refused.
    bad_tags = _negative("POST /api/v1/sessions", ParameterLocation.BODY, {"tags": 5})
    assert _left_open("negative_data_rejection", bad_tags, accepted) is None
    # The body a session may do without.
    no_body = _negative("POST /api/v1/sessions", ParameterLocation.BODY)
    assert _left_open("negative_data_rejection", no_body, accepted) is not None
    # A refusal of a request with no integer written as a float is still the server's.
    refused = SimpleNamespace(status_code=400)
    plain = SimpleNamespace(operation=SimpleNamespace(label="x"), body={"ttl_seconds": 255})
    assert _left_open("positive_data_acceptance", plain, refused) is None
