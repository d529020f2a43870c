"""A reply lost on the way does not stop the extension probe where asking again is safe.

Against a server that closed the connection of one save's reply (the work done), the
probe "stopped early (RemoteProtocolError: Server disconnected without sending a
response.)" and left six extensions undetermined.
"""

from __future__ import annotations

import pytest

from tests.contract.drift import Drift
from tests.contract.support import quick, serve_emulator
from weaver_facade.contract import run_contract_test


@pytest.mark.parametrize("drift", [Drift.LOST_REPEATED_SAVE, Drift.LOST_SAVE])
def test_a_lost_reply_to_a_save_does_not_stop_the_probe(drift: Drift) -> None:
    # A keyed save is sent again; a save without a key is found by its name.
    with serve_emulator(drift) as served:
        report = run_contract_test(quick(served.base_url, parts=("lifecycle",)))
    assert served.middleware.lost, "no reply was lost: the test shows nothing"
    assert [n for n in report.notes if "probe stopped early" in n] == []
    assert report.extensions is not None
    assert "idempotency-key" in report.extensions.offered, report.extensions
