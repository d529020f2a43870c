"""Where the spec says more than the wire sheet (weaver-wire.md, the real service's facts),
a server that follows the sheet gets notes, not findings; where the sheet states the rule,
it is still held to it.

A server written from the sheet alone got three findings: a session opened for a request
without a body (the sheet gives the body the SDK sends, not that one is required),
`GET /supported-models?limit=1001` answered (the sheet gives no bound), and
`{"ttl_seconds": 255.0}` refused (JSON Schema's integer takes it; the sheet says int).
Another got five, for bounds only the spec sets (a TTL beyond ten years taken, and listed),
and another one, for a field the spec does not have, which it ignored.
"""

from __future__ import annotations

import json
import re
import shlex
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from schemathesis.core import NOT_SET
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from weaver_client import limits

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from tests.support.fakeserver import checkpoint_json
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._conformance import (
    ConformanceOutcome,
    _collect,
    _findings_for_failure,
    _left_open,
    _result_findings,
)
from weaver_facade.contract._lifecycle import Watcher
from weaver_facade.contract._spec import OperationResults, Spec, load_spec

LEFT_OPEN = {"negative_data_rejection", "positive_data_acceptance"}
SPEC: Spec = load_spec()
MAX_TTL = limits.TTL_SECONDS_MAXIMUM
TTL_RULE = f"must be <= {MAX_TTL}"


def left_open(
    check: str, case: Any, response: Any, outcome: ConformanceOutcome | None = None
) -> str | None:
    return _left_open(SPEC, outcome or ConformanceOutcome(), check, case, response)


@pytest.mark.slow  # runs the kit against a server of its own
def test_what_the_sheet_leaves_open_is_a_note() -> None:
    # Without the extensions, as the real service: with `idempotency-key`, the request
    # without a body carries a generated key already used, and gets 422 for that.
    with serve_emulator(Drift.SHEET_TO_THE_LETTER, extensions="none") as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    assert [f.line() for f in report.findings if f.check in LEFT_OPEN] == []
    notes = "\n".join(report.notes)
    assert "POST /api/v1/sessions: Missing request body was accepted (201)" in notes, notes
    assert "GET /api/v1/supported-models: limit: " in notes, notes
    assert served.middleware.null_names > 0
    assert "`name` null (optional, but must not be null)" in notes, notes


@pytest.mark.slow  # runs the kit against a server of its own
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
    note = left_open("positive_data_acceptance", case, SimpleNamespace(status_code=400))
    assert note is not None
    assert note.startswith("POST /api/v1/checkpoints/{checkpoint_id}/export: `ttl_seconds`: 255.0")
    assert note.endswith("the wire sheet says int")


def test_a_session_body_without_the_sheets_fields_refused_is_a_note() -> None:
    # The sheet gives the session body as `{"tags", "user_metadata", "sdk_version"}` and
    # marks only `name`, `labels`, `organization_id` and `project_id` optional: a server
    # written from it that required the three got a finding for a spec-valid body
    # `{"organization_id": "org-1", "project_id": "proj-1"}` refused with 400.
    refused = SimpleNamespace(status_code=400)
    label = SimpleNamespace(label="POST /api/v1/sessions")
    partial = SimpleNamespace(
        operation=label, body={"organization_id": "org-1", "project_id": "proj-1"}
    )
    note = left_open("positive_data_acceptance", partial, refused)
    assert note is not None
    assert note.startswith("POST /api/v1/sessions: a body without `tags`, `user_metadata`")
    # With all three, a refusal is the server's.
    whole = {"tags": [], "user_metadata": {}, "sdk_version": "1", "project_id": "p"}
    full = SimpleNamespace(operation=label, body=whole)
    assert left_open("positive_data_acceptance", full, refused) is None


def _negative(label: str, location: ParameterLocation, body: Any = NOT_SET) -> Any:
    data = SimpleNamespace(parameter_location=location, parameter=None, description="invalid")
    info = SimpleNamespace(mode=GenerationMode.NEGATIVE)
    meta = SimpleNamespace(phase=SimpleNamespace(data=data), components={location: info})
    return SimpleNamespace(operation=SimpleNamespace(label=label), meta=meta, body=body, query={})


