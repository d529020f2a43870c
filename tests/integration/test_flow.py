"""The checkpoint workflow against the emulator, made exact.

1. Train 6 steps on a fixed batch; the loss decreases at every step.
2. ``save_state("after-3-steps")`` after step 3, then carry on to step 6.
3. ``list_checkpoints()`` finds it with type ``weight_and_optimizer`` and its path.
4. ``load_state`` completes: another model then has the weights after step 3
   (its loss equals the original step-4 loss), but a fresh optimizer.
5. ``load_state_with_optimizer`` resumes bit-exactly: a model with another
   LoRA seed, in another client, reproduces the losses of steps 4 to 6.

The same flow runs with the sync client, the async client over HTTP, and the
async client on the in-process ASGI app; over HTTP, against an emulator with
every extension and against one without any (today's Weaver).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

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
    AsyncServiceClient,
    AsyncTrainingClient,
    Checkpoint,
    CheckpointPath,
    CheckpointStatus,
    CheckpointType,
    LoadResult,
    ServiceClient,
)
from weaver_facade.emulator import EmulatorConfig, RunningEmulator, create_app

NAME = "after-3-steps"


@pytest.fixture(params=[{}, {"extensions": "none"}], ids=["extensions-all", "extensions-none"])
def emulator_config(request: pytest.FixtureRequest) -> dict[str, object]:
    config: dict[str, object] = request.param
    return config


def check_training(losses: list[float]) -> None:
    assert len(losses) == 6
    assert all(later < earlier for earlier, later in itertools.pairwise(losses)), losses


def check_saved(checkpoint: Checkpoint, model_id: str) -> None:
    assert checkpoint.name == NAME
    assert checkpoint.type is CheckpointType.WEIGHT_AND_OPTIMIZER
    assert checkpoint.has_optimizer_state
    assert checkpoint.status is CheckpointStatus.COMPLETED
    assert checkpoint.path == CheckpointPath(model_id=model_id, name=NAME)
    assert str(checkpoint.path) == f"weaver://{model_id}/checkpoints/{NAME}"
    assert checkpoint.model_id == model_id
    assert checkpoint.ttl_seconds is None  # weight types are permanent by default
    assert checkpoint.expires_at is None
    assert checkpoint.created_at.tzinfo is not None


def check_listed(listed: list[Checkpoint], saved: Checkpoint) -> Checkpoint:
    assert [c.name for c in listed] == [NAME]
    found = listed[0]
    assert found.id == saved.id
    assert found.type is CheckpointType.WEIGHT_AND_OPTIMIZER
    assert found.path == saved.path
    return found


def check_weights_only_load(loaded: LoadResult, found: Checkpoint, details: bool = True) -> None:
    assert loaded.path == found.path
    assert loaded.include_optimizer is False
    assert loaded.checkpoint_id == (found.id if details else None)
    assert loaded.optimizer_step is None


def check_resume_load(resumed: LoadResult, found: Checkpoint, details: bool = True) -> None:
    """``details``: the server offers the load-details extension."""
    assert resumed.path == found.path
    assert resumed.include_optimizer is True
    assert resumed.checkpoint_id == (found.id if details else None)
    assert resumed.optimizer_step == (3 if details else None)


def check_wire(recorder: Recorder, long_poll: bool = True) -> None:
    """What the flow sent: keys on every request, no listing before saves, long-polls only."""
    assert recorder.requests
    for request in recorder.requests:
        assert request.headers["X-WEAVER-API-KEY"] == API_KEY
        assert request.headers["User-Agent"].startswith("weaver-facade/")
        if request.method == "POST":
            assert request.headers["Idempotency-Key"]
    saves = recorder.sent("POST", "/checkpoints")
    assert len(saves) == 1, "one save, sent once"
    # The only listing is the explicit list_checkpoints(), after the save.
    listings = recorder.sent("GET", "/checkpoints")
    assert len(listings) == 1
    assert recorder.requests.index(saves[0]) < recorder.requests.index(listings[0])
    polls = [r for r in recorder.sent("GET") if "/operations/" in r.url.path]
    assert all("wait" in r.url.params for r in polls), "every poll is a long-poll"
    operations = len([r for r in recorder.requests if r.method == "POST"]) - 3  # session, 3 models
    if long_poll:  # without it, polls back off (tests/integration/test_operations.py)
        assert len(polls) <= 2 * operations, f"{len(polls)} polls for {operations} operations"


def test_sync_flow(make_service: ServiceFactory, recorder: Recorder, emu: RunningEmulator) -> None:
    details = "load-details" in emu.config.extensions
    data = batch()
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    losses: list[float] = []
    saved: Checkpoint | None = None
    for step in range(1, 7):
        losses.append(trainer.forward_backward(data).loss)
        trainer.optim_step()
        if step == 3:
            saved = trainer.save_state(NAME)
    assert saved is not None
    check_training(losses)
    check_saved(saved, trainer.model_id)

    found = check_listed(trainer.list_checkpoints(), saved)

    weights_only = service.create_training_client(BASE_MODEL, seed=2)
    check_weights_only_load(weights_only.load_state(found), found, details)
    assert weights_only.forward_backward(data).loss == losses[3]
    weights_only.optim_step()
    assert weights_only.forward_backward(data).loss != losses[4], "the optimizer was not reset"

    # A new script: another client, another LoRA seed, only the path string.
    other: ServiceClient = make_service()
    resumed = other.create_training_client(BASE_MODEL, seed=3)
    check_resume_load(resumed.load_state_with_optimizer(str(found.path)), found, details)
    continued = []
    for _ in range(3):
        continued.append(resumed.forward_backward(data).loss)
        resumed.optim_step()
    assert continued == losses[3:]
    check_wire(recorder, "long-poll" in emu.config.extensions)


async def _async_flow(
    service: AsyncServiceClient, other: AsyncServiceClient, details: bool = True
) -> None:
    data = batch()
    trainer = await service.create_training_client(BASE_MODEL, seed=1)
    losses: list[float] = []
    saved: Checkpoint | None = None
    for step in range(1, 7):
        losses.append((await trainer.forward_backward(data)).loss)
        await trainer.optim_step()
        if step == 3:
            saved = await trainer.save_state(NAME)
    assert saved is not None
    check_training(losses)
    check_saved(saved, trainer.model_id)

    found = check_listed(await trainer.list_checkpoints(), saved)

    weights_only = await service.create_training_client(BASE_MODEL, seed=2)
    check_weights_only_load(await weights_only.load_state(found), found, details)
    assert (await weights_only.forward_backward(data)).loss == losses[3]
    await weights_only.optim_step()
    assert (await weights_only.forward_backward(data)).loss != losses[4]

    resumed: AsyncTrainingClient = await other.create_training_client(BASE_MODEL, seed=3)
    check_resume_load(await resumed.load_state_with_optimizer(found.path), found, details)
    continued = []
    for _ in range(3):
        continued.append((await resumed.forward_backward(data)).loss)
        await resumed.optim_step()
    assert continued == losses[3:]


async def test_async_flow(
    make_async_service: AsyncServiceFactory, recorder: Recorder, emu: RunningEmulator
) -> None:
    offered = emu.config.extensions
    await _async_flow(make_async_service(), make_async_service(), "load-details" in offered)
    check_wire(recorder, "long-poll" in offered)


@pytest.fixture
async def asgi_services() -> AsyncIterator[tuple[AsyncServiceClient, AsyncServiceClient]]:
    with tempfile.TemporaryDirectory(prefix="weaver-asgi-") as data_dir:
        app = create_app(EmulatorConfig(data_dir=Path(data_dir), api_keys=(API_KEY,)))
        clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) for _ in range(2)]
        services = [
            AsyncServiceClient("http://emulator.test", API_KEY, http_client=c) for c in clients
        ]
        try:
            yield services[0], services[1]
        finally:
            for service in services:
                await service.aclose()
            for client in clients:
                await client.aclose()
            app.state.emulator.close()


async def test_async_flow_in_process(
    asgi_services: tuple[AsyncServiceClient, AsyncServiceClient],
) -> None:
    await _async_flow(*asgi_services)
