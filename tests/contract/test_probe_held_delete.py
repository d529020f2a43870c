"""The probe's delete of its artifact is held to the clean-up's budget.

It was sent mid-check, with the probe's 33 s timeout, outside any budget: a server that
holds `DELETE /artifacts/{id}` kept the probe (and the run) 33 s on a best-effort request.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import anyio

from tests.support.emulator import serve_in_thread
from weaver_facade._spec_schema import spec_document
from weaver_facade.contract._extensions import probe_extensions
from weaver_facade.emulator import EmulatorConfig, create_app

KEY = "probe-held-delete-key"
HELD = re.compile(r"^/api/v1/artifacts/[^/]+$")


class HoldDeletes:
    """The emulator, but a `DELETE /api/v1/artifacts/{id}` never answered until released."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.release = threading.Event()
        self.held = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "DELETE" and HELD.match(scope["path"]):
            self.held.set()
            await anyio.to_thread.run_sync(self.release.wait)
        await self.app(scope, receive, send)


def test_a_held_artifact_delete_costs_the_budget_not_the_timeout() -> None:
    deadline = 3.0
    with tempfile.TemporaryDirectory(prefix="weaver-probe-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        holding = HoldDeletes(app)
        try:
            with serve_in_thread(holding, app, name="probe-held-delete") as base_url:
                started = time.monotonic()
                result = probe_extensions(
                    spec_document(), base_url=base_url, api_key=KEY,
                    base_model="weaver-tiny", deadline=deadline,
                )  # fmt: skip
                took = time.monotonic() - started
                holding.release.set()
                store = app.state.emulator.store
                models = {str(r["status"]) for r in store.all("SELECT status FROM models")}
                checkpoints = {
                    str(r["status"]) for r in store.all("SELECT status FROM checkpoints")
                }
        finally:
            holding.release.set()
    assert holding.held.is_set(), "the probe sent no artifact delete: the test shows nothing"
    assert result.note is None, result.note
    assert "artifact-by-id" in result.offered
    # The clean-up's budget (the deadline) and a request's floor, and the probe's own
    # work, generously; the 33 s timeout is far beyond.
    assert took < deadline + 15.0, took
    # The held delete came after what matters more: the model ended, its checkpoints gone.
    assert models == {"terminated"}
    assert checkpoints <= {"deleted"}
    assert result.left == []
