"""The model lifecycle against the emulator: listing, terminating, cleanup on close, resume.

Listings are compared with the emulator's own answers over plain HTTP and with
its base-model registry, not with the facade's reading of them.
"""

from __future__ import annotations

import datetime
import time
import uuid

import httpx
import pytest
from weaver_client import limits

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
    BaseModelInfo,
    CheckpointNotReadyError,
    CheckpointRef,
    CheckpointStatus,
    LoraSettings,
    ModelInfo,
    ModelTerminatedError,
    NotFoundError,
    OptimizerStateUnavailableError,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    TrainingClient,
    UnsupportedByServerError,
)
from weaver_facade.emulator import RunningEmulator, run_emulator
from weaver_facade.emulator._base_models import BASE_MODELS


def raw_models(emu: RunningEmulator) -> list[dict[str, object]]:
    """Every model of the key, as the emulator lists it over plain HTTP."""
    reply = httpx.get(
        f"{emu.base_url}/api/v1/models",
        params={"limit": limits.LIST_MODELS_LIMIT_MAXIMUM},
        headers={"X-WEAVER-API-KEY": API_KEY},
    )
    reply.raise_for_status()
    items: list[dict[str, object]] = reply.json()["items"]
    return items


def statuses(emu: RunningEmulator) -> dict[object, object]:
    return {m["id"]: m["status"] for m in raw_models(emu)}


def train(trainer: TrainingClient, steps: int) -> list[float]:
    losses = []
    for _ in range(steps):
        losses.append(trainer.forward_backward(batch()).loss)
        trainer.optim_step()
    return losses


def test_supported_models_are_the_servers_base_models(service: ServiceClient) -> None:
    found = service.supported_models()
    assert all(isinstance(m, BaseModelInfo) for m in found)
    assert {m.name for m in found} == set(BASE_MODELS)
    by_name = {m.name: m for m in found}
    for name, spec in BASE_MODELS.items():
        assert by_name[name].status == "available"
        assert by_name[name].config["vocab_size"] == spec.vocab_size


@pytest.mark.parametrize("client", [ServiceClient, AsyncServiceClient])
async def test_an_httpx_timeout_of_numpy_seconds_is_taken_as_the_seconds(
    emu: RunningEmulator, client: type[ServiceClient | AsyncServiceClient]
) -> None:
    # Accepted as seconds, but kept as given: each request then failed at its socket
    # with "TypeError: 'numpy.float32' object cannot be interpreted as an integer".
    import numpy as np

    timeout = httpx.Timeout(np.float32(5), connect=np.int64(5))  # type: ignore[arg-type]
    if client is ServiceClient:
        with ServiceClient(emu.base_url, api_key=emu.api_key, timeout=timeout) as svc:
            found = svc.supported_models()
    else:
        async with AsyncServiceClient(emu.base_url, api_key=emu.api_key, timeout=timeout) as asvc:
            found = await asvc.supported_models()
    assert {m.name for m in found} == set(BASE_MODELS)


def test_models_are_listed_page_by_page_oldest_first(
    make_service: ServiceFactory, emu: RunningEmulator, recorder: Recorder
) -> None:
    service = make_service(terminate_models_on_close=False)
    made = [service.create_training_client(BASE_MODEL, seed=i).model_id for i in range(5)]
    full = service.create_training_client(BASE_MODEL, training_mode="full_ft").model_id
    recorder.requests.clear()

    listed = service.list_models(page_size=2)
    assert [m.id for m in listed] == [m["id"] for m in raw_models(emu)] == [*made, full]
    offsets = [r.url.params["offset"] for r in recorder.sent("GET", "/models")]
    assert offsets == ["0", "2", "4"]
    assert [m.id for m in service.iter_models()] == [*made, full]

    first, last = listed[0], listed[-1]
    assert first.lora == LoraSettings(rank=32, seed=0)
    assert first.lora_rank == 32
    assert first.status == "active"
    assert first.session_id == service.session_id
    assert isinstance(first.created_at, datetime.datetime)
    assert last.training_mode == "full_ft"
    assert last.lora is None
    assert service.get_model(made[2]) == listed[2]


