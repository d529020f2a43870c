"""A reply lost on the way is a transport fault, retried as the facade retries it.

Against a server that acted on the first create, save, load and export and then closed
the connection, the kit's own export had "no reply: RemoteProtocolError" as a
``server_answers`` finding (the download and storage steps skipped), and the extension
probe "stopped early" at its model's create: the kit's own requests did not retry a
dropped connection, which the facade (and the official SDK) do.
"""

from __future__ import annotations

import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test


@pytest.mark.parametrize("extensions", ["all", "none"])
def test_a_lost_reply_is_no_finding(extensions: str) -> None:
    # "none": without Idempotency-Key, a retried save or export meets its own first
    # attempt's work (409), which the kit finds; "all": the server recognises the retry.
    with serve_emulator(Drift.DROP_FIRST, extensions=extensions) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    # The probe's and the lifecycle's: two sessions, checkpoints exported.
    kinds = [kind for kind, _ in served.middleware.dropped]
    assert {k: kinds.count(k) >= 2 for k in ("create", "save", "load", "export")} == {
        "create": True,
        "save": True,
        "load": True,
        "export": True,
    }
    assert report.findings == [], report.findings
    assert [n for n in report.notes if "stopped early" in n] == []
    assert report.lifecycle is not None
    assert [s.name for s in report.lifecycle.steps if s.status != "passed"] == []
