"""A training step the server never answers costs the lifecycle its `--deadline`, once.

The facade's client waited for each attempt of the forward-backward POST its own read
timeout and sent it 3 times more: minutes per step, and the continuation's steps met the
same, while `--deadline` bounded only the operations' waits.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.contract.support import KEY, model_reads, quick
from tests.support.emulator import serve_in_thread
from tests.support.scripted_http import HANG, ScriptedServer
from weaver_facade import APIError, RetryPolicy
from weaver_facade.contract import ContractReport, run_contract_test
from weaver_facade.contract._lifecycle import (
    STEP_CONTINUE,
    STEP_NO_KEY,
    STEP_TRAIN,
    LifecycleOutcome,
    _not_answered,
    run_lifecycle,
)
from weaver_facade.contract._spec import load_spec
from weaver_facade.emulator import EmulatorConfig, create_app

FORWARD_BACKWARD = "/forward-backward-passes"
DEADLINE = 3.0


class HoldTraining:
    """The emulator, but a forward-backward POST is accepted and never answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.held = 0
        self.release = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].endswith(FORWARD_BACKWARD)
        ):
            self.held += 1
            await asyncio.to_thread(self.release.wait)
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def test_a_held_training_step_ends_within_the_deadline_and_is_named() -> None:
    reports: list[ContractReport] = []
    with tempfile.TemporaryDirectory(prefix="weaver-held-step-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(KEY,)))
        holding = HoldTraining(app)
        with serve_in_thread(holding, app, name="held-step") as base_url:
            settings = quick(base_url, parts=("lifecycle",), deadline=DEADLINE)
            started = time.monotonic()
            run = threading.Thread(
                target=lambda: reports.append(run_contract_test(settings)), daemon=True
            )
            run.start()
            run.join(timeout=60)
            took = time.monotonic() - started
            holding.release.set()
            assert not run.is_alive(), f"the run still waits after {took:.0f} s"
            rows = app.state.emulator.store.all("SELECT status FROM models")
    [report] = reports
    lines = [f.line() for f in report.findings]
    assert report.lifecycle is not None
    steps = {step.name: step for step in report.lifecycle.steps}
    train = steps[STEP_TRAIN]
    assert train.status == "failed", lines
    [finding] = train.findings
    assert finding.check == "server_answers", lines
    assert finding.operation == "POST /api/v1/models/{model_id}/forward-backward-passes", lines
    assert finding.message.startswith("no reply to POST /api/v1/models/"), lines
    assert finding.message.endswith("retries included (each call's deadline: 3 s)"), lines
    assert finding.curl is not None
    assert KEY not in finding.line()
    # The continuation would only meet the same silence.
    assert steps[STEP_CONTINUE].status == "skipped", lines
    assert "did not answer" in steps[STEP_CONTINUE].detail
    assert train.seconds < DEADLINE + 5.0, train.seconds
    assert took < 30.0, took
    # The facade's attempts, all within the one deadline.
    assert 1 <= holding.held <= 4, holding.held
    assert {str(row["status"]) for row in rows} == {"terminated"}


def test_the_kits_own_request_without_a_reply_ends_near_the_deadline() -> None:
    # The kit's own requests (here the read without the key that must get 401) waited
    # 30 s for each of 4 attempts.
    outcomes: list[LifecycleOutcome] = []
    with ScriptedServer(model_reads(HANG)) as server:
        run = threading.Thread(
            target=lambda: outcomes.append(
                run_lifecycle(
                    load_spec(),
                    base_url=server.base_url,
                    api_key=KEY,
                    base_model="weaver-tiny",
                    vocab_size=256,
                    deadline=1.0,
                    run_id="held0001",
                )
            ),
            daemon=True,
        )
        run.start()
        run.join(timeout=45)
        assert not run.is_alive(), "the run still waits after 45 s"
    [outcome] = outcomes
    steps = {step.name: step for step in outcome.steps}
    unkeyed = steps[STEP_NO_KEY]
    [finding] = unkeyed.findings
    assert finding.check == "server_answers", finding.line()
    assert finding.message.startswith("no reply to GET /api/v1/models/m-1 ("), finding.line()
    # The deadline and a second (a long-poll may ask for all of it), then retries that
    # the deadline cuts at once, after their backoff.
    assert unkeyed.seconds < 1.0 + 1.0 + 4.0, unkeyed.seconds


def test_retries_the_deadline_cut_short_are_put_down_to_the_deadline() -> None:
    # Each call has the deadline now: a backoff that reaches it stops the retries of a
    # 503 that asked for 0 s, which read "asked to try again in 0 s, longer than the
    # facade waits for one call".
    busy = APIError("busy", status_code=503, code="unavailable", retryable=True, retry_after=0)
    assert _not_answered(busy, 2, 3.0) == (
        "still 503 unavailable after 2 retries: then the server asked to try again in 0 s, "
        "and the call's deadline (3 s) came first, and the step could not be checked"
    )
    assert _not_answered(busy, 0, 3.0).startswith(
        "503 unavailable, not retried: the server asked to try again in 0 s, and the call's "
        "deadline (3 s) came first"
    )
    later = APIError("busy", status_code=503, code="unavailable", retryable=True, retry_after=120)
    assert _not_answered(later, 0, 3.0) == (
        "503 unavailable, not retried: the server asked to try again in 120 s, longer than "
        "the facade waits for one call, and the step could not be checked"
    )


def test_a_retry_after_beyond_the_facades_waits_is_not_put_down_to_the_deadline() -> None:
    # 45 s is within the default deadline (60 s) but beyond the 30 s the facade sleeps
    # for one call in all, which refused it: "the call's deadline (60 s) came first".
    busy = APIError("busy", status_code=503, code="unavailable", retryable=True, retry_after=45)
    request = httpx.Request("GET", "http://weaver.test/api/v1/models/m-1")
    reply = httpx.Response(503, headers={"Retry-After": "45"}, request=request)
    assert RetryPolicy().retry_delay(request, reply, 0, remaining=60.0) is None
    assert RetryPolicy().retry_delay(request, reply, 0, remaining=1000.0) is None
    assert _not_answered(busy, 0, 60.0) == (
        "503 unavailable, not retried: the server asked to try again in 45 s, longer than "
        "the facade waits for one call, and the step could not be checked"
    )