def test_a_terminated_model_refuses_training_and_keeps_its_checkpoints(
    make_service: ServiceFactory,
) -> None:
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    train(trainer, 1)
    saved = trainer.save_state("kept")
    ended = service.terminate_model(trainer.model_id)
    assert isinstance(ended, ModelInfo)
    assert ended.status == "terminated"
    assert service.get_model(trainer.model_id).status == "terminated"
    assert service.terminate_model(trainer.model_id).status == "terminated"  # twice is fine
    with pytest.raises(ModelTerminatedError) as here:  # this client knows it
        trainer.forward_backward(batch())
    assert here.value.status_code is None
    # Another client (another process, say) learns it from the server.
    elsewhere = make_service().training_client(trainer.model_id)
    with pytest.raises(ModelTerminatedError) as there:
        elsewhere.forward_backward(batch())
    assert there.value.status_code == 409
    assert [c.id for c in trainer.list_checkpoints()] == [saved.id]


def test_closing_terminates_created_models_but_not_kept_or_attached_ones(
    make_service: ServiceFactory, emu: RunningEmulator
) -> None:
    other = make_service(terminate_models_on_close=False)
    foreign = other.create_training_client(BASE_MODEL).model_id

    service = make_service()
    created = service.create_training_client(BASE_MODEL).model_id
    kept = service.create_training_client(BASE_MODEL, keep=True).model_id
    service.training_client(foreign)
    service.close()
    service.close()  # a second close sends nothing more

    assert statuses(emu) == {foreign: "active", created: "terminated", kept: "active"}

    keeper = make_service(terminate_models_on_close=False)
    spared = keeper.create_training_client(BASE_MODEL).model_id
    keeper.close()
    assert statuses(emu)[spared] == "active"


