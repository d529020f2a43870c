"""An id the run made is always its own, however the request that made it was sent.

Against a server that opened a session without the key, schemathesis' auth checks opened
sessions with probes the kit's ``after_call`` hook never saw; their ids came back in
generated cases and the kit stood in for them (``absent-...``), so the server's 404 for
``/sessions/absent-.../models`` was counted against it ("Created resource not found").
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import _ownership, run_contract_test


def test_sessions_the_run_opened_are_never_stood_in_for(monkeypatch: pytest.MonkeyPatch) -> None:
    stood_in: list[str] = []
    stand_in = _ownership.Ownership.stand_in

    def watched(self: _ownership.Ownership, case: Any) -> None:
        before = dict(case.path_parameters or {})
        stand_in(self, case)
        after = case.path_parameters or {}
        stood_in.extend(value for name, value in before.items() if after.get(name) != value)

    monkeypatch.setattr(_ownership.Ownership, "stand_in", watched)
    with serve_emulator(Drift.OPEN_SESSIONS) as served:
        report = run_contract_test(quick(served.base_url, parts=("conformance",)))
    assert stood_in, "nothing was stood in for: the test shows nothing"
    assert served.middleware.sessions
    assert sorted(served.middleware.sessions & set(stood_in)) == []
    assert [f.line() for f in report.findings if f.check == "ensure_resource_availability"] == []
