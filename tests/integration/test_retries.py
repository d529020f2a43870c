"""Retries against the emulator's injected faults.

``when="after"`` faults let the server act and then lose the reply (a 503, or
a dropped connection): the case where a retry without a stable
``Idempotency-Key`` would save twice or turn into a 409. Fault draws are
seeded, so every run sees the same faults.
"""

from __future__ import annotations

import collections
import json
import logging
import time
from typing import Any

import httpx
import pytest

from tests.support.integration import (
    API_KEY,
    BASE_MODEL,
    AsyncServiceFactory,
    Recorder,
    ServiceFactory,
    batch,
)
from weaver_facade import (
    InternalServerError,
    RateLimitError,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
)
from weaver_facade.emulator import FaultConfig, FaultRule, RunningEmulator, run_emulator

SAVES = "/api/v1/models/{model_id}/checkpoints"
FORWARD_BACKWARD = "/api/v1/models/{model_id}/forward-backward-passes"
OPTIM_STEPS = "/api/v1/models/{model_id}/optimizer-steps"
OPERATION = "/api/v1/operations/{operation_id}"


def _after_faults(*routes: str, rate: float, method: str = "POST") -> dict[str, Any]:
    rules: list[FaultRule] = []
    for route in routes:
        rules.append(FaultRule("unavailable", rate / 2, "after", method, route, retry_after=0))
        rules.append(FaultRule("drop", rate / 2, "after", method, route))
    return {"faults": FaultConfig(rules=tuple(rules), seed=11)}


def _attempts_by_key(requests: list[httpx.Request]) -> dict[str, list[httpx.Request]]:
    grouped: dict[str, list[httpx.Request]] = collections.defaultdict(list)
    for request in requests:
        grouped[request.headers["Idempotency-Key"]].append(request)
    return grouped


def _check_one_key_per_logical_call(attempts: dict[str, list[httpx.Request]], calls: int) -> None:
    assert len(attempts) == calls, "one key per logical call"
    for same_key in attempts.values():
        assert len({r.content for r in same_key}) == 1, "a retry re-sends the same body"
    assert any(len(same_key) > 1 for same_key in attempts.values()), "some call was retried"