def test_what_the_sheet_states_is_still_a_finding() -> None:
    accepted = SimpleNamespace(status_code=201)
    # The sheet gives the save's `type` (no `?`): a save without a body is still refused.
    no_save_body = _negative("POST /api/v1/models/{model_id}/checkpoints", ParameterLocation.BODY)
    assert left_open("negative_data_rejection", no_save_body, accepted) is None
    # A session's `tags` are `[str]` by the sheet: a number there is still refused.
    bad_tags = _negative("POST /api/v1/sessions", ParameterLocation.BODY, {"tags": 5})
    assert left_open("negative_data_rejection", bad_tags, accepted) is None
    # The bodies a session and an export may do without (the sheet marks none required):
    # an export-hf without one taken was a finding, a session's a note.
    for label in (
        "POST /api/v1/sessions",
        "POST /api/v1/checkpoints/{checkpoint_id}/export",
        "POST /api/v1/models/{model_id}/export-hf",
    ):
        no_body = _negative(label, ParameterLocation.BODY)
        assert left_open("negative_data_rejection", no_body, accepted) is not None, label
    # A refusal of a request with no integer written as a float is still the server's.
    refused = SimpleNamespace(status_code=400)
    plain = SimpleNamespace(operation=SimpleNamespace(label="x"), body={"ttl_seconds": 255})
    assert left_open("positive_data_acceptance", plain, refused) is None


def test_an_invalid_request_accepted_says_what_was_invalid() -> None:
    # The finding said only schemathesis' "Schema-violating request accepted: Invalid
    # data should have been rejected", not which part of the request broke the spec.
    label = "POST /api/v1/models/{model_id}/checkpoints"
    case = _negative(label, ParameterLocation.BODY)
    case.meta.phase.data.description = "Missing request body"
    failure = SimpleNamespace(
        operation=label,
        title="Schema-violating request accepted",
        message="Invalid data should have been rejected\nExpected: 400, 401",
    )
    reply = httpx.Response(201, json={})
    [finding] = _findings_for_failure(
        SPEC, "negative_data_rejection", failure, case, reply, "curl -X POST", None
    )
    assert finding.message == (
        "Schema-violating request accepted: Invalid data should have been rejected "
        "(Missing request body)"
    )


def test_what_made_a_request_invalid_is_said_on_the_finding_s_one_line() -> None:
    # A fuzzed case's description is one line per mutation ("- ...\n- ..."): the finding's
    # message ran over several lines. A coverage case's ("Value greater than maximum")
    # named no parameter, which schemathesis' own message gives on a later line.
    label = "GET /api/v1/operations/{operation_id}"
    failure = SimpleNamespace(
        operation=label,
        title="Schema-violating request accepted",
        message="Invalid data should have been rejected\nExpected: 400, 401",
    )
    reply = httpx.Response(200, json={})
    fuzzed = _negative_parameter(label, ParameterLocation.QUERY, None)
    fuzzed.meta.phase.data.description = (
        "- violates `type` at /properties/wait (was number, became object)\n"
        "- violates `maxLength` at /properties/seen_revision"
    )
    covered = _negative_parameter(label, ParameterLocation.QUERY, "wait")
    covered.meta.phase.data.description = "Value greater than maximum"
    messages = [
        finding.message
        for case in (fuzzed, covered)
        for finding in _findings_for_failure(
            SPEC, "negative_data_rejection", failure, case, reply, "curl", None
        )
    ]
    assert messages == [
        "Schema-violating request accepted: Invalid data should have been rejected "
        "(violates `type` at /properties/wait (was number, became object); "
        "violates `maxLength` at /properties/seen_revision)",
        "Schema-violating request accepted: Invalid data should have been rejected "
        "(query parameter `wait`: Value greater than maximum)",
    ]


@pytest.mark.slow  # runs the kit against a server of its own
def test_bounds_the_sheet_does_not_state_are_notes() -> None:
    # The sheet bounds no TTL, project_id or sequence length; the spec does.
    with serve_emulator(Drift.UNBOUNDED, extensions="none") as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    assert served.middleware.taken_beyond > 0
    assert served.middleware.ttl_shown > 0  # listings showed a TTL beyond the maximum
    assert [f.line() for f in report.findings] == []
    notes = "\n".join(report.notes)
    assert re.search(
        r"POST /api/v1/sessions: .* was accepted \(201\), as the spec does not allow; "
        r"`project_id` \"0+\.\.\. \(must be at most 128 characters long\): "
        r"the wire sheet states no such rule",
        notes,
    ), notes
    assert re.search(
        r"GET /api/v1/models/\{model_id\}/checkpoints: the reply holds `items\[0\]\.ttl_seconds` "
        r"\d+ \(must be <= 315360000\), a value a request of the run set and the server took",
        notes,
    ), notes


