"""A reply sent a byte a second holds the conformance part no longer than its limits.

Against a server whose `GET /api/v1/models/{model_id}` replies came one byte a second,
conformance (schemathesis, sending with requests, whose timeouts bound each wait for bytes,
not a whole reply) ran past `--time-limit` for as long as the body took, over 5 minutes on
`--quick`, and a first Ctrl-C waited for it too.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.contract.support import KEY, kit_process, quick
from tests.support.emulator import serve_in_thread
from tests.support.signals import ctrl_c
from weaver_facade.contract import _conformance, run_contract_test
from weaver_facade.emulator import EmulatorConfig, create_app

GET_MODEL = re.compile(r"/api/v1/models/[^/]+")
LABEL = "GET /api/v1/models/{model_id}"


class Drip:
    """The app, each reply to schemathesis' `GET /api/v1/models/{model_id}` sent a byte a
    second (the kit's own probes, sent with httpx, are answered at once)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.started = threading.Event()  # a dripped reply began

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        agent = dict(scope.get("headers", [])).get(b"user-agent", b"")
        dripped = (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and GET_MODEL.fullmatch(scope["path"]) is not None
            and agent.startswith(b"schemathesis")
        )
        if not dripped:
            await self.app(scope, receive, send)
            return
        body: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.body":
                body.append(message.get("body", b""))
            else:
                await send(message)

        await self.app(scope, receive, keep)
        self.started.set()
        for byte in b"".join(body):
            await send({"type": "http.response.body", "body": bytes([byte]), "more_body": True})
            await asyncio.sleep(1.0)
        await send({"type": "http.response.body", "body": b""})


@dataclass(frozen=True)
class Served:
    base_url: str
    drip: Drip


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    app = create_app(EmulatorConfig(data_dir=tmp_path, api_keys=(KEY,)))
    drip = Drip(app)
    with serve_in_thread(drip, app, name="dripping-emulator") as base_url:
        yield Served(base_url, drip)


@pytest.mark.timeout(120)
def test_a_dripped_reply_ends_at_the_time_limit(served: Served) -> None:
    limit = 5.0
    started = time.monotonic()
    report = run_contract_test(quick(served.base_url, parts=("conformance",), time_limit=limit))
    took = time.monotonic() - started
    assert served.drip.started.is_set(), "no reply was dripped"
    # The clean-up after it has a budget of its own; the bound leaves it room.
    assert took < limit + 20, f"the run took {took:.0f} s"
    assert report.conformance is not None
    assert report.conformance.cut_short
    # Cut by the part's end, not the server's failing: a note, no finding.
    note = f"{LABEL}: a reply was still coming when the part stopped: not checked"
    assert note in report.notes, report.notes
    assert [f for f in report.findings if f.operation == LABEL] == [], report.findings


@pytest.mark.timeout(120)
def test_a_reply_slower_than_the_request_limit_is_a_timeout(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The limit of 30 s, shortened so that the run is short; the part's limit is beyond it.
    monkeypatch.setattr(_conformance, "REQUEST_LIMIT", 1.0)
    report = run_contract_test(quick(served.base_url, parts=("conformance",), time_limit=6.0))
    assert served.drip.started.is_set(), "no reply was dripped"
    found = [f for f in report.findings if f.operation == LABEL]
    assert found != [], report.findings
    assert "no whole reply within 1 s (the reply was still coming)" in found[0].message, found


@pytest.mark.timeout(120)
def test_a_first_interrupt_ends_a_dripped_reply(served: Served) -> None:
    args = ["--base-url", served.base_url, "--only", "conformance", "--quick"]
    with kit_process("SIG_DFL", args) as run:
        assert served.drip.started.wait(90), "no reply was dripped"
        stdout, stderr, took = ctrl_c(run, timeout=30)
    assert run.returncode == 130, stdout + stderr
    assert took < 20, f"the kit took {took:.0f} s to end after a Ctrl-C"
