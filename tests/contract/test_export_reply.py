"""An export's reply is told apart by its `kind`, as the wire sheet says clients do.

"Reply: 202 with an Operation ... or 200 with the artifact itself ... Clients tell the two
apart by a top-level `kind` of `hf_model`/`hf_adapter`." A server written from the sheet
that answered the export's Operation with 200 got, besides the spec's own finding for the
200, a second one (`artifact_fields`: checkpoint_id `None`, status `pending`) for the
Operation read as the artifact, and the download and storage steps were skipped.
"""

from __future__ import annotations

import json

import pytest

from tests.contract.drift import Drift
from tests.contract.support import KEY, quick, serve_emulator
from weaver_facade._extensions import restrict_spec
from weaver_facade._spec_schema import spec_document
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._extensions import probe_extensions
from weaver_facade.contract._spec import Spec, load_spec

HEADERS = {"X-Request-ID": "req-1"}
EXPORT = "POST /api/v1/checkpoints/{checkpoint_id}/export"


def test_an_export_operation_answered_200_is_waited_for() -> None:
    with serve_emulator(Drift.EXPORT_200_OPERATION, extensions="none") as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert report.lifecycle is not None
    steps = {s.name: s.status for s in report.lifecycle.steps}
    assert steps["download every file; sizes and sha256 match the descriptor"] == "passed"
    assert steps["storage URLs work without the key and honour Range"] == "passed"
    lines = [f.line() for f in report.findings]
    assert [f.check for f in report.findings] == ["response_schema_conformance"], lines
    (finding,) = report.findings
    assert finding.operation == EXPORT, lines
    # Named as what it is, not as an artifact without its fields.
    assert finding.message == (
        "the 200 reply is an Operation, which the spec answers with 202; "
        "200 is for the Artifact itself"
    ), lines


def test_an_export_operation_answered_201_is_one_finding_and_waited_for() -> None:
    # 201 is a 2xx the sheet does not give an export: the spec's status finding names it,
    # but the request was not "refused", and the artifact it made is still downloaded.
    with serve_emulator(Drift.EXPORT_201_OPERATION, extensions="none") as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert report.lifecycle is not None
    steps = {s.name: s.status for s in report.lifecycle.steps}
    lines = [f.line() for f in report.findings]
    assert [(f.operation, f.check) for f in report.findings] == [
        (EXPORT, "status_code_conformance")
    ], lines
    assert "201" in report.findings[0].message, lines
    assert steps["download every file; sizes and sha256 match the descriptor"] == "passed"
    assert steps["storage URLs work without the key and honour Range"] == "passed"


def test_a_200_export_operation_of_its_own_kind_is_named_as_an_operation() -> None:
    # The sheet names no operation kinds (`kind` is the operation-details extension's), only
    # that an Operation never says hf_model/hf_adapter. A server's own `"kind": "export"`
    # made the 200 Operation read as an Artifact without its fields: three findings
    # (`Artifact: required fields ... missing`, `kind`, `status`) that did not say why.
    spec = load_spec()
    operation = {"id": "op-1", "status": "done", "kind": "export", "response": None}
    problems = spec.check_reply(
        spec.by_id("export_checkpoint"), 200, HEADERS, json.dumps(operation).encode()
    )
    assert [(p.check, p.message) for p in problems] == [
        (
            "response_schema_conformance",
            "the 200 reply is an Operation, which the spec answers with 202; "
            "200 is for the Artifact itself",
        )
    ]


def test_a_200_artifact_without_its_uri_is_no_operation() -> None:
    # A reply with an Artifact's `checkpoint_id` but no `uri` (and a kind of its own) was
    # named an Operation answered 200, hiding the Artifact's missing `uri` and its `kind`.
    spec = load_spec()
    drifted = {
        "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "checkpoint_id": "7c9e6679-7425-40de-944b-e07fc1f90ae8",
        "model_id": "m-1",
        "kind": "adapter",
        "status": "pending",
    }
    problems = spec.check_reply(
        spec.by_id("export_checkpoint"), 200, HEADERS, json.dumps(drifted).encode()
    )
    messages = [p.message for p in problems]
    assert not [m for m in messages if "is an Operation" in m], messages
    assert [m for m in messages if "`uri`" in m], messages


def test_the_probe_waits_for_an_export_operation_given_an_artifact_kind() -> None:
    # The 202 Operation with `kind: hf_adapter` (a drift the lifecycle names) was taken for
    # the artifact: the probe asked for `GET /artifacts/{the operation's id}`, met a 404 and
    # said `artifact-by-id` missing, "of an existing artifact", of a server that offers it.
    with serve_emulator(Drift.OPERATION_ARTIFACT_KIND) as served:
        result = probe_extensions(
            spec_document(), base_url=served.base_url, api_key=KEY, base_model="weaver-tiny",
            deadline=30.0,
        )  # fmt: skip
    assert result.to_json()["evidence"]["artifact-by-id"] == "GET /artifacts/{id} found it"
    assert "artifact-by-id" in result.offered


# The wire sheet's rule that an Operation of an artifact's kind breaks, which its finding states.
NEVER_AN_ARTIFACT_KIND = (
    "; an Operation must never carry an artifact's kind (`hf_model`, `hf_adapter`): clients "
    "tell an export's two replies, a 202 Operation and a 200 Artifact, apart by `kind`"
)


@pytest.mark.parametrize("offered", [True, False], ids=["operation-details", "without-it"])
def test_an_operation_given_an_artifact_kind_is_told_the_wire_s_rule(offered: bool) -> None:
    # It said only that `hf_adapter` is not in OperationKind's enum (without the extension,
    # that it "violates `not: {...}`"): true, but not the rule a server developer acts on.
    document = spec_document()
    if not offered:
        document = restrict_spec(document, frozenset({"operation-details"}))
    spec = Spec(document)
    operation = json.dumps({"id": "op-1", "status": "pending", "kind": "hf_adapter"}).encode()
    for operation_id, status in (("export_checkpoint", 202), ("get_operation", 200)):
        problems = spec.check_reply(spec.by_id(operation_id), status, HEADERS, operation)
        assert [p.message.endswith(NEVER_AN_ARTIFACT_KIND) for p in problems] == [True], problems
    # An Operation's own kind is not an artifact's: nothing is said of that rule.
    own = json.dumps({"id": "op-1", "status": "pending", "kind": "export"}).encode()
    said = spec.check_reply(spec.by_id("get_operation"), 200, HEADERS, own)
    assert all("artifact's kind" not in p.message for p in said), said