def test_a_bound_the_sheet_states_or_one_beside_another_break_is_still_a_finding() -> None:
    accepted = SimpleNamespace(status_code=202)
    save = "POST /api/v1/models/{model_id}/checkpoints"
    outcome = ConformanceOutcome()
    beyond = _negative(save, ParameterLocation.BODY, {"type": "weight", "ttl_seconds": MAX_TTL + 1})
    assert left_open("negative_data_rejection", beyond, accepted, outcome) is not None
    assert outcome.taken_beyond == {("ttl_seconds", str(MAX_TTL + 1), TTL_RULE)}
    # Beside a break of what the sheet states (the type's values), it is the server's.
    both = {"type": "training", "ttl_seconds": MAX_TTL + 1}
    assert (
        left_open(
            "negative_data_rejection", _negative(save, ParameterLocation.BODY, both), accepted
        )
        is None
    )
    # `tokens` >= 0 is the sheet's own bound.
    step = "POST /api/v1/models/{model_id}/forward-backward-passes"
    chunk: dict[str, Any] = {"type": "encoded_text", "tokens": [-1]}
    payload = _step_payload(chunk)
    negative = _negative(step, ParameterLocation.BODY, {"payload": payload})
    assert SPEC.schemas.component("ForwardBackwardRequest").is_valid({"payload": payload}) is False
    assert left_open("negative_data_rejection", negative, accepted) is None
    chunk["tokens"] = [1]
    assert SPEC.schemas.component("ForwardBackwardRequest").is_valid({"payload": payload})


def _step_payload(chunk: dict[str, Any]) -> dict[str, Any]:
    """A forward-backward request's payload of one datum, whose one chunk is ``chunk``."""
    datum = {
        "model_input": {"chunks": [chunk]},
        "loss_fn_inputs": {
            "target_tokens": {"data": [1], "dtype": "int64"},
            "weights": {"data": [1.0], "dtype": "float32"},
        },
    }
    return {
        "model_id": "m-1",
        "seq_id": 1,
        "forward_backward_input": {"loss_fn": "cross_entropy", "data": [datum]},
    }


def test_an_unknown_field_taken_is_a_note() -> None:
    # A server written from the sheet alone, which ignores fields it does not know (the
    # sheet has a server ignore what it lacks), got a finding for an export-hf taken with
    # one: the spec's `additionalProperties: false` is a rule of its own.
    accepted = SimpleNamespace(status_code=202)
    label = "POST /api/v1/models/{model_id}/export-hf"
    sent = {"ttl_seconds": None, "format": "huggingface", "merge_adapter": True}
    outcome = ConformanceOutcome()
    odd = _negative(label, ParameterLocation.BODY, {**sent, "\x85\xd7*": [[-523], [False]]})
    note = left_open("negative_data_rejection", odd, accepted, outcome)
    assert note is not None
    assert '`["\\u0085\\u00d7*"]` [[-523], [false]] (is not a known field)' in note, note
    assert note.endswith("the wire sheet states no such rule")
    # A nested object's too: a datum of a forward-backward pass.
    step = "POST /api/v1/models/{model_id}/forward-backward-passes"
    payload = _step_payload({"type": "encoded_text", "tokens": [1], "x": 1})
    nested = _negative(step, ParameterLocation.BODY, {"payload": payload})
    note = left_open("negative_data_rejection", nested, accepted)
    assert note is not None
    assert "model_input.chunks[0].x` 1 (is not a known field)" in note, note
    # Beside a break of what the sheet states (the format's value), it is the server's.
    both = _negative(label, ParameterLocation.BODY, {**sent, "format": "gguf", "extra": 1})
    assert left_open("negative_data_rejection", both, accepted) is None


def beyond_the_ttl_bound() -> dict[str, Any]:
    """A checkpoint that a save with a TTL beyond the spec's maximum made."""
    expires = "2036-12-03T00:00:00Z"
    return {**checkpoint_json("m-1", "c1"), "ttl_seconds": MAX_TTL + 1, "expires_at": expires}


def test_a_reply_beyond_a_bound_is_a_note_only_for_a_value_the_run_had_taken() -> None:
    label = "GET /api/v1/models/{model_id}/checkpoints"
    listing = SimpleNamespace(operation=SimpleNamespace(label=label))
    checkpoint = beyond_the_ttl_bound()
    reply = SimpleNamespace(status_code=200, content=json.dumps({"items": [checkpoint]}).encode())
    outcome = ConformanceOutcome()
    assert left_open("response_schema_conformance", listing, reply, outcome) is None
    outcome.taken_beyond.add(("ttl_seconds", str(MAX_TTL + 2), TTL_RULE))  # another value
    assert left_open("response_schema_conformance", listing, reply, outcome) is None
    outcome.taken_beyond.add(("ttl_seconds", str(MAX_TTL + 1), TTL_RULE))
    note = left_open("response_schema_conformance", listing, reply, outcome)
    assert note is not None
    assert "`items[0].ttl_seconds` 315360001 (must be <= 315360000)" in note
    # A reply that breaks the spec otherwise too is not all a note: its break is a finding,
    # beside which the value is still a note (below).
    checkpoint["status"] = "done"
    broken = SimpleNamespace(status_code=200, content=json.dumps({"items": [checkpoint]}).encode())
    assert left_open("response_schema_conformance", listing, broken, outcome) is None


