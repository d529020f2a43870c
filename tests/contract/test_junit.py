"""The JUnit report says what the text says: as many failures as findings, and a run cut short.

Reports are built by hand here; ``test_cli`` and ``test_drift`` hold real runs' reports.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from weaver_facade.contract import ContractReport, Finding
from weaver_facade.contract._conformance import ConformanceOutcome
from weaver_facade.contract._findings import dedupe, fold_server_wide
from weaver_facade.contract._lifecycle import LifecycleOutcome, StepResult
from weaver_facade.contract._report import render_text, to_json, to_junit

SAVE = "POST /api/v1/models/{model_id}/checkpoints"
LIST = "GET /api/v1/models/{model_id}/checkpoints"
GET_MODEL = "GET /api/v1/models/{model_id}"


def finding(part: str, operation: str, check: str, message: str) -> Finding:
    return Finding(part, operation, check, message, expected="x", got="y", curl="curl x")


def report(
    findings: list[Finding],
    steps: list[StepResult] | None = None,
    *,
    cut_short: bool = False,
) -> ContractReport:
    conformance = ConformanceOutcome(
        findings=[f for f in findings if f.part == "conformance"],
        operations=sorted([SAVE, LIST, GET_MODEL]),
        cut_short=cut_short,
    )
    lifecycle = LifecycleOutcome(steps=steps or [])
    lifecycle.findings = [f for s in lifecycle.steps for f in s.findings]
    done = ContractReport(
        base_url="http://127.0.0.1:1",
        spec_file=Path("openapi.yaml"),
        started_at="2026-12-01T00:00:00+00:00",
        base_model="weaver-tiny",
        conformance=conformance,
        lifecycle=lifecycle,
    )
    done.findings = fold_server_wide(dedupe([*conformance.findings, *lifecycle.findings]))
    return done


def failed_cases(root: ET.Element) -> list[ET.Element]:
    return [case for case in root.iter("testcase") if case.find("failure") is not None]


def test_failures_are_the_findings_of_the_text() -> None:
    # Two findings of one operation were one failed case, a finding of both parts was
    # counted in each suite, and a header finding folded into one in the text was one
    # failure per step that saw it: the text said 5 findings where JUnit said otherwise.
    header = "X-Request-ID: required header missing"
    save_step = StepResult(
        "save the state",
        "failed",
        findings=[
            finding("lifecycle", SAVE, "response_schema_conformance", "sync save"),
            finding("lifecycle", SAVE, "status_code_conformance", "201 where 202"),
        ],
    )
    headers_step = StepResult(
        "every reply has the required headers",
        "failed",
        findings=[
            finding("lifecycle", SAVE, "response_headers_conformance", header),
            finding("lifecycle", LIST, "response_headers_conformance", header),
        ],
    )
    steps = [StepResult("create a session and a model", "passed"), save_step, headers_step]
    findings = [
        finding("conformance", LIST, "response_schema_conformance", "type missing"),
        finding("conformance", LIST, "not_a_server_error", "500"),
        finding("conformance", SAVE, "response_schema_conformance", "sync save"),
    ]
    done = report(findings, steps)
    count = len(done.findings)
    assert count == 5  # the sync save of both parts once; the header once
    assert render_text(done)[-1].startswith("contract: FAIL, 5 findings in ")

    root = to_junit(done)
    assert root.get("failures") == str(count)
    assert len(failed_cases(root)) == count
    assert len(root.findall(".//failure")) == count
    assert sum(int(s.get("failures", "0")) for s in root.findall("testsuite")) == count
    names = [str(case.get("name")) for case in failed_cases(root)]
    assert len(set(names)) == count, names
    assert "save the state [status_code_conformance]" in names
    # The operation without a finding passed; the passed step too.
    passed = {str(c.get("name")) for c in root.iter("testcase") if len(c) == 0}
    assert passed == {GET_MODEL, "create a session and a model"}


def test_the_text_counts_findings_in_words_that_agree() -> None:
    # The text read "1 finding(s):" and "contract: FAIL, 1 finding(s) in ...".
    one = render_text(report([finding("conformance", LIST, "not_a_server_error", "500")]))
    assert "1 finding:" in one
    assert one[-1].startswith("contract: FAIL, 1 finding in ")
    two = render_text(
        report(
            [
                finding("conformance", LIST, "not_a_server_error", "500"),
                finding("conformance", SAVE, "response_schema_conformance", "sync save"),
            ]
        )
    )
    assert "2 findings:" in two
    assert two[-1].startswith("contract: FAIL, 2 findings in ")
    assert render_text(report([]))[-1].startswith("contract: PASS, 0 findings in ")
    assert not [line for line in [*one, *two] if "(s)" in line]


def test_a_run_cut_short_is_marked_in_junit_and_json() -> None:
    # JUnit showed a clean suite: nothing said that the later phases may not have run.
    done = report([], cut_short=True)
    root = to_junit(done)
    assert root.get("failures") == "0"
    assert root.get("skipped") == "1"
    (skipped,) = root.findall(".//skipped")
    assert "incomplete: conformance stopped at its time limit" in str(skipped.get("message"))
    properties = {
        p.get("name"): p.get("value") for p in root.findall("./testsuite/properties/property")
    }
    assert properties["complete"] == "false"
    assert to_json(done)["complete"] is False
    assert render_text(done)[-1].startswith("contract: PASS (incomplete:")


def test_a_complete_run_has_no_such_case() -> None:
    root = to_junit(report([]))
    assert root.get("skipped") == "0"
    assert not root.findall(".//skipped")
    assert {p.get("value") for p in root.findall(".//property[@name='complete']")} == {"true"}
    assert to_json(report([]))["complete"] is True
