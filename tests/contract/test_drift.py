"""The kit names each of Weaver's historical drifts precisely, and a load stuck in `pending`.

The emulator runs behind ``DriftMiddleware`` (test code), speaking one old shape at a time;
the kit runs with the quick settings. Each drift must be named, in the words a
server developer can act on, by the part that can see it, with a curl reproduction that
reads the key from ``$WEAVER_API_KEY``.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.contract.drift import Drift
from tests.contract.support import KEY, quick, serve_emulator
from weaver_facade.contract import ContractReport, Finding, run_contract_test
from weaver_facade.contract._kit import (
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_STATEFUL_STEPS,
    DEFAULT_TIME_LIMIT,
)
from weaver_facade.contract._report import render_text, to_json, write_reports
from weaver_facade.emulator import (
    FaultConfig,
    FaultRule,
    run_emulator,
)

SAVE = "POST /api/v1/models/{model_id}/checkpoints"
LOAD = "POST /api/v1/models/{model_id}/load"
EXPORT = "POST /api/v1/checkpoints/{checkpoint_id}/export"
DOWNLOAD = "GET /api/v1/artifacts/{artifact_id}/download"
TTL = "PATCH /api/v1/models/{model_id}/checkpoints/ttl"

# (drift, the parts that must name it, the operation, a regular expression for the message)
EXPECTED: list[tuple[Drift, tuple[str, ...], str, str]] = [
    (
        Drift.SYNC_SAVE,
        ("conformance", "lifecycle"),
        SAVE,
        re.escape(
            "the 201 reply is a Checkpoint where an Operation belongs: the server finished "
            "the work synchronously instead of starting an operation"
        ),
    ),
    (
        Drift.CHECKPOINT_TYPE,
        ("conformance", "lifecycle"),
        "GET /api/v1/models/{model_id}/checkpoints",
        re.escape("Checkpoint: required field `type` missing (got `checkpoint_type`)"),
    ),
    (
        Drift.OLD_TYPE_VALUES,
        ("conformance", "lifecycle"),
        "GET /api/v1/models/{model_id}/checkpoints",
        re.escape("Checkpoint: field `type`: `training")
        + "(_with_optimizer)?"
        + re.escape("` is not in CheckpointType's enum (`weight`, `weight_and_optimizer`, "),
    ),
    (
        Drift.LOAD_BY_ID,
        ("conformance", "lifecycle"),
        LOAD,
        re.escape(
            "a spec-valid request was refused with 400 invalid_request: "
            "'body.checkpoint_id: field required; body.path: unexpected field'; "
            "LoadCheckpointRequest: the server requires `checkpoint_id` instead of `path`"
        ),
    ),
    (
        Drift.NESTED_SAVE,
        ("conformance", "lifecycle"),
        SAVE,
        re.escape(
            "Operation: required fields `id`, `status` missing (got `checkpoint`, `operation`)"
        ),
    ),
    (
        Drift.STUCK_LOAD,
        ("lifecycle",),
        LOAD,
        r"the load operation `op-[0-9a-f]+` is still `pending` after \d+\.\d s "
        r"\(last status seen: `pending`\)",
    ),
    (
        Drift.UPPERCASE_SHA256,
        ("lifecycle",),
        DOWNLOAD,
        re.escape('DownloadFile: field `sha256`: "')
        + "[0-9A-F]+"
        + re.escape("... does not match Sha256's pattern `^[0-9a-f]{64}$` ")
        + re.escape("(64 lowercase hex digits) at `files[0]`"),
    ),
    (
        Drift.MISSING_FILES,
        ("lifecycle",),
        DOWNLOAD,
        re.escape("DownloadDescriptor: required field `files` missing"),
    ),
    (
        Drift.OPERATION_ARTIFACT_KIND,
        ("lifecycle",),
        EXPORT,
        re.escape("Operation: field `kind`: `hf_adapter` is not in OperationKind's enum (")
        + r"[^)]*\)"
        + re.escape(
            "; an Operation must never carry an artifact's kind (`hf_model`, `hf_adapter`): "
            "clients tell an export's two replies, a 202 Operation and a 200 Artifact, apart "
            "by `kind`"
        ),
    ),
    (
        # The kit never changed a real checkpoint's TTL: no link leads schemathesis there.
        Drift.TTL_IGNORED,
        ("lifecycle",),
        TTL,
        re.escape("after a TTL change to 3600 s the checkpoint has ttl_seconds None, "),
    ),
    (
        # A server that checked limit and offset and then ignored them passed.
        Drift.IGNORED_LIMIT,
        ("conformance",),
        "GET /api/v1/supported-models",
        r"\d+ items for limit=\d+: the server ignores `limit`",
    ),
    (
        # The facade reads the absent nulls as null; the kit still holds the server to
        # the spec, which requires both fields.
        Drift.OMITTED_NULLS,
        ("lifecycle",),
        "GET /api/v1/models/{model_id}/checkpoints",
        re.escape("Checkpoint: required fields `ttl_seconds`, `expires_at` missing at `items[0]`"),
    ),
    (
        # It was blamed on the POST that started the operation, with a curl of that
        # (correct) request, and read "expected a JSON object, got null".
        Drift.FLAT_RESULT,
        ("lifecycle",),
        "GET /api/v1/operations/{operation_id}",
        re.escape("forward_backward: the done Operation has no `response` ")
        + re.escape("(its ForwardBackwardResult)"),
    ),
]


# A checkpoint's shape, or a save's reply, is only seen once a save on a real model has
# been accepted, which schemathesis reaches through the stateful workflows: the quick
# settings make too few of them to be sure to (one accepted save in about 70 tries, lost
# when other test modules were imported into the same process).
NEED_WORKFLOWS = {Drift.CHECKPOINT_TYPE, Drift.OLD_TYPE_VALUES, Drift.SYNC_SAVE, Drift.NESTED_SAVE}
# Those full runs take 40 to 100 s each, and a quick one 20 to 35 s: conformance's naming
# of these (for the first four, also that the workflows reach a save) is checked under
# --slow; the lifecycle names each of them in the default suite.
SLOW_CONFORMANCE = NEED_WORKFLOWS | {Drift.LOAD_BY_ID}


# Named in the part's first seconds (a 6 s limit was enough idle, 10 s was not on a machine
# running four suites at once); the rest of a quick run (20 to 35 s) adds nothing to it.
SEEN_AT_ONCE = {Drift.IGNORED_LIMIT}


def default_parts(drift: Drift, parts: tuple[str, ...]) -> tuple[str, ...]:
    """The parts the default suite runs against ``drift``."""
    return tuple(p for p in parts if drift not in SLOW_CONFORMANCE or p != "conformance")


def in_part(finding: Finding, part: str) -> bool:
    return finding.part == part or part in finding.also_in


@dataclass(frozen=True)
class DriftRun:
    report: ContractReport
    #: Each checkpoint the server stored during the run, by name, with its status after it.
    checkpoints: dict[str, str]


@pytest.fixture(scope="module")
def runs() -> dict[Drift, DriftRun]:
    """One quick run per drift, of the parts that must name it.

    A clean emulator's run (0 findings) is ``test_cli``'s, against a real process.
    """
    done: dict[Drift, DriftRun] = {}
    for drift, parts, _, _ in EXPECTED:
        done[drift] = run_against(drift, default_parts(drift, parts))
    return done


@pytest.fixture(scope="module")
def reports(runs: dict[Drift, DriftRun]) -> dict[Drift, ContractReport]:
    return {drift: run.report for drift, run in runs.items()}


def run_against(drift: Drift, parts: tuple[str, ...], *, whole: bool = False) -> DriftRun:
    """The kit's quick run of ``parts`` against ``drift``; ``whole``: with the kit's full
    time limit, for a run that must finish (the sync save is seen long before)."""
    with serve_emulator(drift) as served:
        settings = quick(served.base_url, parts=parts)
        if drift in NEED_WORKFLOWS and "conformance" in parts:
            settings = replace(
                settings,
                max_examples=DEFAULT_MAX_EXAMPLES,
                stateful_steps=DEFAULT_STATEFUL_STEPS,
            )
        if drift in SEEN_AT_ONCE:
            settings = replace(settings, time_limit=15.0)
        if whole:
            settings = replace(settings, time_limit=DEFAULT_TIME_LIMIT)
        report = run_contract_test(settings)
        return DriftRun(report, served.checkpoints())


def assert_named(
    report: ContractReport, part: str, drift: Drift, operation: str, message: str
) -> None:
    named = [
        f
        for f in report.findings
        if in_part(f, part) and f.operation == operation and re.search(message, f.message)
    ]
    lines = "\n".join(f.line() for f in report.findings)
    assert named, f"{part} did not name {drift.value}; it reported:\n{lines}"
    for finding in named:
        line = finding.line()
        assert line.startswith(f"{operation}: ")
        assert f"expected {finding.expected}; got {finding.got}" in line
        assert finding.curl is not None
        assert finding.curl.startswith("curl ")
        assert '"X-WEAVER-API-KEY: $WEAVER_API_KEY"' in finding.curl
    assert KEY not in json.dumps([f.to_json() for f in report.findings])


@pytest.mark.parametrize(
    ("drift", "parts", "operation", "message"),
    EXPECTED,
    ids=[drift.value for drift, *_ in EXPECTED],
)
def test_each_drift_is_named_precisely(
    reports: dict[Drift, ContractReport],
    drift: Drift,
    parts: tuple[str, ...],
    operation: str,
    message: str,
) -> None:
    report = reports[drift]
    assert not report.passed
    for part in default_parts(drift, parts):
        assert_named(report, part, drift, operation, message)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("drift", "operation", "message"),
    [(d, o, m) for d, _, o, m in EXPECTED if d in SLOW_CONFORMANCE],
    ids=[d.value for d, *_ in EXPECTED if d in SLOW_CONFORMANCE],
)
def test_conformance_names_what_the_lifecycle_names_in_the_default_suite(
    drift: Drift, operation: str, message: str
) -> None:
    report = run_against(drift, ("conformance",), whole=True).report
    # A run cut short may end before the workflows list a checkpoint.
    assert report.complete, "conformance stopped at its time limit"
    assert_named(report, "conformance", drift, operation, message)


@pytest.mark.parametrize("drift", [d for d, *_ in EXPECTED], ids=[d.value for d, *_ in EXPECTED])
def test_the_run_deletes_every_checkpoint_it_made(
    runs: dict[Drift, DriftRun], drift: Drift
) -> None:
    # A save answered in another shape (a Checkpoint, a nested reply) never gave the kit
    # its checkpoint's id, and the probe's and the lifecycle's checkpoints stayed on the
    # server: on a real one, more at every run.
    stored = runs[drift].checkpoints
    assert stored, "the run saved nothing"
    left = {name: status for name, status in stored.items() if status != "deleted"}
    assert left == {}, runs[drift].report.notes


def test_a_stuck_load_names_its_operation_and_last_status(
    reports: dict[Drift, ContractReport],
) -> None:
    report = reports[Drift.STUCK_LOAD]
    stuck = [f for f in report.findings if f.check == "operation_completes"]
    assert stuck, "\n".join(f.line() for f in report.findings)
    for finding in stuck:
        operation_id = re.search(r"`(op-[0-9a-f]+)`", finding.message)
        assert operation_id is not None
        assert finding.expected == "`done` within 3 s (ContractSettings.deadline)"
        assert finding.got == "`pending`"
        # The reproduction is a plain GET of that operation, to see where it stands.
        assert finding.curl is not None
        assert f"/api/v1/operations/{operation_id.group(1)}" in finding.curl
    assert report.lifecycle is not None
    steps = {s.name: s.status for s in report.lifecycle.steps}
    assert steps["load_state finishes within the deadline and restores the weights"] == "failed"
    # The rest of the scenario still ran: the error cases do not depend on the load.
    assert steps["a duplicate name gets 409"] == "passed"
    assert steps["a load of an unknown checkpoint is refused"] == "passed"


def test_a_refused_save_is_one_finding_not_one_per_step_that_needs_it() -> None:
    # A server that refused the save with 422 got "the list does not show the saved
    # checkpoint" and "saving it again: expected 409, got 422" besides the save's own.
    with serve_emulator(Drift.REFUSED_SAVES) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    lines = [f.line() for f in report.findings]
    assert {f.operation for f in report.findings} == {SAVE}, lines
    assert report.lifecycle is not None
    steps = {s.name: (s.status, s.detail) for s in report.lifecycle.steps}
    nothing = ("skipped", "the save was refused (422), so there is no checkpoint")
    assert steps["save the state; the checkpoint has its type and path"][0] == "failed"
    assert steps["the list shows the checkpoint with its type and path"] == nothing
    assert steps["a duplicate name gets 409"] == nothing
    assert steps["a load of an unknown checkpoint is refused"][0] == "passed"


def test_absent_nulls_fail_the_server_but_not_the_scenario(
    reports: dict[Drift, ContractReport],
) -> None:
    # The save returned its checkpoint to the facade, so what rests on it ran and passed.
    report = reports[Drift.OMITTED_NULLS]
    assert report.lifecycle is not None
    steps = {s.name: s.status for s in report.lifecycle.steps}
    assert steps["load_state_with_optimizer reproduces the continuation exactly"] == "passed"
    assert steps["a TTL change takes effect, and so does permanent again"] == "passed"


def test_times_in_lowercase_are_no_finding() -> None:
    # RFC 3339 allows them; the facade refused them (`datetime.fromisoformat`), so the kit
    # failed the save, the listing and the TTL change, and named each reply.
    with serve_emulator(Drift.LOWERCASE_TIMES) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.lowercased > 0
    assert [f.line() for f in report.findings] == []
    assert report.passed


def test_drifts_that_only_rename_do_not_hide_behind_each_other(
    reports: dict[Drift, ContractReport],
) -> None:
    # Each drift is reported as itself, not as another one's symptom.
    words = {
        Drift.SYNC_SAVE: "a Checkpoint where an Operation belongs",
        Drift.CHECKPOINT_TYPE: "(got `checkpoint_type`)",
        Drift.OLD_TYPE_VALUES: "is not in CheckpointType's enum",
        Drift.LOAD_BY_ID: "requires `checkpoint_id` instead of `path`",
        Drift.NESTED_SAVE: "(got `checkpoint`, `operation`)",
        Drift.STUCK_LOAD: "is still `pending`",
        Drift.UPPERCASE_SHA256: "does not match Sha256's pattern",
        Drift.MISSING_FILES: "required field `files` missing",
        Drift.OPERATION_ARTIFACT_KIND: "`hf_adapter` is not in OperationKind's enum",
        Drift.OMITTED_NULLS: "required fields `ttl_seconds`, `expires_at` missing",
    }
    for drift, report in reports.items():
        text = "\n".join(f.message for f in report.findings)
        for other, word in words.items():
            assert (word in text) == (other is drift), (drift.value, other.value, text)


def test_reports_carry_each_finding(reports: dict[Drift, ContractReport], tmp_path: Path) -> None:
    report = reports[Drift.SYNC_SAVE]
    json_path, junit_path = write_reports(report, tmp_path)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["result"] == "fail"
    assert [f["message"] for f in data["findings"]] == [f.message for f in report.findings]
    # The file the kit just wrote, not untrusted input.
    junit = ET.parse(junit_path).getroot()  # noqa: S314
    failures = junit.findall(".//failure")
    assert int(junit.get("failures", "0")) >= 1
    messages = {failure.get("message") for failure in failures}
    assert {f.message for f in report.findings} <= messages
    assert all("curl " in (failure.text or "") for failure in failures)
    text = render_text(report)
    count = len(report.findings)
    assert text[-1].startswith(f"contract: FAIL, {count} finding{'' if count == 1 else 's'} in ")
    assert "(reproductions read the API key from $WEAVER_API_KEY)" in text


@pytest.mark.slow  # runs the kit against a server of its own
def test_a_missing_response_header_is_one_finding_and_hides_no_lifecycle_check() -> None:
    # The wire facts: every reply carries `X-Request-ID`. A server without it failed every
    # lifecycle step on that alone (16 findings), hiding whether the lifecycle works, and
    # conformance named it once per operation and status.
    with serve_emulator(Drift.NO_REQUEST_ID) as served:
        report = run_contract_test(quick(served.base_url))
    lines = "\n".join(f.line() for f in report.findings)
    named = [f for f in report.findings if "X-Request-ID" in f.message]
    # Nothing else either: operations whose testing stopped at the header kept mostly their
    # unauthenticated cases' 401s, which were read as a refused key.
    assert len(named) == len(report.findings) == 1, lines
    finding = named[0]
    assert finding.check == "response_headers_conformance"
    assert finding.expected == "header X-Request-ID"
    assert re.fullmatch(
        r"\d{3} reply lacks the required header `X-Request-ID`; "
        r"\d+ more (?:reply lacks|replies lack) it too \(.+\)",
        finding.message,
    ), finding.message
    assert in_part(finding, "conformance")
    assert in_part(finding, "lifecycle")
    assert finding.curl is not None
    assert '"X-WEAVER-API-KEY: $WEAVER_API_KEY"' in finding.curl
    assert report.lifecycle is not None
    failed = [s.name for s in report.lifecycle.steps if s.status != "passed"]
    assert failed == ["every reply carries the headers the spec requires"]
    assert len(report.lifecycle.steps) > 10


def test_a_probe_that_stops_early_says_what_the_reply_lacked(
    reports: dict[Drift, ContractReport],
) -> None:
    # The nested save of the wire's history has no top-level `id`: the note read
    # "the extension probe stopped early (KeyError: 'id')".
    notes = reports[Drift.NESTED_SAVE].notes
    stopped = [n for n in notes if n.startswith("the extension probe stopped early")]
    assert len(stopped) == 1, notes
    assert re.fullmatch(
        r"the extension probe stopped early: the reply to POST /api/v1/models/m-\w+/checkpoints "
        r"has no `id` \(it has `checkpoint`, `operation`\)",
        stopped[0],
    ), stopped[0]
    for report in reports.values():
        assert not [n for n in report.notes if "Error" in n], report.notes


@pytest.mark.parametrize(
    ("user", "password"),
    [("user", "hunter2pw-9c1"), ("tok-hunter2-9c1", "x"), ("tok-hunter2-9c1", None)],
    ids=["password", "user-name-then-x", "user-name-alone"],
)
def test_a_password_in_the_base_url_is_in_no_report(
    tmp_path: Path, user: str, password: str | None
) -> None:
    # It was printed in the report's URL, every curl line and, as Basic credentials
    # httpx made of it, in an `authorization` header of each; and so was all of a user
    # name, which may be the secret (GitHub's `TOKEN:x-oauth-basic`, a lone `TOKEN@`).
    userinfo = user if password is None else f"{user}:{password}"
    with serve_emulator(Drift.SYNC_SAVE) as served:
        url = served.base_url.replace("http://", f"http://{userinfo}@")
        report = run_contract_test(quick(url, parts=("lifecycle",)))
    assert report.findings, "the drift gives findings, with curl lines"
    assert any(f.curl for f in report.findings)
    assert report.base_url == served.base_url.replace("http://", "http://***@")
    written = [p.read_text(encoding="utf-8") for p in write_reports(report, tmp_path)]
    basic = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    for text in ["\n".join(render_text(report)), *written]:
        assert "hunter2" not in text
        assert basic not in text


def test_the_right_refusal_in_a_broken_error_body_is_no_second_finding() -> None:
    # Besides the finding that named the missing `retryable`, each refusal step said
    # "expected 409 checkpoint_exists, got 409 checkpoint_exists".
    with serve_emulator(Drift.NO_RETRYABLE) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    messages = [f.message for f in report.findings]
    assert any("required field `retryable` missing" in m for m in messages), messages
    assert not [m for m in messages if re.search(r"expected (\d+ \w+), got \1$", m)], messages


def test_a_presigned_url_is_in_no_report(tmp_path: Path) -> None:
    # A storage finding's curl line held the signed URL, a credential, in stdout and in
    # both report files.
    ignore = FaultRule("ignore_range", 1.0, route="/storage/artifacts/{artifact_id}/{name}")
    with run_emulator(api_keys=(KEY,), faults=FaultConfig(rules=(ignore,))) as emu:
        report = run_contract_test(quick(emu.base_url, parts=("lifecycle",)))
    storage = [f for f in report.findings if f.check == "storage_range"]
    assert storage, [f.check for f in report.findings]
    assert all(f.curl and "?signature-hidden" in f.curl for f in storage)
    written = [p.read_text(encoding="utf-8") for p in write_reports(report, tmp_path)]
    for text in ["\n".join(render_text(report)), *written]:
        assert "signature=" not in text
        assert "expires=" not in text


def test_a_run_cut_short_by_its_time_limit_says_so() -> None:
    # A slow route made the conformance part stop at its limit before fuzzing and the
    # stateful workflows ran, and the run read "contract: PASS" all the same.
    with serve_emulator() as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",), time_limit=1.0))
    assert report.conformance is not None
    assert report.conformance.cut_short
    summary = render_text(report)[-1]
    assert summary.startswith("contract: PASS (incomplete: conformance stopped at its time limit)")
    assert to_json(report)["parts"]["conformance"]["complete"] is False


def test_the_clean_up_is_quiet_on_a_server_that_forgets_terminated_models(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The kit terminated the run's models, then closed its facade client, whose close
    # terminated them again: a server that no longer finds a terminated model answered
    # 404, logged as "could not terminate model m-1 on close" for each, at every run.
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        serve_emulator(Drift.FORGETS_TERMINATED) as served,
    ):
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert report.findings == [], [f.line() for f in report.findings]
    assert "could not terminate" not in caplog.text, caplog.text


@pytest.mark.parametrize("drift", [Drift.SYNC_SAVE, Drift.NESTED_SAVE], ids=str)
def test_a_save_read_only_from_the_list_is_still_exported(
    reports: dict[Drift, ContractReport], drift: Drift
) -> None:
    # The save's reply broke the spec, but the list showed the checkpoint and the loads
    # used it; the export steps were skipped as "no checkpoint was saved", so a server
    # with only that drift had its export and storage never checked.
    report = reports[drift]
    assert report.lifecycle is not None
    steps = {s.name: (s.status, s.detail) for s in report.lifecycle.steps}
    assert steps["the list shows the checkpoint with its type and path"][0] == "passed"
    for name in (
        "export the saved checkpoint; the artifact completes and is listed",
        "download every file; sizes and sha256 match the descriptor",
        "storage URLs work without the key and honour Range",
    ):
        assert steps[name] == ("passed", ""), name


def test_a_download_with_nothing_to_verify_says_so() -> None:
    # The step "sizes and sha256 match the descriptor" passed in silence against a
    # descriptor that gave neither, so a report read as if every file had been verified.
    with serve_emulator(Drift.UNVERIFIABLE_FILES) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert [f.line() for f in report.findings] == []
    unverified = [n for n in report.notes if "neither `size` nor `sha256`" in n]
    assert len(unverified) == 1, report.notes
    assert "`adapter_model.safetensors`" in unverified[0]
