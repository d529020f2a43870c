"""A reply lost on the way, in the conformance part, is a transport fault: no finding.

Against a server that acted on the first create, save, load and export and then closed
the connection, schemathesis' request had a ``run_error`` finding ("Network Error:
Connection broken ..."): ``PatientTransport`` sent again a 429 or 503 that asked for it,
not a request whose reply was lost. One safe to repeat (a POST with an Idempotency-Key)
is now sent again, as the facade and the kit's own requests do; the lost reply of one
that is not is a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.contract.drift import Drift
from tests.contract.support import KEY, quick, serve_emulator
from weaver_facade.contract import ContractReport, run_contract_test
from weaver_facade.contract._findings import API_KEY_HEADER as API_KEY

# Both tests read one run of the kit against a server of its own, about 40 s: under `--slow`.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Run:
    report: ContractReport
    dropped: list[tuple[str, str]]
    models: list[dict[str, Any]]


@pytest.fixture(scope="module")
def run() -> Run:
    """One quick conformance run against a server that loses the first reply of each
    kind, and the models it lists after the run."""
    with serve_emulator(Drift.DROP_FIRST) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
        listing = httpx.get(
            f"{served.base_url}/api/v1/models", params={"limit": 1000}, headers={API_KEY: KEY}
        ).json()
    return Run(report, sorted(served.middleware.dropped), listing["items"])


def test_a_lost_reply_is_no_conformance_finding(run: Run) -> None:
    report = run.report
    assert run.dropped, "no reply was lost"
    assert [f for f in report.findings if f.check == "run_error"] == [], report.findings
    assert report.conformance is not None
    # schemathesis sends an Idempotency-Key with some POSTs, none with others.
    assert report.conformance.resent > 0
    assert [n for n in report.notes if "sent those requests again" in n] != []
    unsafe = [n for n in report.notes if "not safe to send again" in n]
    assert unsafe != []
    assert len(unsafe) == len({n.split(":")[0] for n in unsafe})  # one per operation


def test_a_model_whose_create_lost_its_reply_is_terminated(run: Run) -> None:
    # The create's reply (its model's id) never came: the listing finds the model by its
    # session, which the run opened.
    assert [m["id"] for m in run.models if m["status"] != "terminated"] == []
    assert [k for k, _ in run.dropped].count("create") > 0
