"""Steps started together on one model train as if they had been started one by one.

Each step takes its seq_id when it is called, but the server runs a model's steps
in the order their requests arrive. Sent concurrently, a later step could arrive
first and the model silently trained in another order. A save started with them
must likewise hold the weights of the steps called before it.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable

from tests.support.integration import BASE_MODEL, AsyncServiceFactory, Recorder, ServiceFactory
from weaver_facade import AdamParams, ForwardBackwardResult, datum_from_tokens

BATCH = [datum_from_tokens(list(b"the cat sat on the mat"))]
ADAM = AdamParams(learning_rate=0.05)
STEPS = 4


def seq_ids(recorder: Recorder, model_id: str) -> list[int]:
    """The seq_id of each training request to ``model_id``, in the order sent."""
    return [
        json.loads(r.content)["payload"]["seq_id"]
        for r in recorder.requests
        if r.method == "POST"
        and r.url.path.startswith(f"/api/v1/models/{model_id}/")
        and "payload" in r.content.decode()
    ]


async def test_gathered_steps_train_in_call_order(
    make_async_service: AsyncServiceFactory, recorder: Recorder
) -> None:
    svc = make_async_service()
    one_by_one = await svc.create_training_client(BASE_MODEL, seed=7)
    expected = []
    for _ in range(STEPS):
        expected.append((await one_by_one.forward_backward(BATCH)).loss)
        await one_by_one.optim_step(ADAM)
    for _ in range(3):  # each trial raced, and lost, most of the time before
        together = await svc.create_training_client(BASE_MODEL, seed=7)
        steps: list[Awaitable[object]] = []
        for _ in range(STEPS):
            steps += [together.forward_backward(BATCH), together.optim_step(ADAM)]
        results = await asyncio.gather(*steps)
        assert [r.loss for r in results[::2] if isinstance(r, ForwardBackwardResult)] == expected
        assert seq_ids(recorder, together.model_id) == list(range(1, 2 * STEPS + 1))


def test_steps_from_threads_reach_the_server_in_seq_id_order(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    trainer = make_service().create_training_client(BASE_MODEL, seed=7)
    start = threading.Barrier(8)

    def step() -> None:
        start.wait()
        trainer.forward_backward(BATCH, wait=False)

    threads = [threading.Thread(target=step) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seq_ids(recorder, trainer.model_id) == list(range(1, 9))


async def test_a_save_gathered_with_steps_holds_the_weights_after_them(
    make_async_service: AsyncServiceFactory, recorder: Recorder
) -> None:
    # A save, a load or an export is no training step, but it acts on what the steps
    # called before it made: it must not reach the server ahead of them.
    svc = make_async_service()
    trainer = await svc.create_training_client(BASE_MODEL, seed=7)
    _, _, saved = await asyncio.gather(
        trainer.forward_backward(BATCH), trainer.optim_step(ADAM), trainer.save_state("after")
    )
    after_step = (await trainer.forward_backward(BATCH)).loss
    resumed = await svc.create_training_client_from_state(saved)
    assert (await resumed.forward_backward(BATCH)).loss == after_step
    sent = [r.url.path.rsplit("/", 1)[-1] for r in recorder.requests if r.method == "POST"]
    model_calls = [
        p for p in sent if p in ("forward-backward-passes", "optimizer-steps", "checkpoints")
    ]
    assert model_calls[:3] == ["forward-backward-passes", "optimizer-steps", "checkpoints"]


def test_a_schedule_that_decays_to_zero_takes_its_last_step(make_service: ServiceFactory) -> None:
    # A learning rate of 0 (the end of a linear or cosine decay) was refused with 400; the
    # step now counts and leaves the weights as they are.
    trainer = make_service().create_training_client(BASE_MODEL, seed=7)
    before = trainer.forward_backward(BATCH).loss
    trainer.optim_step(AdamParams(learning_rate=0.0))
    assert trainer.forward_backward(BATCH).loss == before
    trainer.optim_step(ADAM)
    assert trainer.forward_backward(BATCH).loss != before