def test_a_model_terminated_by_hand_is_not_terminated_again_on_close(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    service = make_service()
    model_id = service.create_training_client(BASE_MODEL).model_id
    service.terminate_model(model_id)
    service.close()
    assert len(recorder.sent("POST", "/terminate")) == 1


def test_closing_after_the_server_went_away_does_not_raise(recorder: Recorder) -> None:
    http = httpx.Client(event_hooks={"request": [recorder.sync_hook]})
    with run_emulator(api_keys=(API_KEY,)) as gone:
        service = ServiceClient(
            gone.base_url,
            API_KEY,
            http_client=http,
            retry=RetryPolicy(RetrySettings(max_retries=0)),
            heartbeat_interval=0,
        )
        for _ in range(3):
            service.create_training_client(BASE_MODEL)
    service.close()  # logged, not raised; and tried once only: the server is unreachable
    http.close()
    assert len(recorder.sent("POST", "/terminate")) == 1


def test_closing_after_the_server_went_away_is_quick_with_the_default_retries(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    # Each terminate refused by a closed port was retried 4 times with backoff, about
    # 4-6 s, where README says a server that cannot be reached ends the attempts at once.
    http = httpx.Client(event_hooks={"request": [recorder.sync_hook]})
    with run_emulator(api_keys=(API_KEY,)) as gone:
        service = ServiceClient(gone.base_url, API_KEY, http_client=http, heartbeat_interval=0)
        made = [service.create_training_client(BASE_MODEL).model_id for _ in range(3)]
    started = time.monotonic()
    service.close()
    took = time.monotonic() - started
    http.close()
    assert took < 1.0
    assert len(recorder.sent("POST", "/terminate")) == 1
    assert f"models left running: {', '.join(made)}" in caplog.text


async def test_aclosing_after_the_server_went_away_is_quick_with_the_default_retries(
    recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    http = httpx.AsyncClient(event_hooks={"request": [recorder.async_hook]})
    with run_emulator(api_keys=(API_KEY,)) as gone:
        service = AsyncServiceClient(gone.base_url, API_KEY, http_client=http, heartbeat_interval=0)
        made = [(await service.create_training_client(BASE_MODEL)).model_id for _ in range(3)]
    started = time.monotonic()
    await service.aclose()
    took = time.monotonic() - started
    await http.aclose()
    assert took < 1.0
    assert len(recorder.sent("POST", "/terminate")) == 1
    assert f"models left running: {', '.join(made)}" in caplog.text


@pytest.mark.parametrize("ref", ["checkpoint", "path", "id"])
def test_resume_in_one_call_continues_bit_for_bit(
    make_service: ServiceFactory, recorder: Recorder, ref: str
) -> None:
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL, lora_rank=8, seed=5)
    train(trainer, 3)
    saved = trainer.save_state("after-3")
    reference = train(trainer, 3)

    other = make_service()
    refs: dict[str, CheckpointRef] = {
        "checkpoint": saved,
        "path": str(saved.path),
        "id": str(saved.id),
    }
    source = refs[ref]
    resumed = other.create_training_client_from_state(source)
    assert resumed.model_id != trainer.model_id
    assert resumed.model.base_model == BASE_MODEL
    assert resumed.model.lora == LoraSettings(rank=8, seed=5)
    assert resumed.resumed_from is not None
    assert resumed.resumed_from.path == saved.path
    assert resumed.resumed_from.include_optimizer is True
    assert resumed.resumed_from.optimizer_step == 3
    assert resumed.resumed_from.model_id == resumed.model_id
    assert trainer.resumed_from is None
    assert train(resumed, 3) == reference
    loads = recorder.sent("POST", "/load")
    assert loads[-1].url.path == f"/api/v1/models/{resumed.model_id}/load"


def test_resume_of_an_unknown_id_is_not_found_once_the_server_read_one(
    make_service: ServiceFactory, emu: RunningEmulator
) -> None:
    # An unknown id was an UnsupportedByServerError saying the server "may lack" the
    # checkpoint-by-id extension, even after that server had answered a resume by id.
    service = make_service()
    saved = service.create_training_client(BASE_MODEL).save_state("known")
    service.create_training_client_from_state(saved.id)  # the server reads ids
    before = raw_models(emu)
    with pytest.raises(NotFoundError) as missing:
        service.create_training_client_from_state(uuid.uuid4())
    assert not isinstance(missing.value, UnsupportedByServerError)
    assert missing.value.status_code == 404
    assert raw_models(emu) == before


def test_a_resumed_model_is_kept_on_request(
    make_service: ServiceFactory, emu: RunningEmulator
) -> None:
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL)
    saved = trainer.save_state("s")
    kept = service.create_training_client_from_state(saved, keep=True)
    dropped = service.create_training_client_from_state(saved)
    service.close()
    found = statuses(emu)
    assert found[kept.model_id] == "active"
    assert found[dropped.model_id] == found[trainer.model_id] == "terminated"


def test_operations_name_their_model_and_times(service: ServiceClient) -> None:
    trainer = service.create_training_client(BASE_MODEL)
    handle = trainer.save_state("timed", wait=False)
    handle.result()
    assert handle.model_id == trainer.model_id
    assert handle.created_at is not None
    assert handle.updated_at is not None
    assert handle.created_at <= handle.updated_at
    again = service.operation(handle.id)
    assert (again.model_id, again.created_at) == (handle.model_id, handle.created_at)


def test_resume_of_a_full_fine_tune_without_the_optimizer(make_service: ServiceFactory) -> None:
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL, training_mode="full_ft")
    train(trainer, 2)
    saved = trainer.save_state("weights", include_optimizer=False)
    reference = train(trainer, 1)
    resumed = service.create_training_client_from_state(saved, with_optimizer=False)
    assert resumed.model.training_mode == "full_ft"
    assert resumed.forward_backward(batch()).loss == reference[0]  # the same weights


@pytest.mark.parametrize("by_path", [False, True])
def test_resume_refuses_a_weights_only_checkpoint_before_creating_a_model(
    make_service: ServiceFactory, emu: RunningEmulator, recorder: Recorder, by_path: bool
) -> None:
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL)
    saved = trainer.save_state("weights", include_optimizer=False)
    before = raw_models(emu)
    recorder.requests.clear()
    with pytest.raises(OptimizerStateUnavailableError, match="weight_and_optimizer") as refused:
        service.create_training_client_from_state(str(saved.path) if by_path else saved)
    assert raw_models(emu) == before
    assert not recorder.sent("POST")
    # The way out it names is this call's (it named load_state's, another method's).
    said = str(refused.value)
    assert "create_training_client_from_state needs" in said
    assert "pass with_optimizer=False" in said
    resumed = service.create_training_client_from_state(saved, with_optimizer=False)
    assert resumed.resumed_from is not None
    assert resumed.resumed_from.include_optimizer is False


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 0.8}}])
def test_resume_refuses_a_pending_checkpoint_before_creating_a_model(
    make_service: ServiceFactory, emu: RunningEmulator
) -> None:
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL)
    handle = trainer.save_state("slow", wait=False)
    pending = trainer.get_checkpoint(f"weaver://{trainer.model_id}/checkpoints/slow")
    count = len(raw_models(emu))
    with pytest.raises(CheckpointNotReadyError, match="not completed") as raised:
        service.create_training_client_from_state(pending)
    assert len(raw_models(emu)) == count
    # The next step, as on the server's own refusal: wait for the save.
    assert [note.split(":")[0] for note in raised.value.__notes__] == [
        "a checkpoint is pending until its save ends"
    ]
    handle.result()
    # The object still says pending; the server's checkpoint is completed now.
    assert pending.status is CheckpointStatus.PENDING
    resumed = service.create_training_client_from_state(pending)
    assert resumed.resumed_from is not None