def test_a_done_save_beyond_a_bound_is_a_note_only_for_a_value_the_run_had_taken() -> None:
    # A save done at once (the sheet allows it) showed the TTL in its result, which the
    # rule for replies did not reach: still a finding.
    save = SPEC.operations["POST /api/v1/models/{model_id}/checkpoints"]
    done = {"id": "op-1", "status": "done", "response": beyond_the_ttl_bound()}
    content = json.dumps(done).encode()
    results = OperationResults(SPEC)
    (problem,) = results.check(save, 202, content)
    assert "ttl_seconds" in problem.message
    assert results.check(save, 202, content, {("ttl_seconds", str(MAX_TTL + 2), TTL_RULE)}) != []
    assert results.check(save, 202, content, {("ttl_seconds", str(MAX_TTL + 1), TTL_RULE)}) == []
    ((label, note),) = results.notes
    assert label == "POST /api/v1/models/{model_id}/checkpoints"
    assert "the result of save_checkpoint holds `response.ttl_seconds` 315360001" in note


def drifted_beyond_the_ttl_bound() -> dict[str, Any]:
    """A checkpoint of a drift run: `checkpoint_type` for `type` (the history's second
    shape), and a TTL beyond the spec's maximum that a save of the run set."""
    checkpoint = beyond_the_ttl_bound()
    checkpoint["checkpoint_type"] = checkpoint.pop("type")
    return checkpoint


TYPE_DRIFT = "Checkpoint: required field `type` missing (got `checkpoint_type`)"
TAKEN_TTL = f"315360001 ({TTL_RULE}), a value a request of the run set and the server took"


def test_a_taken_value_beside_a_drift_is_still_a_note_and_only_the_drift_a_finding() -> None:
    # The kit judged a reply whole: beside a drift, the TTL the run had set was a finding
    # of its own, and a note in a reply without one; so it turned into a note once the
    # drift was mended, unmended.
    label = "GET /api/v1/models/{model_id}/checkpoints"
    case = SimpleNamespace(
        operation=SimpleNamespace(label=label, method="GET"), headers={}, method="GET"
    )
    response = SimpleNamespace(
        status_code=200,
        headers={"Content-Type": ["application/json"], "X-Request-ID": ["req-1"]},
        content=json.dumps({"items": [drifted_beyond_the_ttl_bound()]}).encode(),
    )
    failure = SimpleNamespace(operation=label, title="Response violates schema", message="...")
    check = SimpleNamespace(
        name="response_schema_conformance",
        failure_info=SimpleNamespace(failure=failure, code_sample="curl ..."),
    )
    recorder = SimpleNamespace(
        interactions={"c1": SimpleNamespace(response=response)},
        cases={"c1": SimpleNamespace(value=case)},
        checks={"c1": [check]},
    )
    outcome = ConformanceOutcome(taken_beyond={("ttl_seconds", str(MAX_TTL + 1), TTL_RULE)})
    _collect(SPEC, recorder, outcome, None)
    assert [f.message for f in outcome.findings] == [f"{TYPE_DRIFT} at `items[0]`"]
    [note] = outcome.notes
    assert f"{label}: the reply holds `items[0].ttl_seconds` {TAKEN_TTL}" in note
    # A value the run did not set is the server's, beside the drift too.
    other = ConformanceOutcome(taken_beyond={("ttl_seconds", str(MAX_TTL + 2), TTL_RULE)})
    _collect(SPEC, recorder, other, None)
    assert [f.message for f in other.findings] == [
        f"{TYPE_DRIFT} at `items[0]`",
        f"Checkpoint: field `ttl_seconds`: 315360001 violates `maximum: {MAX_TTL}` at `items[0]`",
    ]
    assert other.notes == []


def test_a_done_saves_taken_value_beside_a_drift_is_still_a_note() -> None:
    save = SPEC.operations["POST /api/v1/models/{model_id}/checkpoints"]
    done = {"id": "op-1", "status": "done", "response": drifted_beyond_the_ttl_bound()}
    results = OperationResults(SPEC)
    taken = {("ttl_seconds", str(MAX_TTL + 1), TTL_RULE)}
    (problem,) = results.check(save, 202, json.dumps(done).encode(), taken)
    assert problem.message == f"{TYPE_DRIFT} at `response` (result of save_checkpoint)"
    ((label, note),) = results.notes
    assert label == save.label
    assert f"the result of save_checkpoint holds `response.ttl_seconds` {TAKEN_TTL}" in note


def test_a_reply_nested_past_what_json_reads_is_no_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    save = SPEC.operations["POST /api/v1/models/{model_id}/checkpoints"]
    assert OperationResults(SPEC).check(save, 202, deep, {("ttl_seconds", "1", TTL_RULE)}) == []
    label = "GET /api/v1/models/{model_id}/checkpoints"
    listing = SimpleNamespace(operation=SimpleNamespace(label=label))
    outcome = ConformanceOutcome(taken_beyond={("ttl_seconds", "1", TTL_RULE)})
    reply = SimpleNamespace(status_code=200, content=deep)
    assert left_open("response_schema_conformance", listing, reply, outcome) is None


