"""Operations against the emulator: ``wait=False`` handles, progress, timeouts, re-attaching.

The emulator's ``latency`` setting keeps operations running long enough to
be seen pending; ``honor_long_poll=False`` makes it a server without the
long-poll extension.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import pytest

from tests.support.integration import (
    BASE_MODEL,
    AsyncServiceFactory,
    Recorder,
    ServiceFactory,
    batch,
)
from weaver_facade import (
    AsyncOperationHandle,
    Checkpoint,
    CheckpointType,
    ForwardBackwardResult,
    InvalidArgumentError,
    LoadResult,
    NotFoundError,
    OperationHandle,
    OperationProgress,
    OperationStatus,
    OperationTimeoutError,
    OptimStepResult,
    PollSettings,
)

SLOW = 0.4  # seconds of emulated work per operation


def _polls(recorder: Recorder, operation_id: str) -> list[Any]:
    return recorder.sent("GET", f"/operations/{operation_id}")


@pytest.mark.parametrize(
    "emulator_config", [{"latency": {"forward_backward": SLOW, "optim_step": SLOW}}]
)
def test_wait_false_handles_pipeline_and_report_progress(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    events: list[OperationProgress] = []
    service = make_service(on_progress=events.append)
    trainer = service.create_training_client(BASE_MODEL, seed=1)

    # Submit a whole step before waiting for anything: the server queues them in order.
    fb = trainer.forward_backward(batch(), wait=False)
    step = trainer.optim_step(wait=False)
    assert isinstance(fb, OperationHandle)
    assert isinstance(step, OperationHandle)
    assert fb.id != step.id
    assert not fb.done()
    initial = fb.status
    assert initial in (OperationStatus.PENDING, OperationStatus.RUNNING)
    # The step waits behind the forward-backward pass, and says so.
    queued = step.pending_info
    assert (step.status, queued is not None) == (OperationStatus.PENDING, True)
    assert queued is not None
    assert queued.code == "queued"

    assert step.refresh() in (OperationStatus.PENDING, OperationStatus.RUNNING)
    result = fb.result(timeout=30)
    assert isinstance(result, ForwardBackwardResult)
    assert result.loss > 0
    assert len(result.logprobs) == len(batch())
    assert fb.done()
    assert fb.status is OperationStatus.DONE
    assert isinstance(step.result(timeout=30), OptimStepResult)
    assert step.status is OperationStatus.DONE

    # done() and a finished handle's refresh() need no request.
    sent = len(recorder.requests)
    assert fb.refresh() is OperationStatus.DONE
    assert fb.result() is result
    assert len(recorder.requests) == sent

    for handle in (fb, step):
        seen = [e for e in events if e.operation_id == handle.id]
        assert seen[0].status in (OperationStatus.PENDING, OperationStatus.RUNNING)
        assert seen[-1].status is OperationStatus.DONE
        assert seen[-1].pending_info is None
        # Reported on change only: no two identical reports in a row.
        pairs = itertools.pairwise(seen)
        assert all((a.status, a.pending_info) != (b.status, b.pending_info) for a, b in pairs)
    assert any(e.pending_info is not None for e in events if e.operation_id == step.id)


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 0.8}}])
def test_timeout_then_reattach_from_another_client(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    first = make_service()
    trainer = first.create_training_client(BASE_MODEL, seed=1, keep=True)  # a crash ends nothing
    handle = trainer.save_state("slow-save", wait=False)

    started = time.monotonic()
    with pytest.raises(OperationTimeoutError) as caught:
        handle.result(timeout=0.2)
    assert time.monotonic() - started < 1.2, "the deadline is kept"
    error = caught.value
    assert error.operation_id == handle.id
    assert error.status in ("pending", "running")
    assert handle.id in str(error)
    assert isinstance(error, TimeoutError)
    first.close()  # the script "crashes"; the save goes on

    second = make_service()
    again = second.operation(error.operation_id)
    assert again.id == handle.id
    saved = again.result(timeout=30)
    # The operation's kind picks the parser: a typed Checkpoint, not a dict.
    assert isinstance(saved, Checkpoint)
    assert saved.name == "slow-save"
    assert saved.type is CheckpointType.WEIGHT_AND_OPTIMIZER
    typed = second.operation(handle.id, Checkpoint)
    assert typed.result(timeout=1) == saved


def test_reattach_each_kind_of_operation(make_service: ServiceFactory) -> None:
    trainer = make_service().create_training_client(BASE_MODEL, seed=1)
    fb = trainer.forward_backward(batch(), wait=False)
    fb_result = fb.result(timeout=30)
    step = trainer.optim_step(wait=False)
    step_result = step.result(timeout=30)
    saved = trainer.save_state("kinds")
    load = trainer.load_state_with_optimizer(saved, wait=False)
    load_result = load.result(timeout=30)

    other = make_service()
    assert other.operation(fb.id).result(timeout=5) == fb_result
    assert other.operation(step.id, OptimStepResult).result(timeout=5) == step_result
    reloaded = other.operation(load.id, LoadResult).result(timeout=5)
    assert reloaded == load_result
    assert reloaded.path == saved.path
    assert reloaded.include_optimizer is True

    with pytest.raises(InvalidArgumentError, match="optim_step"):
        other.operation(step.id, Checkpoint)
    with pytest.raises(NotFoundError) as caught:
        other.operation("op-does-not-exist")
    assert caught.value.status_code == 404


@pytest.mark.parametrize(
    "emulator_config", [{"honor_long_poll": False, "latency": {"forward_backward": 1.0}}]
)
def test_a_server_without_long_poll_is_not_hammered(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    service = make_service()
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    handle = trainer.forward_backward(batch(), wait=False)
    started = time.monotonic()
    result = handle.result(timeout=30)
    elapsed = time.monotonic() - started
    assert isinstance(result, ForwardBackwardResult)
    polls = _polls(recorder, handle.id)
    assert all("wait" in p.url.params for p in polls), "it still asks for a long-poll"
    # Backoff starts at 0.25 s and grows: about 5 polls for one second of work,
    # where a busy loop would send hundreds.
    assert 2 <= len(polls) <= 15, (len(polls), elapsed)
    assert elapsed < 1.0 + 10.0


@pytest.mark.parametrize("emulator_config", [{"latency": {"forward_backward": 1.0}}])
def test_long_poll_answers_in_one_request(make_service: ServiceFactory, recorder: Recorder) -> None:
    trainer = make_service().create_training_client(BASE_MODEL, seed=1)
    handle = trainer.forward_backward(batch(), wait=False)
    handle.result(timeout=30)
    polls = _polls(recorder, handle.id)
    # One answer per change: `running` (unless it already ran when submitted), then `done`.
    assert 1 <= len(polls) <= 2
    assert float(polls[-1].url.params["wait"]) > 1.0


@pytest.mark.parametrize("emulator_config", [{"latency": {"forward_backward": 5.0}}])
def test_poll_settings_bound_each_wait(make_service: ServiceFactory) -> None:
    service = make_service(poll=PollSettings(timeout=0.3, long_poll=0.1))
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    started = time.monotonic()
    with pytest.raises(OperationTimeoutError):
        trainer.forward_backward(batch())  # wait=True uses PollSettings.timeout
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": 1.0}}])
async def test_async_handles_timeout_and_reattach(
    make_async_service: AsyncServiceFactory,
) -> None:
    events: list[OperationProgress] = []
    service = make_async_service(on_progress=events.append)
    trainer = await service.create_training_client(BASE_MODEL, seed=1)
    handle = await trainer.save_state("async-save", include_optimizer=False, wait=False)
    assert isinstance(handle, AsyncOperationHandle)
    assert not handle.done()
    with pytest.raises(OperationTimeoutError) as caught:
        await handle.result(timeout=0.1)
    assert caught.value.operation_id == handle.id

    other = make_async_service()
    again = await other.operation(handle.id)
    saved = await again
    assert isinstance(saved, Checkpoint)
    assert saved.type is CheckpointType.WEIGHT
    assert await handle == saved
    assert [e.status for e in events if e.operation_id == handle.id][-1] is OperationStatus.DONE


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": SLOW}}])
def test_on_progress_is_called_in_each_thread_that_waits(make_service: ServiceFactory) -> None:
    # The README: `on_progress` is called in the thread that starts or waits for the
    # operation, so a ServiceClient that waits in two threads calls it in both.
    heard: list[tuple[int, str]] = []

    def note(progress: OperationProgress) -> None:
        heard.append((threading.get_ident(), progress.operation_id))

    service = make_service(on_progress=note)
    trainers = [service.create_training_client(BASE_MODEL, seed=1) for _ in range(2)]
    waited_in: dict[str, int] = {}
    together = threading.Barrier(len(trainers))

    def save(index: int) -> None:
        together.wait(timeout=30)
        handle = trainers[index].save_state(f"thread-{index}", wait=False)
        waited_in[handle.id] = threading.get_ident()
        handle.result(timeout=30)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(trainers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(set(waited_in.values())) == len(trainers)
    assert {operation for _, operation in heard} == set(waited_in)
    assert all(waited_in[operation] == thread for thread, operation in heard)


@pytest.mark.parametrize("emulator_config", [{"latency": {"save_checkpoint": SLOW}}])
async def test_an_async_clients_on_progress_is_called_on_its_event_loop(
    make_async_service: AsyncServiceFactory,
) -> None:
    # The README: an AsyncServiceClient calls `on_progress` on its event loop, also for
    # operations waited for at once (each change names its operation).
    heard: list[tuple[asyncio.AbstractEventLoop | None, str]] = []

    def note(progress: OperationProgress) -> None:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # not on a thread that runs a loop
            loop = None
        heard.append((loop, progress.operation_id))

    service = make_async_service(on_progress=note)
    trainers = [await service.create_training_client(BASE_MODEL, seed=1) for _ in range(2)]
    handles = [await t.save_state(f"task-{i}", wait=False) for i, t in enumerate(trainers)]
    await asyncio.gather(*(handle.result(timeout=30) for handle in handles))
    assert {operation for _, operation in heard} == {handle.id for handle in handles}
    assert {loop for loop, _ in heard} == {asyncio.get_running_loop()}


# -- live status: a queued operation's `running` arrives before its end ----------------------

QUEUED = 1.5  # seconds of emulated work per forward-backward pass


def _watched(handle: Any) -> list[tuple[OperationStatus, float]]:
    return [(p.status, time.monotonic()) for p in handle.watch(timeout=30)]


@pytest.mark.parametrize("emulator_config", [{"latency": {"forward_backward": QUEUED}}])
def test_a_queued_operations_running_is_seen_before_its_end(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    trainer = make_service().create_training_client(BASE_MODEL, seed=1)
    first = trainer.forward_backward(batch(), wait=False)
    second = trainer.forward_backward(batch(), wait=False)
    assert second.status is OperationStatus.PENDING
    seen = _watched(second)
    statuses = [status for status, _ in seen]
    assert statuses[0] is OperationStatus.PENDING
    assert OperationStatus.RUNNING in statuses
    assert statuses[-1] is OperationStatus.DONE
    running_at = next(t for s, t in seen if s is OperationStatus.RUNNING)
    done_at = seen[-1][1]
    # `running` came when the first pass ended, a whole pass before the second ended;
    # a long-poll that answered only at the end would show them together.
    assert done_at - running_at > QUEUED / 2, seen
    assert first.refresh() is OperationStatus.DONE
    # The client told the server what it had seen, and the server answered on the change.
    polls = recorder.sent("GET", f"/operations/{second.id}")
    assert any("seen_revision" in r.url.params for r in polls)


@pytest.mark.parametrize("emulator_config", [{"latency": {"forward_backward": 0.3}}])
def test_with_long_poll_running_arrives_within_milliseconds(make_service: ServiceFactory) -> None:
    # The README: with the long-poll extension "`pending` -> `running` arrives within
    # milliseconds". The second pass runs once the first ends, which another long-poll
    # (the first's result, in a thread) sees as soon: the watcher's `running` follows it.
    trainer = make_service().create_training_client(BASE_MODEL, seed=1)
    first = trainer.forward_backward(batch(), wait=False)
    second = trainer.forward_backward(batch(), wait=False)
    first_done: list[float] = []

    def wait_for_first() -> None:
        first.result(timeout=30)
        first_done.append(time.monotonic())

    waiter = threading.Thread(target=wait_for_first)
    waiter.start()
    seen = _watched(second)
    waiter.join()
    running = [t for s, t in seen if s is OperationStatus.RUNNING]
    assert running, seen
    assert abs(running[0] - first_done[0]) < 0.25, seen  # generous: milliseconds when idle


@pytest.mark.parametrize("emulator_config", [{"latency": {"forward_backward": QUEUED}}])
def test_a_wait_for_the_end_alone_is_held_until_the_end(
    make_service: ServiceFactory, recorder: Recorder
) -> None:
    # Issue 7: at most 2 polls for an operation up to 25 s with the 20 s hold. Scaled down
    # here: a second, queued pass runs 1.5 s after 1.5 s pending; polls are held 5 s.
    service = make_service(poll=PollSettings(long_poll=5))
    trainer = service.create_training_client(BASE_MODEL, seed=1)
    trainer.forward_backward(batch(), wait=False)
    second = trainer.forward_backward(batch(), wait=False)
    assert second.status is OperationStatus.PENDING
    second.result(timeout=30)
    # Held until the end: the running status alone ended no poll.
    assert len(_polls(recorder, second.id)) == 1
    assert all("seen_revision" not in r.url.params for r in _polls(recorder, second.id))


@pytest.mark.parametrize(
    "emulator_config", [{"latency": {"forward_backward": QUEUED}, "honor_long_poll": False}]
)
def test_without_long_poll_the_watch_still_sees_every_status(
    make_service: ServiceFactory,
) -> None:
    trainer = make_service().create_training_client(BASE_MODEL, seed=1)
    trainer.forward_backward(batch(), wait=False)
    second = trainer.forward_backward(batch(), wait=False)
    statuses = [status for status, _ in _watched(second)]
    assert statuses[0] is OperationStatus.PENDING
    assert OperationStatus.RUNNING in statuses
    assert statuses[-1] is OperationStatus.DONE
