"""Clients and operation handles sent to another process (pickled) refuse with advice;
errors raised in a worker process reach the parent whole."""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.support.integration import BASE_MODEL, batch
from weaver_facade import (
    AsyncServiceClient,
    Checkpoint,
    NotFoundError,
    OperationTimeoutError,
    ServiceClient,
    TrainingClient,
)
from weaver_facade.emulator import RunningEmulator


def refusal(thing: object) -> str:
    with pytest.raises(TypeError) as refused:
        pickle.dumps(thing)
    return str(refused.value)


# A script that handed one to a process pool (or multiprocessing's Queue) got
# "cannot pickle '_thread.lock' object", "cannot pickle 'SSLContext' object" or "Can't
# pickle local object '_Base._handle.<locals>.poll_again'", which said nothing of what to
# send instead.


def test_a_sync_client_says_to_make_one_in_the_other_process(
    service: ServiceClient, trainer: TrainingClient
) -> None:
    for client in (service, trainer, trainer.with_options(timeout=5)):
        text = refusal(client)
        assert text.startswith(f"{type(client).__name__} cannot be pickled"), text
        assert "make a ServiceClient in the other process" in text, text
        assert "training_client(model_id)" in text, text
    assert trainer.forward_backward(batch()).loss > 0  # refusing changed nothing


def test_an_operation_handle_says_to_send_its_id(trainer: TrainingClient) -> None:
    handle = trainer.forward_backward(batch(), wait=False)
    text = refusal(handle)
    assert text.startswith("OperationHandle cannot be pickled"), text
    assert "service.operation(" in text, text
    assert handle.result(timeout=30).loss > 0


def test_async_clients_and_handles_refuse_alike(emu: RunningEmulator) -> None:
    async def main() -> list[str]:
        async with AsyncServiceClient(emu.base_url, emu.api_key) as service:
            trainer = await service.create_training_client(BASE_MODEL)
            handle = await trainer.forward_backward(batch(), wait=False)
            texts = [refusal(service), refusal(trainer), refusal(handle)]
            await handle.result(timeout=30)
            return texts

    service_text, trainer_text, handle_text = asyncio.run(main())
    assert service_text.startswith("AsyncServiceClient cannot be pickled"), service_text
    assert trainer_text.startswith("AsyncTrainingClient cannot be pickled"), trainer_text
    assert handle_text.startswith("AsyncOperationHandle cannot be pickled"), handle_text


def test_what_the_calls_return_pickles_whole(
    service: ServiceClient, trainer: TrainingClient
) -> None:
    result = trainer.forward_backward(batch())
    checkpoint = trainer.save_state("sent")
    artifact = trainer.export_weights(checkpoint)
    for value in (
        result,
        checkpoint,
        checkpoint.path,
        artifact,
        service.get_model(trainer.model_id),
    ):
        assert pickle.loads(pickle.dumps(value)) == value  # noqa: S301 (our own bytes)


def _get_model_in_worker(base_url: str, api_key: str, model_id: str) -> None:
    with ServiceClient(base_url=base_url, api_key=api_key, max_retries=0) as service:
        service.get_model(model_id)


def _wait_in_worker(base_url: str, api_key: str, model_id: str) -> None:
    with ServiceClient(base_url=base_url, api_key=api_key) as service:
        service.training_client(model_id).save_state("slow", wait=False).result(timeout=0.05)


# Python 3.12 warns of any fork of a process with threads (the emulator's); the worker
# makes a client of its own and shares no lock with them.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.parametrize("start", ["spawn", "fork"])
@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 1.0}}])
def test_an_error_raised_in_a_worker_process_reaches_the_parent_whole(
    emu: RunningEmulator, service: ServiceClient, start: str
) -> None:
    # A process pool pickles what its worker raised; one that could not be unpickled
    # broke the pool (BrokenProcessPool) instead of reaching the caller.
    assert emu.api_key is not None
    with pytest.raises(NotFoundError) as here:  # the same call, in this process
        service.get_model("m-missing")
    trainer = service.create_training_client(BASE_MODEL)
    context = multiprocessing.get_context(start)
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        missing = pool.submit(_get_model_in_worker, emu.base_url, emu.api_key, "m-missing")
        slow = pool.submit(_wait_in_worker, emu.base_url, emu.api_key, trainer.model_id)
        with pytest.raises(NotFoundError) as there:
            missing.result(timeout=60)
        with pytest.raises(OperationTimeoutError) as waited:
            slow.result(timeout=60)
    theirs, ours = there.value, here.value
    assert (theirs.status_code, theirs.code, theirs.message, theirs.retryable) == (
        ours.status_code,
        ours.code,
        ours.message,
        ours.retryable,
    )
    assert theirs.request_id
    assert theirs.request_id != ours.request_id
    assert str(theirs) == str(ours).replace(str(ours.request_id), theirs.request_id)
    assert theirs.__notes__ == ours.__notes__
    timeout = waited.value
    assert timeout.operation_id in str(timeout)
    assert timeout.status in ("pending", "running")
    saved = service.operation(timeout.operation_id, Checkpoint).result(timeout=30)
    assert saved.name == "slow"
