"""The lifecycle terminates each of its models once.

The facade's close terminated the models it created, and the clean-up then sent each
its own terminate again: twice the requests, and on a server that holds terminates,
twice the wait out of the clean-up's budget.
"""

from __future__ import annotations

import collections
import re
import tempfile
from pathlib import Path
from typing import Any

from tests.contract.support import KEY, quick
from tests.support.emulator import serve_in_thread
from weaver_facade.contract import run_contract_test
from weaver_facade.emulator import EmulatorConfig, create_app

TERMINATE = re.compile(r"^/api/v1/models/([^/]+)/terminate$")


class CountTerminates:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.terminates: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = TERMINATE.match(scope["path"])
            if match:
                self.terminates[match[1]] += 1
        await self.app(scope, receive, send)


def test_each_model_of_the_lifecycle_is_terminated_once() -> None:
    with tempfile.TemporaryDirectory(prefix="weaver-terminates-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        counting = CountTerminates(app)
        with serve_in_thread(counting, app, name="terminates-once") as base_url:
            report = run_contract_test(quick(base_url, parts=("lifecycle",)))
            rows = app.state.emulator.store.all("SELECT id, status FROM models")
    assert report.passed, [f.line() for f in report.findings]
    statuses = {str(r["id"]): str(r["status"]) for r in rows}
    assert set(statuses.values()) == {"terminated"}
    assert set(counting.terminates) == set(statuses)  # the probe's model too
    assert dict(counting.terminates) == dict.fromkeys(statuses, 1)
