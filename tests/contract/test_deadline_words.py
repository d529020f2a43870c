"""An operation that outlives `--deadline` is a finding that names the deadline as given.

Its expected value rounded the deadline to whole seconds (`--deadline 0.5`: "`done` within
0 s") and did not say which setting it was, which a user whose server is only slow would
raise.
"""

from __future__ import annotations

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test


def test_a_stuck_load_names_the_deadline_as_given() -> None:
    with serve_emulator(Drift.STUCK_LOAD) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",), deadline=1.5))
    stuck = [f for f in report.findings if f.check == "operation_completes"]
    assert stuck, "\n".join(f.line() for f in report.findings)
    for finding in stuck:
        assert finding.expected == "`done` within 1.5 s (ContractSettings.deadline)", finding