def test_latest_checkpoint_is_the_newest_completed_one(service: ServiceClient) -> None:
    trainer = service.create_training_client(BASE_MODEL)
    assert trainer.latest_checkpoint() is None
    trainer.save_state("first")
    second = trainer.save_state("second", include_optimizer=False)
    assert trainer.latest_checkpoint() == second
    resumed = service.create_training_client_from_state(
        trainer.latest_checkpoint() or second, with_optimizer=False
    )
    assert resumed.latest_checkpoint() is None
    # The README's recipe for a second resume before the first saves: the one it came
    # from, as it was loaded (weights only: with the optimizer, the default, it is refused).
    came_from = resumed.resumed_from
    assert came_from is not None
    again = service.create_training_client_from_state(
        came_from.path, with_optimizer=came_from.include_optimizer
    )
    assert again.resumed_from is not None
    assert (again.resumed_from.path, again.resumed_from.include_optimizer) == (second.path, False)


def test_resumed_from_is_the_resumes_own_client_s_alone(
    make_service: ServiceFactory, service: ServiceClient
) -> None:
    # The README's word: the server keeps no record of the load, so the service client that
    # resumed knows it for all its training clients of the model, and another one (the next
    # process after a crash, say) cannot say where the model came from.
    trainer = service.create_training_client(BASE_MODEL)
    saved = trainer.save_state("origin")
    resumed = service.create_training_client_from_state(saved)
    assert resumed.resumed_from is not None
    copy = resumed.with_options(timeout=30)
    assert copy.resumed_from == resumed.resumed_from
    assert service.training_client(resumed.model_id).resumed_from == resumed.resumed_from
    assert make_service().training_client(resumed.model_id).resumed_from is None


async def test_async_models_resume_and_cleanup(
    make_async_service: AsyncServiceFactory, emu: RunningEmulator
) -> None:
    service = make_async_service()
    assert {m.name for m in await service.supported_models()} == set(BASE_MODELS)
    trainer = await service.create_training_client(BASE_MODEL, seed=2)
    for _ in range(2):
        await trainer.forward_backward(batch())
        await trainer.optim_step()
    saved = await trainer.save_state("async")
    assert await trainer.latest_checkpoint() == saved
    reference = []
    for _ in range(2):
        reference.append((await trainer.forward_backward(batch())).loss)
        await trainer.optim_step()

    resumed = await service.create_training_client_from_state(saved.path)
    continued = []
    for _ in range(2):
        continued.append((await resumed.forward_backward(batch())).loss)
        await resumed.optim_step()
    assert continued == reference

    listed = [m.id async for m in service.iter_models(page_size=1)]
    assert listed == [trainer.model_id, resumed.model_id]
    assert (await service.get_model(resumed.model_id)).status == "active"
    assert (await service.terminate_model(trainer.model_id)).status == "terminated"
    await service.aclose()
    assert statuses(emu) == {trainer.model_id: "terminated", resumed.model_id: "terminated"}
    other = make_async_service()
    weights = await (await other.create_training_client(BASE_MODEL)).save_state(
        "w", include_optimizer=False
    )
    count = len(raw_models(emu))
    with pytest.raises(OptimizerStateUnavailableError):
        await other.create_training_client_from_state(str(weights.path))
    assert len(raw_models(emu)) == count
