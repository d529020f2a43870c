"""Clients and operation handles sent to another process (pickled) refuse with advice."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from tests.support.integration import BASE_MODEL, batch
from weaver_facade import AsyncServiceClient, ServiceClient, TrainingClient
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