def test_a_pattern_the_sheet_does_not_state_is_a_note_and_one_it_states_a_finding() -> None:
    accepted = SimpleNamespace(status_code=202)
    # The sheet gives a save's name as `"name"?: str`: the spec's pattern for it is its own.
    save = "POST /api/v1/models/{model_id}/checkpoints"
    spaced = _negative(save, ParameterLocation.BODY, {"type": "weight", "name": "epoch 2"})
    outcome = ConformanceOutcome()
    note = left_open("negative_data_rejection", spaced, accepted, outcome)
    assert note is not None
    words = limits.CHECKPOINT_NAME_PATTERN_WORDS
    rule = f'`name` "epoch 2" (must be {words})'
    assert note.endswith(f"{rule}: the wire sheet states no such rule"), note
    assert outcome.taken_beyond == {("name", '"epoch 2"', f"must be {words}")}
    # It states a checkpoint's path: a load of a path of another form is still refused.
    load = "POST /api/v1/models/{model_id}/load"
    body = {"path": "checkpoints/c1", "include_optimizer": False}
    other_form = _negative(load, ParameterLocation.BODY, body)
    assert left_open("negative_data_rejection", other_form, accepted) is None


def test_a_null_for_an_optional_field_taken_is_a_note_and_for_a_required_one_a_finding() -> None:
    # The sheet gives a save's body as `{"type", "name"?: str, ...}`: a server written from
    # it (`name: str | None = None`) took `"name": null` as no name and got a finding.
    accepted = SimpleNamespace(status_code=202)
    save = "POST /api/v1/models/{model_id}/checkpoints"
    outcome = ConformanceOutcome()
    body = {"type": "weight", "name": None}
    assert not SPEC.schemas.component("SaveCheckpointRequest").is_valid(body)
    note = left_open(
        "negative_data_rejection", _negative(save, ParameterLocation.BODY, body), accepted, outcome
    )
    assert note is not None
    assert note.endswith(
        "`name` null (optional, but must not be null): the wire sheet states no such rule"
    ), note
    # Without the required `type`, or with a null for it, it is still the server's.
    for wrong in ({"name": "x"}, {"type": None}, {"type": None, "name": None}):
        case = _negative(save, ParameterLocation.BODY, wrong)
        assert left_open("negative_data_rejection", case, accepted) is None, wrong
    # So is a null of a required field nested in an optional one (a LoRA config's rank).
    create = "POST /api/v1/sessions/{session_id}/models"
    lora = {"rank": None, "train_unembed": True, "train_mlp": True, "train_attn": True}
    model = {"model_seq_id": 1, "base_model": "weaver-tiny", "lora_config": lora}
    case = _negative(create, ParameterLocation.BODY, model)
    assert left_open("negative_data_rejection", case, accepted) is None
    # A reply or a result that shows the null breaks its schema: still a finding.
    checkpoint = {**checkpoint_json("m-1", "c1"), "name": None}
    listing = SimpleNamespace(operation=SimpleNamespace(label=save.replace("POST", "GET")))
    listed = json.dumps({"items": [checkpoint]}).encode()
    reply = SimpleNamespace(status_code=200, content=listed)
    assert left_open("response_schema_conformance", listing, reply, outcome) is None
    done = json.dumps({"id": "op-1", "status": "done", "response": checkpoint}).encode()
    results = OperationResults(SPEC)
    (problem,) = results.check(SPEC.operations[save], 202, done, outcome.taken_beyond)
    assert "field `name`" in problem.message, problem


def test_a_taken_value_excuses_only_the_rule_it_broke_not_a_field_of_the_same_name() -> None:
    # A checkpoint name beyond the spec's pattern, taken, made a download descriptor whose
    # file had that name ("../x", which the sheet says clients must refuse) a note: the
    # taken values were keyed by the field's name alone, and a file's is `name` too.
    accepted = SimpleNamespace(status_code=202)
    save = "POST /api/v1/models/{model_id}/checkpoints"
    outcome = ConformanceOutcome()
    for name in ("../x", "/etc/x", ""):
        body = {"type": "weight", "name": name}
        assert left_open(
            "negative_data_rejection",
            _negative(save, ParameterLocation.BODY, body),
            accepted,
            outcome,
        )
        download = SimpleNamespace(
            operation=SimpleNamespace(label="GET /api/v1/artifacts/{artifact_id}/download")
        )
        descriptor = {
            "artifact_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "kind": "hf_adapter",
            "files": [{"name": name, "url": "http://s/x"}],
        }
        reply = SimpleNamespace(status_code=200, content=json.dumps(descriptor).encode())
        assert left_open("response_schema_conformance", download, reply, outcome) is None, name