@pytest.mark.parametrize("emulator_config", [_after_faults(SAVES, rate=0.6)])
def test_retried_saves_never_duplicate_nor_conflict(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    trainer = make_service().create_training_client(BASE_MODEL, seed=1)
    names = [f"save-{i}" for i in range(6)]
    saved = [trainer.save_state(name) for name in names]
    assert [c.name for c in saved] == names

    posts = recorder.sent("POST", "/checkpoints")
    attempts = _attempts_by_key(posts)
    _check_one_key_per_logical_call(attempts, len(names))
    by_name = {json.loads(same_key[0].content)["name"]: key for key, same_key in attempts.items()}
    assert sorted(by_name) == names
    # Each save exists once, although the server saved some of them before failing.
    assert trainer.list_checkpoints() == saved


MODEL = "/api/v1/models/{model_id}"


@pytest.mark.parametrize(
    "emulator_config",
    [
        {
            "faults": FaultConfig(
                rules=(
                    FaultRule("drop", 0.5, "mid", "POST", SAVES),
                    FaultRule("drop", 0.5, "mid", "GET", MODEL),
                ),
                seed=3,
            )
        }
    ],
)
def test_a_reply_cut_mid_body_is_retried(
    make_service: ServiceFactory, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    # The body used to be read after the retry transport had returned: a connection
    # dropped within it failed the call ("cannot reach"), although the server had saved.
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    for _ in range(6):
        assert service.get_model(trainer.model_id).id == trainer.model_id
    names = [f"cut-{i}" for i in range(4)]
    assert [trainer.save_state(name).name for name in names] == names
    assert [c.name for c in trainer.list_checkpoints()] == names
    retried = [r.getMessage() for r in caplog.records if "connection dropped" in r.getMessage()]
    assert any(m.startswith("GET ") for m in retried), retried
    assert any(m.startswith("POST ") for m in retried), retried
    _check_one_key_per_logical_call(_attempts_by_key(recorder.sent("POST", "/checkpoints")), 4)


def _losses(service: ServiceClient, steps: int) -> list[float]:
    trainer = service.create_training_client(BASE_MODEL, seed=5)
    losses = []
    for _ in range(steps):
        losses.append(trainer.forward_backward(batch()).loss)
        trainer.optim_step()
    return losses


@pytest.mark.parametrize(
    "emulator_config", [_after_faults(FORWARD_BACKWARD, OPTIM_STEPS, rate=0.5)]
)
def test_retried_training_steps_apply_once(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    faulty = _losses(make_service(), steps=4)
    fb_attempts = _attempts_by_key(recorder.sent("POST", "/forward-backward-passes"))
    step_attempts = _attempts_by_key(recorder.sent("POST", "/optimizer-steps"))
    assert len(fb_attempts) == len(step_attempts) == 4
    assert any(len(a) > 1 for a in [*fb_attempts.values(), *step_attempts.values()])
    # A step applied twice would change every later loss.
    with (
        run_emulator(api_keys=(API_KEY,)) as clean,
        ServiceClient(clean.base_url, API_KEY, heartbeat_interval=0) as service,
    ):
        assert faulty == _losses(service, steps=4)


@pytest.mark.parametrize(
    "emulator_config",
    [
        {
            "faults": FaultConfig(
                rules=(
                    FaultRule("unavailable", 0.5, "before", "GET", OPERATION, retry_after=0),
                    FaultRule("drop", 0.3, "before", "GET", OPERATION),
                ),
                seed=2,
            )
        }
    ],
)
def test_polls_survive_failures(make_service: ServiceFactory, recorder: Recorder) -> None:
    losses = _losses(make_service(retry=RetryPolicy(RetrySettings(max_retries=0))), steps=2)
    assert len(losses) == 2
    polls = [r for r in recorder.sent("GET") if "/operations/" in r.url.path]
    assert len(polls) > 4, "some polls failed and were repeated by the handle itself"


@pytest.mark.parametrize(
    "emulator_config",
    [
        {
            "faults": FaultConfig(
                rules=(FaultRule("rate_limited", 0.5, "before", "POST", FORWARD_BACKWARD, 1),),
                seed=4,
            )
        }
    ],
)
def test_retry_after_is_honoured(emu: RunningEmulator) -> None:
    sleeps: list[float] = []
    limited: list[int] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(min(seconds, 0.01))

    def on_response(response: httpx.Response) -> None:
        if response.status_code == 429:
            limited.append(response.status_code)

    http = httpx.Client(event_hooks={"response": [on_response]})
    with ServiceClient(
        emu.base_url,
        API_KEY,
        http_client=http,
        sleep=sleep,
        heartbeat_interval=0,
        retry=RetryPolicy(RetrySettings(max_retries=8, initial_backoff=0.01)),
    ) as service:
        _losses(service, steps=3)
    http.close()
    assert limited, "the seeded faults rate-limited some forward-backward passes"
    assert sleeps.count(1.0) == len(limited), (sleeps, limited)


@pytest.mark.parametrize(
    "emulator_config",
    [
        {
            "faults": FaultConfig(
                rules=(
                    FaultRule("unavailable", 1.0, "before", "POST", SAVES, retry_after=0),
                    FaultRule("rate_limited", 1.0, "before", "POST", OPTIM_STEPS, 0),
                )
            )
        }
    ],
)
@pytest.mark.parametrize("max_retries", [0, 2])
def test_max_retries_bounds_the_attempts(
    make_service: ServiceFactory, recorder: Recorder, max_retries: int
) -> None:
    service = make_service(retry=RetryPolicy(RetrySettings(max_retries=max_retries)))
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    trainer.forward_backward(batch())
    with pytest.raises(RateLimitError) as limited:
        trainer.optim_step()
    assert limited.value.retryable is True
    assert len(recorder.sent("POST", "/optimizer-steps")) == 1 + max_retries
    with pytest.raises(InternalServerError) as unavailable:
        trainer.save_state("never")
    assert unavailable.value.status_code == 503
    assert unavailable.value.code == "unavailable"
    assert len(recorder.sent("POST", "/checkpoints")) == 1 + max_retries


CREATES = "/api/v1/sessions/{session_id}/models"


@pytest.mark.parametrize(
    "emulator_config",
    # Seeded: the creates' attempts draw pass, drop, pass, drop, pass.
    [{"faults": FaultConfig(rules=(FaultRule("drop", 0.5, "after", "POST", CREATES),), seed=10)}],
)
def test_a_create_after_a_lost_reply_warns_of_a_model_left_unknown(
    make_service: ServiceFactory, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    # The server made a model and the reply was lost: a server that does not de-duplicate
    # model_seq_id made a second one on the retry, and the only word of it was the retry's.
    service = make_service()
    clean = service.create_training_client(BASE_MODEL, seed=1)
    retried = service.create_training_client(BASE_MODEL, seed=1)
    saved = retried.save_state("s")
    resumed = service.create_training_client_from_state(saved)
    assert len(recorder.sent("POST", "/models")) == 5
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "reply was lost" in r.getMessage()
    ]
    assert len(warned) == 2, warned
    for made, message in zip((retried, resumed), warned, strict=True):
        assert f"model {made.model_id} " in message, message
        assert "model_seq_id" in message
        assert "service.list_models()" in message
        assert "weaver-facade" not in message  # the command line shows its own words
    assert not any(clean.model_id + " " in m for m in warned)


@pytest.mark.parametrize(
    "emulator_config",
    [{"faults": FaultConfig(rules=(FaultRule("drop", 0.5, "after", "POST", CREATES),), seed=1)}],
)
async def test_an_async_create_after_a_lost_reply_warns_too(
    make_async_service: AsyncServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    trainer = await make_async_service().create_training_client(BASE_MODEL, seed=1)
    warned = [r.getMessage() for r in caplog.records if "reply was lost" in r.getMessage()]
    assert len(warned) == 1, warned
    assert f"model {trainer.model_id} was made after" in warned[0]
