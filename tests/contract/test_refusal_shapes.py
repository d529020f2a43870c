"""Refusals in the shapes the wire allows, not only the emulator's.

An independent server written from the wire sheet accepted a load of an unknown checkpoint,
and an optimizer load of a weight-only one, as operations that ended in `error` (the
sheet's load "returns an Operation"); the kit said "ended in `error` ... expected `done`"
for both. It answered a duplicate name with 409 `already_exists` (the sheet names no
code); the kit said "expected 409 checkpoint_exists, got 409 already_exists".
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._lifecycle import (
    STEP_DUPLICATE,
    STEP_UNKNOWN,
    STEP_WEIGHT_ONLY,
    Exchange,
    LifecycleOutcome,
    Scenario,
    StepFailed,
    StepResult,
)


def test_loads_accepted_and_then_failed_are_refusals() -> None:
    with serve_emulator(Drift.REFUSED_LOADS_FAIL_LATER) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.failed_loads, "no load was accepted and failed"
    assert len(served.middleware.failed_loads) == 2
    assert report.lifecycle is not None
    steps = {s.name: s.status for s in report.lifecycle.steps}
    assert steps[STEP_UNKNOWN] == steps[STEP_WEIGHT_ONLY] == "passed"
    assert report.findings == [], [f.line() for f in report.findings]


def test_a_duplicate_name_refused_with_another_code_is_a_note() -> None:
    with serve_emulator(Drift.OTHER_CONFLICT_CODE) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert report.lifecycle is not None
    steps = {s.name: s.status for s in report.lifecycle.steps}
    assert steps[STEP_DUPLICATE] == "passed"
    assert report.findings == [], [f.line() for f in report.findings]
    assert any("409 already_exists, where checkpoint_exists is usual" in n for n in report.notes)


def test_the_kits_own_requests_send_the_sheets_whole_bodies() -> None:
    # The sheet gives the export's body as `{"format", "merge_adapter", "ttl_seconds",
    # "force"}`, none marked optional (`?`), and the real SDK sends all four. A server
    # written from the sheet refused the kit's own export, which left out `force`: the
    # lifecycle's export failed (and its download and storage steps were skipped), and
    # the extension probe stopped early. The probe's LoRA model had no `lora_config`.
    with serve_emulator(Drift.SHEET_BODIES_IN_FULL) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert report.lifecycle is not None
    failed = [f"{s.name}: {s.status}" for s in report.lifecycle.steps if s.status != "passed"]
    assert failed == []
    assert not [n for n in report.notes if "probe stopped early" in n], report.notes
    assert report.findings == [], [f.line() for f in report.findings]


def test_a_load_that_ends_done_is_still_a_finding_and_says_what_was_expected() -> None:
    request = httpx.Request("POST", "http://weaver.test/api/v1/models/m-1/load")
    accepted = Exchange(request, httpx.Response(202, json={"id": "op-1"}), None)
    scenario: Any = SimpleNamespace(
        watcher=SimpleNamespace(last=lambda operation_id: accepted),
        outcome=LifecycleOutcome(),
        s=SimpleNamespace(api_key=None),
    )
    scenario.finding = functools.partial(Scenario.finding, scenario)
    scenario.expect = functools.partial(Scenario.expect, scenario)
    result = StepResult(name=STEP_UNKNOWN, status="passed")
    with pytest.raises(StepFailed):
        Scenario.expect_refusal(
            scenario,
            result,
            "load_checkpoint",
            lambda: None,  # the load ended `done`
            (404,),
            "not_found",
            "loading `weaver://m-1/checkpoints/missing`",
            or_failed_operation=True,
        )
    (finding,) = result.findings
    assert finding.message == (
        "loading `weaver://m-1/checkpoints/missing`: expected 404 or an operation that ends "
        "in `error`, got 202, then an operation that ended `done`"
    )
