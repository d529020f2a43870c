"""A terminate the clean-up's time kept from being sent is said to be so.

The facade's close logged `could not terminate model m-1 on close: terminate_model:
ConnectTimeout: connect timed out`, though nothing was sent: the clean-up's budget was
spent, and the kit refused the request before it left.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest

from tests.contract.support import KEY
from tests.support.emulator import serve_in_thread
from tests.support.scripted_http import HANG, Reply, ScriptedServer
from weaver_facade import ServiceClient
from weaver_facade.contract._lifecycle import run_lifecycle
from weaver_facade.contract._ownership import Sweep, SweepBound, time_up_worded
from weaver_facade.contract._spec import load_spec
from weaver_facade.emulator import EmulatorConfig, create_app


def test_a_terminate_left_unsent_says_the_clean_up_time_ran_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with tempfile.TemporaryDirectory(prefix="weaver-time-up-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        with serve_in_thread(app, app, name="time-up") as base_url:
            bound = SweepBound(httpx.HTTPTransport())
            with httpx.Client(transport=bound, timeout=30.0) as http:
                service = ServiceClient(
                    base_url, KEY, http_client=http, sleep=bound.sleep, heartbeat_interval=0
                )
                made = [
                    service.create_training_client("weaver-tiny", seed=seed).model_id
                    for seed in (1, 2)
                ]
                now = [0.0]
                bound.sweep = Sweep(http, 2.0, root=base_url, clock=lambda: now[0])
                now[0] = 2.5  # its budget spent
                with caplog.at_level("WARNING", logger="weaver_facade"), time_up_worded(2.0):
                    service.close()
            rows = app.state.emulator.store.all("SELECT id, status FROM models")
    statuses = {str(row["id"]): str(row["status"]) for row in rows}
    assert "terminated" not in {statuses[m] for m in made}, statuses  # nothing was sent
    log = caplog.text
    assert "ConnectTimeout" not in log, log
    assert (
        f"could not terminate model {made[0]} on close: the clean-up's time (2 s) ran out "
        "before its terminate was sent"
    ) in log, log
    assert f"models left running: {', '.join(made)}" in log, log


class _HoldsListings:
    """Opens a session and creates a model; holds every checkpoint listing (the
    clean-up's among them), answers a terminate and refuses everything else."""

    def __call__(self, method: str, path: str) -> Reply | str:
        path = path.partition("?")[0]
        if method == "POST" and path == "/api/v1/sessions":
            return 201, {"id": "s-1", "created_at": "2026-11-29T10:01:00Z"}, {}
        if method == "POST" and path == "/api/v1/sessions/s-1/models":
            return 201, {"id": "m-1", "base_model": "weaver-tiny"}, {}
        if method == "GET" and path.endswith("/checkpoints"):
            return HANG
        if method == "POST" and path.endswith("/terminate"):
            return 200, {"id": "m-1", "status": "terminated"}, {}
        return 404, {"error": "not_found", "message": "no", "retryable": False}, {}


def test_the_lifecycle_says_its_clean_up_time_ran_out_before_the_terminate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with ScriptedServer(_HoldsListings()) as server, caplog.at_level("WARNING"):
        run_lifecycle(
            load_spec(),
            base_url=server.base_url,
            api_key=KEY,
            base_model="weaver-tiny",
            vocab_size=256,
            deadline=1.0,
            run_id="timeup01",
        )
    # The listing read before the models go spent the budget: no terminate was sent.
    assert ("POST", "/api/v1/models/m-1/terminate") not in server.requests
    log = caplog.text
    assert "ConnectTimeout" not in log, log
    assert (
        "could not terminate model m-1 on close: the clean-up's time (1 s) ran out before "
        "its terminate was sent"
    ) in log, log
    assert "models left running: m-1" in log, log