def test_a_done_reply_without_its_result_is_a_note() -> None:
    # The facade asks the operation for the result; the sheet's official SDK does not poll
    # a reply that is done already, so it would have none: worth a word, not a finding.
    with serve_emulator(Drift.DONE_WITHOUT_RESPONSE) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert [f.line() for f in report.findings] == []
    notes = "\n".join(report.notes)
    assert (
        "POST /api/v1/models/{model_id}/checkpoints: answered `done` without `response`" in notes
    ), notes
    assert "POST /api/v1/checkpoints/{checkpoint_id}/export: answered `done` without" in notes
    # The kit asks the operation for the result too: the export, the download and the
    # storage steps ran (the export step had failed without a finding, the run a PASS).
    assert report.lifecycle is not None
    assert [(s.name, s.status) for s in report.lifecycle.steps if s.status != "passed"] == []


def test_a_done_reply_whose_kind_is_no_string_is_a_finding_not_a_crash() -> None:
    # A `kind` that is an array (unhashable) is the server's drift, to be named as such.
    watcher = Watcher(load_spec(), "", None)
    request = httpx.Request("POST", "http://weaver.test/api/v1/models/m-1/checkpoints")
    done = {"id": "op-1", "status": "done", "kind": ["save_checkpoint"]}
    headers = {"X-Request-ID": "req-1"}
    watcher.see(httpx.Response(202, json=done, headers=headers, request=request))
    assert watcher.findings
    assert all("field `kind`" in f.line() for f in watcher.findings)
    assert len(watcher.notes) == 1


def _negative_parameter(
    label: str, location: ParameterLocation, parameter: str | None, **sent: Any
) -> Any:
    case = _negative(label, location)
    case.meta.phase.data.parameter = parameter
    case.query = sent.get("query", {})
    case.headers = sent.get("headers", {})
    return case


def test_a_parameter_beyond_a_rule_the_sheet_does_not_state_is_a_note() -> None:
    # A server written from the sheet, with its extensions, got findings for
    # `?limit=1001` on a checkpoint listing (the sheet gives `?limit=&cursor=` no bound)
    # and for an empty `Idempotency-Key` (the sheet gives the header no pattern).
    accepted = SimpleNamespace(status_code=200)
    listing = "GET /api/v1/models/{model_id}/checkpoints"
    query = ParameterLocation.QUERY
    for sent in (1001, "1001"):  # as the URL carries it: text
        limit = _negative_parameter(listing, query, "limit", query={"limit": sent})
        note = left_open("negative_data_rejection", limit, accepted)
        assert note is not None
        assert "`limit` 1001 (must be <= 1000): the wire sheet states no such rule" in note
    save = "POST /api/v1/models/{model_id}/checkpoints"
    key = {"Idempotency-Key": "", "X-WEAVER-API-KEY": "secret"}
    header = ParameterLocation.HEADER
    for parameter in ("Idempotency-Key", None):
        empty = _negative_parameter(save, header, parameter, headers=key)
        note = left_open("negative_data_rejection", empty, SimpleNamespace(status_code=202))
        assert note is not None
        assert '`Idempotency-Key` "" (must be 1 to 255 ASCII' in note
    # A value of another type breaks what the sheet states: still the server's.
    word = _negative_parameter(listing, query, "limit", query={"limit": "many"})
    assert left_open("negative_data_rejection", word, accepted) is None


def test_an_id_in_a_path_beyond_a_rule_the_sheet_does_not_state_is_a_note() -> None:
    # A server that reads a TTL change's checkpoint from its body's `path` took a 129-digit
    # `model_id` in the URL: a finding ("path parameter `model_id`: String larger than
    # maxLength"), of ResourceId's bounds, which are the spec's own; the sheet's ids have
    # none. Query and header parameters were already held to the sheet's rules so.
    accepted = SimpleNamespace(status_code=200)
    ttl = "PATCH /api/v1/models/{model_id}/checkpoints/ttl"
    long_id = _negative_parameter(ttl, ParameterLocation.PATH, "model_id")
    long_id.path_parameters = {"model_id": "0" * 129}
    note = left_open("negative_data_rejection", long_id, accepted)
    assert note is not None
    assert "(must be at most 128 characters long): the wire sheet states no such rule" in note
    # A parameter the route does not have is no note.
    unknown = _negative_parameter(ttl, ParameterLocation.PATH, "session_id")
    unknown.path_parameters = {"session_id": "0" * 129}
    assert left_open("negative_data_rejection", unknown, accepted) is None


