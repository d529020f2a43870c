"""The note of a conformance part stopped at its time limit names the limit as given.

`--time-limit 0.5` read "conformance stopped at its time limit (0 s)": a limit the run
never had, rounded away.
"""

from __future__ import annotations

from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test


def test_a_fractional_time_limit_is_named_as_given() -> None:
    with serve_emulator() as served:
        report = run_contract_test(quick(served.base_url, time_limit=0.5, parts=("conformance",)))
    assert report.conformance is not None
    assert report.conformance.cut_short, report.notes
    (note,) = [n for n in report.conformance.notes if "time limit" in n]
    assert note.startswith("conformance stopped at its time limit (0.5 s); "), note
