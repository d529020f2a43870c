"""Storage URLs expire (the wire sheet: "401/403 once expired; a client then fetches the
descriptor again for fresh URLs"), so the kit takes a fresh URL rather than blame the
storage for a URL it kept too long.

A server written from the sheet alone gave URLs 5 s to live and served a 30 MB file at
5 MB/s: the kit's `Range` probe, sent with the URL of that 6 s download, got 401 and was
reported as a `storage_range` finding.
"""

from __future__ import annotations

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test
from weaver_facade.contract._artifact_steps import STEP_STORAGE


def test_an_expired_storage_url_is_renewed_not_reported() -> None:
    with serve_emulator(Drift.URLS_SERVE_ONCE) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.expired, "no URL was used twice: the test shows nothing"
    assert [f.line() for f in report.findings] == []
    assert report.lifecycle is not None
    steps = {step.name: step.status for step in report.lifecycle.steps}
    assert steps[STEP_STORAGE] == "passed", steps