def test_a_field_the_sheet_has_a_server_ignore_may_hold_anything() -> None:
    # A server written from the sheet ignores what it does not name (`metadata`, sent by
    # the official SDK) and what it says to accept and ignore (`tensor_transport`): it
    # took `"metadata": [null, null]` and got a finding.
    accepted = SimpleNamespace(status_code=202)
    step = "POST /api/v1/models/{model_id}/forward-backward-passes"
    payload = _step_payload({"type": "encoded_text", "tokens": [1]})
    [datum] = payload["forward_backward_input"]["data"]
    ignored: list[dict[str, Any]] = [
        {"metadata": [None, None]},
        {"tensor_transport": 5},
        {"forward_backward_input": {"loss_fn": "cross_entropy", "data": [datum | {"metadata": 5}]}},
    ]
    for extra in ignored:
        body = {"payload": payload | extra}
        assert not SPEC.schemas.component("ForwardBackwardRequest").is_valid(body)
        note = left_open(
            "negative_data_rejection", _negative(step, ParameterLocation.BODY, body), accepted
        )
        assert note is not None, extra
    create = "POST /api/v1/sessions/{session_id}/models"
    model = {"model_seq_id": 1, "base_model": "weaver-tiny", "performance_tier": 5}
    note = left_open(
        "negative_data_rejection", _negative(create, ParameterLocation.BODY, model), accepted
    )
    assert note is not None
    # What the sheet names is still the server's to check.
    wrong = _negative(step, ParameterLocation.BODY, {"payload": payload | {"seq_id": "x"}})
    assert left_open("negative_data_rejection", wrong, accepted) is None


def test_a_wait_beyond_the_sheets_own_bounds_is_still_a_finding() -> None:
    # The sheet states `?wait=<seconds, 0..60>` (long-poll): a server that takes 61 or -1
    # breaks a rule of the sheet's, unlike `limit=1001`.
    poll = "GET /api/v1/operations/{operation_id}"
    for sent in ("61", "-1", 61):
        wait = _negative_parameter(poll, ParameterLocation.QUERY, "wait", query={"wait": sent})
        assert left_open("negative_data_rejection", wait, SimpleNamespace(status_code=200)) is None


def test_a_refused_parameter_value_is_validated_once() -> None:
    # A value the spec refuses was validated against its schema twice: to find it
    # invalid, then again to find what it broke.
    spec = load_spec()
    runs: list[str] = []
    validator = spec.schemas.validator

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def is_valid(self, value: Any) -> bool:
            runs.append("is_valid")
            return bool(self.inner.is_valid(value))

        def iter_errors(self, value: Any) -> Any:
            runs.append("iter_errors")
            return self.inner.iter_errors(value)

    def counting(pointer: str, **kw: Any) -> Counting:
        return Counting(validator(pointer, **kw))

    spec.schemas.validator = counting  # type: ignore[method-assign]
    listing = "GET /api/v1/models/{model_id}/checkpoints"
    query = ParameterLocation.QUERY
    accepted = SimpleNamespace(status_code=200)
    for sent, left_open_note in (("1001", True), ("many", False), ("5", False)):
        runs.clear()
        case = _negative_parameter(listing, query, "limit", query={"limit": sent})
        note = _left_open(spec, ConformanceOutcome(), "negative_data_rejection", case, accepted)
        assert (note is not None) is left_open_note, sent
        assert len(runs) == 1, (sent, runs)


def test_a_note_of_an_invalid_request_is_one_line_too() -> None:
    # The note took a fuzzed case's description as it was, one line per mutation, in a
    # report of one line per note; the findings already joined them.
    case = _negative("POST /api/v1/sessions", ParameterLocation.BODY)
    case.meta.phase.data.description = "- Missing request body\n- another mutation"
    note = left_open("negative_data_rejection", case, SimpleNamespace(status_code=201))
    assert note is not None
    assert note.startswith(
        "POST /api/v1/sessions: Missing request body; another mutation was accepted (201)"
    )


def test_a_done_saves_finding_reproduces_with_the_body_the_run_sent() -> None:
    # The curl of a result's finding was made from the request's method, URL and headers
    # only: the save it gave had no body, which the server refused with 400 instead of
    # showing the drift (`content-type: application/json` and nothing after it).
    label = "POST /api/v1/models/{model_id}/checkpoints"
    checkpoint = checkpoint_json("m-1", "c1")
    checkpoint["checkpoint_type"] = checkpoint.pop("type")
    done = {"id": "op-1", "status": "done", "response": checkpoint}
    body = b'{"type": "weight", "name": "it\'s"}'
    request = SimpleNamespace(
        method="POST",
        uri="http://127.0.0.1:1/api/v1/models/m-1/checkpoints",
        body=body,
        headers={"Content-Type": ["application/json"], "Content-Length": [str(len(body))]},
    )
    response = SimpleNamespace(status_code=202, content=json.dumps(done).encode())
    interaction = SimpleNamespace(request=request, response=response)
    (finding,) = _result_findings(SPEC, [(label, interaction)], None, ConformanceOutcome())
    assert finding.message == f"{TYPE_DRIFT} at `response` (result of save_checkpoint)"
    assert finding.curl is not None
    assert shlex.split(finding.curl)[-2:] == ["--data-raw", body.decode()]


def test_an_operation_kind_of_the_servers_own_is_no_finding() -> None:
    # The wire sheet lists no kinds of an Operation, and forbids only the artifact's: a
    # server that says `save` failed six lifecycle steps on `kind` being none of
    # OperationKind's, the extension's schema of a field it does not offer.
    with serve_emulator(Drift.OWN_OPERATION_KINDS) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert [f.line() for f in report.findings] == []
    assert report.lifecycle is not None
    assert {s.status for s in report.lifecycle.steps} == {"passed"}
    assert report.extensions is not None
    assert "operation-details" in report.extensions.missing
    assert '`kind` ("save")' in report.extensions.evidence["operation-details"]


def test_a_request_refused_as_invalid_with_422_is_no_finding() -> None:
    # The wire states no status for a refused request (its one 422 is
    # `idempotency_mismatch`): a server that answers 422 `invalid_request`, as FastAPI
    # does, failed the malformed path's step, and its 422 to a listing with a cursor it
    # never issued was "not a documented status".
    with serve_emulator(Drift.INVALID_AS_422) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert [f.line() for f in report.findings] == []
    body = b'{"error": "invalid_request", "message": "invalid cursor", "retryable": false}'
    for label in (
        "GET /api/v1/models/{model_id}/checkpoints",
        "GET /api/v1/operations/{operation_id}",
    ):
        assert SPEC.check_reply(SPEC.operations[label], 422, {"X-Request-ID": "r-1"}, body) == []


def test_a_cursor_the_server_never_issued_may_be_refused() -> None:
    # The kit sent the spec's example cursor, which only the emulator's own format
    # decodes: a server that refused it got "a spec-valid request was refused".
    label = SimpleNamespace(label="GET /api/v1/models/{model_id}/checkpoints")
    case = SimpleNamespace(operation=label, body=None, query={"limit": 5, "cursor": "b2Zm"})
    note = left_open("positive_data_acceptance", case, SimpleNamespace(status_code=422))
    assert note is not None
    assert "the cursor `b2Zm`, which this server never issued, refused (422)" in note
    # Without a cursor, a refusal is the server's.
    plain = SimpleNamespace(operation=label, body=None, query={"limit": 5})
    assert left_open("positive_data_acceptance", plain, SimpleNamespace(status_code=422)) is None


def test_a_cursor_of_the_servers_own_form_is_no_finding() -> None:
    # Padded base64, as many servers page: the spec's own pattern for a cursor made its
    # every listing with a `next_cursor` a finding, though the facade sends it back as given.
    page = {"items": [checkpoint_json("m-1", "c0")], "next_cursor": "MQ=="}
    op = SPEC.operations["GET /api/v1/models/{model_id}/checkpoints"]
    assert SPEC.check_reply(op, 200, {"X-Request-ID": "r-1"}, json.dumps(page).encode()) == []


def test_a_listing_that_lags_the_save_is_a_note() -> None:
    # The wire sheet does not say a list shows a done save at once: a server that left a
    # checkpoint out of the first two listings after its save got "the list does not show
    # the saved checkpoint".
    with serve_emulator(Drift.LISTING_LAG) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",), deadline=10.0))
    assert [f.line() for f in report.findings] == []
    assert any("was listed only by listing 3 after its save" in n for n in report.notes)


def test_a_checkpoint_listed_twice_is_named_as_such() -> None:
    # It got "the list does not show the saved checkpoint `X` (listed: X, X)".
    with serve_emulator(Drift.LISTED_TWICE) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    listed = [f for f in report.findings if f.check == "checkpoint_listed"]
    assert len(listed) == 1, [f.line() for f in report.findings]
    name = re.search(r"`(contract-[0-9a-f]+)`", listed[0].message)
    assert name is not None, listed[0].message
    assert listed[0].message == (
        f"the list shows the saved checkpoint `{name[1]}` 2 times (listed: {name[1]}, {name[1]})"
    )


@pytest.mark.timeout(120)
def test_a_listing_that_never_ends_is_a_finding_not_a_hang() -> None:
    # Cursors that the server ignores, a new one on every page: the lifecycle's listing,
    # then the clean-up's, paged for ever.
    with serve_emulator(Drift.ENDLESS_CURSORS) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
        pages = served.middleware.pages
    lines = [f.line() for f in report.findings]
    assert [f.check for f in report.findings] == ["response_schema_conformance"], lines
    assert "field `next_cursor` asks for another page" in report.findings[0].message
    assert pages < 20
