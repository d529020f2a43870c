"""Operation handles: wait=False, progress, timeouts, re-attaching by id, sync and async."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import logging
import math
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Generator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import httpcore
import httpx
import pytest
from weaver_client import limits

import weaver_facade._operations
from tests.support.fakeserver import (
    BASE,
    KEY,
    FakeClock,
    FakeWeaver,
    HeldTransport,
    async_service,
    checkpoint_json,
    error_json,
    json_reply,
    service,
)
from tests.support.loop_ticks import longest, loop_ticks
from tests.support.openapi import openapi
from weaver_facade import (
    AdamParams,
    APIConnectionError,
    Artifact,
    AsyncServiceClient,
    Checkpoint,
    ForwardBackwardResult,
    InvalidArgumentError,
    LoadResult,
    NotFoundError,
    OperationFailedError,
    OperationHandle,
    OperationProgress,
    OperationResult,
    OperationStatus,
    OperationTimeoutError,
    OptimStepResult,
    PendingInfo,
    PollPolicy,
    PollSettings,
    ResponseValidationError,
    ServiceClient,
    datum_from_tokens,
)
from weaver_facade._lazy import in_own_thread
from weaver_facade._operations import OperationSnapshot
from weaver_facade._types import forward_backward_result

E = TypeVar("E", bound=BaseException)
OP = "/api/v1/operations/op-1"
_JSON = {"Content-Type": "application/json", "X-Request-ID": "req-1"}
ROOT = Path(__file__).resolve().parents[2]
# The typed results a re-attached operation can give (``OperationResult`` less the raw dict).
OPERATION_RESULT_TYPES = [t for t in get_args(OperationResult) if get_origin(t) is not dict]


def pending(**extra: Any) -> dict[str, Any]:
    return {"id": "op-1", "status": "pending", **extra}


def _failed_save(
    client: AbstractContextManager[ServiceClient], error: type[E]
) -> pytest.ExceptionInfo[E]:
    """What ``save_state("c1")`` of a new model of ``client`` raised (``error``)."""
    with client as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(error) as raised:
            trainer.save_state("c1")
    return raised


def test_wait_false_returns_a_handle_that_polls_only_when_asked() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        handle = trainer.save_state("a", wait=False)
        assert handle.id == "op-1"
        assert handle.status is OperationStatus.PENDING
        assert handle.pending_info == PendingInfo(code="waiting_for_scheduling", message="queued")
        assert not handle.done()
        assert fake.sent("GET") == []
        assert handle.refresh() is OperationStatus.DONE
        assert "wait" not in fake.sent("GET")[0].url.params  # refresh does not long-poll
        assert handle.done()
        checkpoint = handle.result()
        assert isinstance(checkpoint, Checkpoint)
        assert handle.result() is checkpoint  # cached, no further request
        assert len(fake.sent("GET")) == 1


def test_pending_info_without_a_message_is_still_pending_info() -> None:
    # The step the server had started failed with ResponseValidationError: the spec
    # required a message, which the wire sheet lists but no client needs.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fake.script(
            "POST",
            "/api/v1/models/m-1/checkpoints",
            json_reply(202, pending(pending_info={"code": "trainer_starting"})),
        )
        handle = trainer.save_state("a", wait=False)
        assert handle.pending_info == PendingInfo(code="trainer_starting")
        assert handle.pending_info.message == ""
        waiting = {"code": "waiting_for_resources", "wait_seconds": 2}
        fake.script(
            "GET", "/api/v1/operations/op-1", json_reply(200, pending(pending_info=waiting))
        )
        assert handle.refresh() is OperationStatus.PENDING
        assert handle.pending_info == PendingInfo(code="waiting_for_resources", wait_seconds=2.0)


def test_pending_resources_may_hold_properties_of_the_servers_own() -> None:
    # PendingResources sets no additionalProperties: false, so a property of any type
    # is valid; a text one (a GPU's model) failed every poll with ResponseValidationError.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        waiting = {
            "code": "waiting_for_resources",
            "resources": {"nodes": 1, "gpu_type": "H100", "spot": True, "racks": 2.5},
        }
        fake.script(
            "POST",
            "/api/v1/models/m-1/checkpoints",
            json_reply(202, pending(pending_info=waiting)),
        )
        handle = trainer.save_state("a", wait=False)
    assert handle.pending_info == PendingInfo(
        code="waiting_for_resources", resources={"nodes": 1.0, "racks": 2.5}
    )


def test_pending_resource_counts_are_integers() -> None:
    # Every number was made a float, so a count printed as one: `resources={'nodes': 1.0,
    # 'gpus_per_node': 8.0}` in the handle's pending_info, and `"nodes": 1.0` in the
    # command line's JSON. Whole numbers stay whole; a fraction stays a fraction.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        sent = {"nodes": 1, "gpus_per_node": 8, "trainer_memory_gib_per_node": 62.5, "racks": 2}
        waiting = {"code": "waiting_for_resources", "resources": sent}
        fake.script(
            "POST",
            "/api/v1/models/m-1/checkpoints",
            json_reply(202, pending(pending_info=waiting)),
        )
        handle = trainer.save_state("a", wait=False)
    assert handle.pending_info is not None
    resources = handle.pending_info.resources
    assert resources is not None
    assert {k: (type(v), v) for k, v in resources.items()} == {
        k: (type(v), v) for k, v in sent.items()
    }
    assert "'nodes': 1," in repr(handle.pending_info)
    assert "'gpus_per_node': 8," in repr(handle.pending_info)


def test_a_spec_resource_that_is_not_a_number_is_still_refused() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        waiting = {"code": "waiting_for_resources", "resources": {"nodes": "one"}}
        fake.script(
            "POST",
            "/api/v1/models/m-1/checkpoints",
            json_reply(202, pending(pending_info=waiting)),
        )
        with pytest.raises(ResponseValidationError, match=r"resources\.nodes"):
            trainer.save_state("a", wait=False)


@pytest.mark.parametrize("status", [200, 201, 202])
def test_every_operation_post_may_answer_any_success_status(status: int) -> None:
    # weaver-wire.md: "The POST answers 2xx with {id, status, response?}"; 200, 201 and 202
    # are the statuses the spec documents for an Operation.
    fake = FakeWeaver()
    fake.accepted_status = status
    with service(fake) as svc:
        tc = svc.create_training_client("weaver-tiny")
        fb = tc.forward_backward([datum_from_tokens([1, 2, 3])], "cross_entropy")
        assert isinstance(fb, ForwardBackwardResult)
        assert isinstance(tc.optim_step(), OptimStepResult)
        saved = tc.save_state("s")
        assert isinstance(saved, Checkpoint)
        assert isinstance(tc.load_state_with_optimizer(saved), LoadResult)
    posts = [r.url.path.rsplit("/", 1)[1] for r in fake.requests if r.method == "POST"]
    operation_posts = ["forward-backward-passes", "optimizer-steps", "checkpoints", "load"]
    assert [p for p in posts if p in operation_posts] == operation_posts  # one attempt each


def test_progress_reports_each_change_once() -> None:
    fake = FakeWeaver()
    seen: list[OperationProgress] = []
    with service(fake, on_progress=seen.append) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        waiting = {"code": "waiting_for_resources", "message": "no GPU", "wait_seconds": 3}
        fake.script(
            "GET",
            OP,
            json_reply(200, pending(pending_info=waiting)),
            json_reply(200, pending(pending_info=waiting)),
            json_reply(200, {"id": "op-1", "status": "running"}),
        )
        trainer.forward_backward([datum_from_tokens([1, 2])])
    assert [(p.status.value, p.pending_info and p.pending_info.code) for p in seen] == [
        ("pending", "waiting_for_scheduling"),
        ("pending", "waiting_for_resources"),
        ("running", None),
        ("done", None),
    ]
    assert seen[1].pending_info == PendingInfo(
        code="waiting_for_resources", message="no GPU", wait_seconds=3.0
    )
    assert {p.operation_id for p in seen} == {"op-1"}


@pytest.mark.parametrize("waits", [(3, 2, 1), (1, 2, 3)], ids=["time left", "time waited"])
def test_a_new_wait_seconds_alone_is_not_a_change(waits: tuple[int, ...]) -> None:
    # The emulator (and any server) may refresh `wait_seconds` on every read, counting
    # down or up; a plain-text watcher would print a line per poll. README: a change is a
    # new status or pending_info.
    fake = FakeWeaver()
    seen: list[OperationProgress] = []
    with service(fake, on_progress=seen.append) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        queued = {"code": "waiting_for_resources", "message": "queued behind 1"}
        fake.script(
            "GET",
            OP,
            *[json_reply(200, pending(pending_info={**queued, "wait_seconds": w})) for w in waits],
            json_reply(200, pending(pending_info={**queued, "message": "queued behind 0"})),
            json_reply(200, {"id": "op-1", "status": "running"}),
        )
        trainer.forward_backward([datum_from_tokens([1, 2])])
    assert [(p.status.value, p.pending_info and p.pending_info.message) for p in seen] == [
        ("pending", "queued"),
        ("pending", "queued behind 1"),
        ("pending", "queued behind 0"),
        ("running", None),
        ("done", None),
    ]
    assert seen[1].pending_info is not None
    assert seen[1].pending_info.wait_seconds == waits[0]  # as first seen
    # What the README says of it, OperationProgress says too (it said "new pending info").
    rule = "a new ``wait_seconds`` alone is not a change"
    assert rule.replace("``", "`") in (ROOT / "README.md").read_text(encoding="utf-8")
    assert rule in " ".join((inspect.getdoc(OperationProgress) or "").split())


def test_a_watcher_ends_on_the_end_another_look_saw_first() -> None:
    # The handle's changes were reported once per handle: a watcher whose change another
    # look took (refresh(), result(), another watcher) never yielded it, and ended on
    # `pending` while the operation was done. Each watcher reports what it has not yet.
    fake = FakeWeaver()
    fake.pending_polls = 1
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        changes = handle.watch()
        assert next(changes).status is OperationStatus.PENDING
        assert handle.refresh() is OperationStatus.PENDING
        assert handle.refresh() is OperationStatus.DONE  # seen by this look, not the watcher's
        assert [p.status for p in changes] == [OperationStatus.DONE]


async def test_an_async_result_of_many_numbers_leaves_its_event_loop_free() -> None:
    # A forward-backward's result holds a number per token. Parsed on the event loop, that
    # of a large batch (64 sequences of 4096 tokens) held every other task for its whole
    # length, a second on a busy machine: a task ticking on the loop must see no gap near
    # the parse's own time, measured alone in the same conditions.
    rows = [{"logprobs": {"data": [-1.5] * 4096, "dtype": "float32"}}] * 64
    result = {"loss_fn_outputs": rows, "metrics": {"loss:sum": 1.5}}
    times = []
    for _ in range(2):
        started = time.monotonic()
        forward_backward_result("forward_backward", result, len(rows))
        times.append(time.monotonic() - started)
    alone = min(times)
    fake = FakeWeaver()
    done = {"id": "op-1", "status": "done", "response": result}
    fake.script("GET", OP, httpx.Response(200, headers=_JSON, content=json.dumps(done).encode()))
    async with loop_ticks() as ticks, async_service(fake) as svc:
        handle = await svc.operation("op-1", ForwardBackwardResult)
        parsed = await handle.result()
    assert len(parsed.logprobs) == 64
    assert parsed.logprobs[63] == (-1.5,) * 4096
    assert longest(ticks) < alone / 2, (longest(ticks), alone)


async def test_two_tasks_awaiting_one_async_handle_share_one_parse_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A large result is parsed in a thread per await: two tasks awaiting one handle must
    # still parse it once (the checks of every number) and get the same result. The first
    # parse is held until the second await has started its thread, so both are under way.
    second_began = threading.Event()
    began: list[str] = []

    async def counted(work: Callable[[], Any], name: str) -> Any:
        began.append(name)
        if len(began) == 2:
            second_began.set()
        return await in_own_thread(work, name)

    monkeypatch.setattr(weaver_facade._operations, "in_own_thread", counted)
    rows = [{"logprobs": {"data": [-1.5] * 4096, "dtype": "float32"}}] * 64
    result = {"loss_fn_outputs": rows, "metrics": {"loss:sum": 1.5}}
    fake = FakeWeaver()
    done = {"id": "op-1", "status": "done", "response": result}
    fake.script("GET", OP, httpx.Response(200, headers=_JSON, content=json.dumps(done).encode()))
    async with async_service(fake) as svc:
        handle = await svc.operation("op-1", ForwardBackwardResult)
        parse, parsed = handle._parse_result, []

        def held(snapshot: Any) -> Any:
            parsed.append(snapshot)
            assert second_began.wait(10)
            return parse(snapshot)

        handle._parse_result = held
        first, second = await asyncio.gather(handle.result(), handle.result())
    assert len(began) == 2
    assert len(parsed) == 1
    assert first is second


@pytest.mark.parametrize(("sequences", "off_loop"), [(1, False), (64, True)])
async def test_an_async_result_is_parsed_in_a_thread_only_when_large(
    sequences: int, off_loop: bool
) -> None:
    # A thread costs more than the parse of a small result (an optimizer step's, a short
    # sequence's): only a large one leaves the loop. Threads named as the parse's are
    # counted as they start.
    tokens = 4096 if off_loop else 8
    rows = [{"logprobs": {"data": [-1.5] * tokens, "dtype": "float32"}}] * sequences
    result = {"loss_fn_outputs": rows, "metrics": {"loss:sum": 1.5}}
    fake = FakeWeaver()
    done = {"id": "op-1", "status": "done", "response": result}
    fake.script("GET", OP, httpx.Response(200, headers=_JSON, content=json.dumps(done).encode()))
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threading.Thread, "start", counted)
        async with async_service(fake) as svc:
            handle = await svc.operation("op-1", ForwardBackwardResult)
            parsed = await handle.result()
    assert len(parsed.logprobs) == sequences
    assert started.count("weaver-result") == (1 if off_loop else 0)


async def test_async_watchers_beside_a_result_each_see_the_end() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 3

    async def take_turns(_seconds: float) -> None:
        await asyncio.sleep(0)

    async with async_service(fake, sleep=take_turns) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        handle = await trainer.save_state("a", wait=False)

        async def watch() -> list[OperationStatus]:
            return [p.status async for p in handle.watch()]

        # One poll sees the end: the waiters that did not make it must report it too.
        first, second, checkpoint = await asyncio.gather(watch(), watch(), handle.result())
    for statuses in (first, second):
        assert statuses[0] is OperationStatus.PENDING
        assert statuses[-1] is OperationStatus.DONE
    assert checkpoint.name == "a"


def test_on_progress_can_be_set_on_a_handle() -> None:
    fake = FakeWeaver()
    seen: list[OperationStatus] = []
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        handle.on_progress = lambda p: seen.append(p.status)
        result = handle.result()
    assert seen == [OperationStatus.DONE]
    assert isinstance(result, OptimStepResult)


def test_an_on_progress_that_raises_ends_the_wait_naming_the_operation() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 2

    def broken_display(_: OperationProgress) -> None:
        raise RuntimeError("display broke")

    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        handle.on_progress = broken_display
        with pytest.raises(RuntimeError, match="display broke") as raised:
            handle.result()
        assert raised.value.__notes__ == [
            f"raised by on_progress while waiting for operation {handle.id}, which keeps "
            f"running on the server: re-attach with service.operation('{handle.id}', "
            "OptimStepResult)"
        ]
        assert isinstance(svc.operation(handle.id).result(), OptimStepResult)


def test_an_on_progress_that_raises_at_a_posts_reply_says_nothing_was_waited_for() -> None:
    # wait=False: on_progress is told of the POST's reply before the call returns, and
    # no wait has begun, so the note does not say "while waiting".
    def broken_display(_: OperationProgress) -> None:
        raise RuntimeError("display broke")

    fake = FakeWeaver()
    fake.pending_polls = 2
    with service(fake, on_progress=broken_display) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(RuntimeError, match="display broke") as raised:
            trainer.optim_step(wait=False)
        [op_id] = fake.operations
        assert raised.value.__notes__ == [
            f"raised by on_progress at the first status of operation {op_id}, which keeps "
            f"running on the server: re-attach with service.operation('{op_id}', "
            "OptimStepResult)"
        ]


async def _shown(_progress: OperationProgress) -> None:
    raise AssertionError("an async on_progress is never awaited")


@pytest.mark.parametrize("how", ["handle attribute", "lambda"])
async def test_an_on_progress_that_returns_a_coroutine_is_refused_not_left_unawaited(
    how: str,
) -> None:
    # handle.on_progress = an async function (the attribute is not checked as the
    # constructor's option is), or a lambda around one: each change made a coroutine that
    # nothing awaited, a RuntimeWarning each time, and the display never ran.
    fake = FakeWeaver()
    fake.pending_polls = 2
    around = (lambda p: _shown(p)) if how == "lambda" else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with async_service(fake, on_progress=around) as svc:
            trainer = await svc.create_training_client("weaver-tiny")

            async def step() -> object:
                if how == "lambda":
                    return await trainer.optim_step()
                handle = await trainer.optim_step(wait=False)
                handle.on_progress = _shown  # type: ignore[assignment]
                return await handle.result()

            with pytest.raises(InvalidArgumentError, match=r"^on_progress must be a plain") as got:
                await step()
            notes = " ".join(got.value.__notes__)
        del got
        gc.collect()
    # The client's on_progress is told the POST's reply first; the handle's, a poll's.
    when = "at the first status of" if how == "lambda" else "while waiting for"
    assert f"raised by on_progress {when} operation op-" in notes, notes
    unawaited = [w for w in caught if "never awaited" in str(w.message)]
    assert not unawaited, unawaited


class _Request(Coroutine[Any, Any, None]):
    """What aiohttp's ``session.post(...)`` returns: an awaitable that is neither a
    coroutine object nor a future (a ``Coroutine`` by its type), whose request runs only
    once it is awaited."""

    def __init__(self, progress: OperationProgress) -> None:
        self._coroutine = _shown(progress)

    def __await__(self) -> Generator[Any, None, None]:
        return self._coroutine.__await__()

    def send(self, value: Any) -> Any:
        return self._coroutine.send(value)

    def throw(self, *args: Any) -> Any:
        return self._coroutine.throw(*args)

    def close(self) -> None:
        self._coroutine.close()


async def test_an_on_progress_that_returns_an_awaitable_is_refused_too() -> None:
    # on_progress=lambda p: session.post(url, json=...): the request was made, dropped and
    # never sent, its coroutine "never awaited", as with a coroutine returned.
    fake = FakeWeaver()
    fake.pending_polls = 2

    def post(progress: OperationProgress) -> _Request:
        return _Request(progress)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with async_service(fake, on_progress=post) as svc:
            trainer = await svc.create_training_client("weaver-tiny")
            with pytest.raises(InvalidArgumentError, match=r"^on_progress must be a plain"):
                await trainer.optim_step()
        gc.collect()
    unawaited = [w for w in caught if "never awaited" in str(w.message)]
    assert not unawaited, unawaited


async def test_an_on_progress_that_schedules_a_task_is_called_as_any_other() -> None:
    # A task is work the callback scheduled itself, to be awaited by the loop, not by us.
    fake = FakeWeaver()
    fake.pending_polls = 2
    shown: list[OperationProgress] = []

    async def show(progress: OperationProgress) -> None:
        shown.append(progress)

    tasks: list[asyncio.Task[None]] = []

    def schedule(progress: OperationProgress) -> asyncio.Task[None]:
        tasks.append(asyncio.get_running_loop().create_task(show(progress)))
        return tasks[-1]

    async with async_service(fake, on_progress=schedule) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        await trainer.optim_step()
        await asyncio.gather(*tasks)
    assert tasks
    assert len(shown) == len(tasks)


def test_ctrl_c_during_a_wait_names_the_operation_that_keeps_running() -> None:
    # Interrupted in a long save, a script's user sees which operation goes on and how
    # to pick it up again, as a timeout's error says.
    fake = FakeWeaver()
    fake.pending_polls = 10**9

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    poll = PollPolicy(PollSettings(timeout=120), clock=FakeClock(), rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=interrupted) as svc:
        with pytest.raises(KeyboardInterrupt) as raised:
            svc.create_training_client("weaver-tiny").save_state("a")
        assert raised.value.__notes__ == [
            "interrupted while waiting for operation op-1, which keeps running on the "
            "server: re-attach with service.operation('op-1', Checkpoint)"
        ]
        fake.pending_polls = 0
        assert isinstance(svc.operation("op-1").result(), Checkpoint)


def test_ctrl_c_out_of_a_with_block_says_the_close_terminated_the_model() -> None:
    # The README's `with ServiceClient() as service:` closes the client on the way out,
    # which terminates the model: the operation the note said "keeps running" ended in
    # `model_terminated`, and re-attaching as told found it failed.
    fake = FakeWeaver()
    fake.pending_polls = 10**9

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    poll = PollPolicy(PollSettings(timeout=120), clock=FakeClock(), rng=lambda: 0.5)

    def train() -> None:
        with service(fake, poll=poll, sleep=interrupted) as svc:
            svc.create_training_client("weaver-tiny").save_state("a")

    with pytest.raises(KeyboardInterrupt) as raised:
        train()
    assert raised.value.__notes__[1:] == [
        "then the client's close, leaving its `with` block, terminated model m-1, whose "
        "operations still running end (`create_training_client(..., keep=True)` keeps a "
        "model past the close)"
    ]


def test_a_with_block_note_names_no_model_whose_terminate_failed() -> None:
    # The close logs a refused terminate and goes on: the model may run on, so the note
    # said it was terminated, and its operations ended, wrongly.
    fake = FakeWeaver()
    refused = error_json("internal", "store down")
    fake.script("POST", "/api/v1/models/m-1/terminate", json_reply(500, refused))

    def train() -> None:
        with service(fake) as svc:
            svc.create_training_client("weaver-tiny")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError) as raised:
        train()
    assert fake.terminated == []
    assert not getattr(raised.value, "__notes__", [])


def test_a_with_block_note_names_no_model_its_caller_never_got() -> None:
    # A resume whose load failed: its new model is terminated on close even when kept
    # (a WARNING record says so), so the note's `keep=True` advice was wrong for it.
    fake = FakeWeaver()
    fake.checkpoints["m-w"].append(checkpoint_json("m-w", "c1"))
    fake.fail_load("m-1", "shape_mismatch", "rank 8 does not fit rank 32")

    def resume() -> None:
        with service(fake) as svc:
            svc.create_training_client_from_state("weaver://m-w/checkpoints/c1", keep=True)

    with pytest.raises(OperationFailedError) as raised:
        resume()
    assert fake.terminated == ["m-1"]
    assert not getattr(raised.value, "__notes__", [])


def test_an_error_out_of_a_with_block_without_a_model_terminated_has_no_such_note() -> None:
    fake = FakeWeaver()

    def train() -> None:
        with service(fake) as svc:
            svc.create_training_client("weaver-tiny", keep=True)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError) as raised:
        train()
    assert not getattr(raised.value, "__notes__", [])


def interrupted(request: httpx.Request) -> httpx.Response:
    raise KeyboardInterrupt


def test_ctrl_c_while_a_save_is_sent_says_the_checkpoint_may_be_made() -> None:
    # The POST may have reached the server, which then makes the checkpoint: saving the
    # name again is a CheckpointExistsError, so the note says where to look first.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", interrupted)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(KeyboardInterrupt) as raised:
            trainer.save_state("c1")
    assert raised.value.__notes__ == [
        "interrupted while the request to save checkpoint 'c1' was on its way: the server "
        "may have made it (saving 'c1' again then raises CheckpointExistsError); look with "
        "trainer.get_checkpoint('weaver://m-1/checkpoints/c1') or list_checkpoints()"
    ]


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def lost(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def ctrl_c(_seconds: float) -> None:
    raise KeyboardInterrupt


def answered(status: int) -> Any:
    return json_reply(status, error_json("busy", "try again", retryable=True))


@pytest.mark.parametrize(
    ("failure", "noted"),
    [
        (refused, False),
        (lost, True),
        (answered(503), False),
        (answered(429), False),
        (answered(408), False),
        (answered(500), True),
    ],
    ids=["refused", "lost", "503", "429", "408", "500"],
)
def test_ctrl_c_while_a_save_waits_to_retry_is_noted_if_an_attempt_may_have_acted(
    failure: Any, noted: bool
) -> None:
    # Refused attempts never reached the server, which cannot have made the checkpoint:
    # no note sends the user looking for it. A lost reply may have, and so may a 500;
    # a 503, 429 or 408 says the server did not act: it had the note all the same.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", failure)
    raised = _failed_save(service(fake, sleep=ctrl_c), KeyboardInterrupt)
    assert bool(getattr(raised.value, "__notes__", None)) is noted


SAVE = "/api/v1/models/m-1/checkpoints"


class Connecting(httpcore.NetworkBackend):
    """A connect that a Ctrl-C ends before it is done (a server whose packets are dropped
    would hold it to its timeout)."""

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise KeyboardInterrupt


class AsyncConnecting(httpcore.AsyncNetworkBackend):
    """A connect that never ends: ``reached`` once it has begun."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()

    async def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.reached.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class SaveConnecting(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """``fake``, but the save goes through httpx's own transport, still connecting."""

    def __init__(self, fake: FakeWeaver) -> None:
        self.fake = fake
        self.backend = AsyncConnecting()
        self.sync = httpx.HTTPTransport()
        self.sync._pool = httpcore.ConnectionPool(network_backend=Connecting())
        self.async_ = httpx.AsyncHTTPTransport()
        self.async_._pool = httpcore.AsyncConnectionPool(network_backend=self.backend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == SAVE:
            return self.sync.handle_request(request)
        return self.fake(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == SAVE:
            return await self.async_.handle_async_request(request)
        await request.aread()
        return self.fake(request)


def test_ctrl_c_while_a_save_connects_says_nothing_of_a_checkpoint() -> None:
    # A request still connecting has sent nothing: the note that the server may have made
    # the checkpoint sent the user looking for one that cannot exist.
    transport = SaveConnecting(FakeWeaver())
    http = httpx.Client(transport=transport)
    raised = _failed_save(
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0), KeyboardInterrupt
    )
    assert getattr(raised.value, "__notes__", None) is None


async def test_a_save_cancelled_while_it_connects_says_nothing_of_a_checkpoint() -> None:
    transport = SaveConnecting(FakeWeaver())
    http = httpx.AsyncClient(transport=transport)
    async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        saving = asyncio.create_task(trainer.save_state("c1"))
        await transport.backend.reached.wait()
        saving.cancel()
        with pytest.raises(asyncio.CancelledError) as raised:
            await saving
    assert getattr(raised.value, "__notes__", None) is None


class ProxyHolding(httpcore.NetworkBackend):
    """A proxy that takes the CONNECT of an ``https`` request and holds its answer (the
    origin's packets are dropped) until a Ctrl-C."""

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return Holding()


class Holding(httpcore.NetworkStream):
    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        pass

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        raise KeyboardInterrupt

    def close(self) -> None:
        pass


class SaveThroughProxy(SaveConnecting):
    """``SaveConnecting``, but the save is an ``https`` request sent through a proxy."""

    def __init__(self, fake: FakeWeaver) -> None:
        super().__init__(fake)
        self.sync._pool = httpcore.HTTPProxy(
            "http://proxy.test:3128", network_backend=ProxyHolding()
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == SAVE:
            request.url = request.url.copy_with(scheme="https")
        return super().handle_request(request)


def test_ctrl_c_while_a_proxy_makes_the_tunnel_says_nothing_of_a_checkpoint() -> None:
    # Through a proxy (HTTPS_PROXY) an https request's first headers to go out are the
    # proxy's CONNECT: nothing reaches the server until the tunnel is made.
    http = httpx.Client(transport=SaveThroughProxy(FakeWeaver()))
    raised = _failed_save(
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0), KeyboardInterrupt
    )
    assert getattr(raised.value, "__notes__", None) is None


class ProxyTimingOut(httpcore.NetworkBackend):
    """A proxy that takes the CONNECT of an ``https`` request and gives no answer within
    the read timeout."""

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return TimingOut()


class TimingOut(Holding):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        raise httpcore.ReadTimeout("timed out")


def test_a_save_whose_proxy_never_made_the_tunnel_says_nothing_of_a_checkpoint() -> None:
    # The CONNECT's read timed out: nothing reached the server, as when a Ctrl-C cuts the
    # CONNECT; the error had the note that the server may have made the checkpoint.
    transport = SaveThroughProxy(FakeWeaver())
    transport.sync._pool = httpcore.HTTPProxy(
        "http://proxy.test:3128", network_backend=ProxyTimingOut()
    )
    http = httpx.Client(transport=transport)
    raised = _failed_save(
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0, max_retries=1),
        APIConnectionError,
    )
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)
    assert not any("may have made it" in note for note in raised.value.__notes__)


class DroppedThenConnecting(httpcore.NetworkBackend):
    """The first connection takes the request and closes without a reply; the connect of
    the next one is cut by a Ctrl-C."""

    def __init__(self) -> None:
        self.connects = 0

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        self.connects += 1
        if self.connects > 1:
            raise KeyboardInterrupt
        return Dropping()


class Dropping(Holding):
    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return b""


class SaveResent(SaveConnecting):
    """``SaveConnecting``, but the save goes through a transport of the user's that sends a
    request again, on a new connection, when its reply is lost."""

    def __init__(self, fake: FakeWeaver) -> None:
        super().__init__(fake)
        self.sync._pool = httpcore.ConnectionPool(network_backend=DroppedThenConnecting())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != SAVE:
            return super().handle_request(request)
        try:
            return super().handle_request(request)
        except httpx.RemoteProtocolError:
            return super().handle_request(request)


def test_ctrl_c_while_a_transport_sends_again_is_noted() -> None:
    # The server got the first send: a connect after it, within the same attempt of ours
    # (a transport of the user's that sends again), cuts nothing that send did.
    http = httpx.Client(transport=SaveResent(FakeWeaver()))
    raised = _failed_save(
        ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0), KeyboardInterrupt
    )
    assert raised.value.__notes__[0].startswith(
        "interrupted while the request to save checkpoint 'c1' was on its way"
    )


def sent_then_interrupted(request: httpx.Request) -> httpx.Response:
    # httpcore's hook, as the request's connection is made and its headers go out.
    for event in ("connect_tcp.started", "connect_tcp.complete"):
        request.extensions["trace"](f"connection.{event}", {})
    request.extensions["trace"]("http11.send_request_headers.started", {})
    raise KeyboardInterrupt


@pytest.mark.parametrize("lost_first", [False, True])
def test_ctrl_c_once_a_save_has_left_or_after_a_lost_reply_is_noted(lost_first: bool) -> None:
    # Once its headers go out, the server may act on it; and a connect after an attempt
    # whose reply was lost cuts nothing that attempt did.
    def connecting(request: httpx.Request) -> httpx.Response:
        request.extensions["trace"]("connection.connect_tcp.started", {})
        raise KeyboardInterrupt

    fake = FakeWeaver()
    fake.script("POST", SAVE, *([lost, connecting] if lost_first else [sent_then_interrupted]))
    raised = _failed_save(service(fake), KeyboardInterrupt)
    assert raised.value.__notes__[0].startswith(
        "interrupted while the request to save checkpoint 'c1' was on its way"
    )


def test_ctrl_c_while_a_save_connects_again_after_a_503_says_nothing_of_a_checkpoint() -> None:
    # The 503 says the server did not act, and the retry has sent nothing yet.
    def connecting(request: httpx.Request) -> httpx.Response:
        request.extensions["trace"]("connection.connect_tcp.started", {})
        raise KeyboardInterrupt

    fake = FakeWeaver()
    fake.script("POST", SAVE, answered(503), connecting)
    raised = _failed_save(service(fake), KeyboardInterrupt)
    assert getattr(raised.value, "__notes__", None) is None


@pytest.mark.parametrize(
    ("failures", "noted"),
    [
        ([refused] * 5, False),
        ([lost] * 5, True),
        ([lost] + [refused] * 4, True),
        ([answered(503)] + [refused] * 4, False),
        ([answered(500)] + [refused] * 4, True),
    ],
    ids=["refused", "lost", "lost-then-refused", "503-then-refused", "500-then-refused"],
)
def test_a_save_whose_every_attempt_failed_says_whether_it_may_be_made(
    failures: list[Any], noted: bool
) -> None:
    # A Ctrl-C on the way had this note; a save whose attempts all lost their replies (a
    # read timeout, a dropped connection: `with_options(timeout=...)` against a slow
    # server) ended in a bare APITimeoutError, and saving the name again was a
    # CheckpointExistsError that did not say it was the lost save's checkpoint. After a
    # 503 (the server did not act), refused retries had the note all the same.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", *failures)
    with service(fake, sleep=lambda _: None) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(APIConnectionError) as raised:
            trainer.save_state("c1")
    assert len(fake.sent("POST", "/api/v1/models/m-1/checkpoints")) == 5
    note = (
        "no reply came while the request to save checkpoint 'c1' was on its way: the "
        "server may have made it (saving 'c1' again then raises CheckpointExistsError); "
        "look with trainer.get_checkpoint('weaver://m-1/checkpoints/c1') or "
        "list_checkpoints()"
    )
    assert (note in getattr(raised.value, "__notes__", [])) is noted


def test_a_save_whose_proxy_refused_its_tunnel_says_nothing_of_a_checkpoint() -> None:
    # A proxy's refusal of the CONNECT (HTTPS_PROXY) comes before anything reaches the
    # server, as a Ctrl-C during it does: it had the note that the server may have made it.
    def tunnel_refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ProxyError("403 Forbidden", request=request)

    fake = FakeWeaver()
    fake.script("POST", SAVE, tunnel_refused)
    raised = _failed_save(service(fake), APIConnectionError)
    assert not any("may have made it" in note for note in raised.value.__notes__)


_CLOSED_NOTE = (
    "then the client's close, leaving its `with` block, terminated model m-1, whose "
    "operations still running end (`create_training_client(..., keep=True)` keeps a "
    "model past the close)"
)


def test_an_error_with_nothing_going_on_out_of_a_with_block_has_no_close_note() -> None:
    # The close terminates the model, but no operation or request was said to go on:
    # a spec drift, a storage error or a lookup's 404 had a note about operations ended.
    fake = FakeWeaver()
    fake.script("GET", "/api/v1/models/m-9", json_reply(404, error_json("not_found", "no")))

    def train() -> None:
        with service(fake) as svc:
            svc.create_training_client("weaver-tiny")
            svc.get_model("m-9")

    with pytest.raises(NotFoundError) as raised:
        train()
    assert fake.terminated == ["m-1"]
    assert _CLOSED_NOTE not in getattr(raised.value, "__notes__", [])


def test_an_error_that_says_an_operation_goes_on_gets_the_close_note() -> None:
    # Any error can carry such a note: one raised by on_progress, or a lost reply's.
    fake = FakeWeaver()
    fake.pending_polls = 2

    def broken_display(_: OperationProgress) -> None:
        raise RuntimeError("display broke")

    def train() -> None:
        with service(fake) as svc:
            handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
            handle.on_progress = broken_display
            handle.result()

    with pytest.raises(RuntimeError) as raised:
        train()
    assert raised.value.__notes__[-1] == _CLOSED_NOTE

    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", *[lost] * 5)

    def save() -> None:
        with service(fake) as svc:
            svc.create_training_client("weaver-tiny").save_state("c1")

    with pytest.raises(APIConnectionError) as lost_reply:
        save()
    assert lost_reply.value.__notes__[-1] == _CLOSED_NOTE


async def test_a_task_group_s_error_that_says_an_operation_goes_on_gets_the_close_note() -> None:
    # A failing TaskGroup (the README's way to run models side by side) raises an
    # ExceptionGroup around the error that says so: it left the block without the note.
    fake = FakeWeaver()
    fake.pending_polls = 2

    def broken_display(_: OperationProgress) -> None:
        raise RuntimeError("display broke")

    async def step(asvc: AsyncServiceClient) -> None:
        trainer = await asvc.create_training_client("weaver-tiny")
        handle = await trainer.optim_step(wait=False)
        handle.on_progress = broken_display
        await handle.result()

    async def train() -> None:
        async with async_service(fake) as asvc, asyncio.TaskGroup() as group:
            group.create_task(step(asvc))

    with pytest.raises(ExceptionGroup) as raised:
        await train()
    assert fake.terminated == ["m-1"]
    assert raised.value.__notes__[-1] == _CLOSED_NOTE


async def test_a_timeout_s_cancel_that_says_a_request_goes_on_gets_the_close_note() -> None:
    # asyncio.timeout (as asyncio.wait_for) raises a TimeoutError from the CancelledError
    # whose note says the save may go on: it left the block without the close's note.
    fake = FakeWeaver()
    held = HeldTransport(fake, "/api/v1/models/m-1/checkpoints")

    async def save() -> None:
        http = httpx.AsyncClient(transport=held)
        async with AsyncServiceClient(BASE, "k", http_client=http, heartbeat_interval=0) as svc:
            trainer = await svc.create_training_client("weaver-tiny")
            async with asyncio.timeout(0.05):
                await trainer.save_state("c1")

    with pytest.raises(TimeoutError) as raised:
        await save()
    assert fake.terminated == ["m-1"]
    assert raised.value.__notes__[-1] == _CLOSED_NOTE


def test_an_error_with_a_long_chain_of_causes_leaves_a_with_block_as_it_is() -> None:
    # The close looked through each cause by recursion: a chain longer than the
    # interpreter's recursion limit raised RecursionError from the block's exit in place
    # of the error (a group shared by many paths took as many walks).
    error = ValueError(0)
    for i in range(1, sys.getrecursionlimit() + 10):
        wrapped = ValueError(i)
        wrapped.__cause__ = error
        error = wrapped
    with pytest.raises(ValueError, match=r"\A\d+\Z") as raised, service(FakeWeaver()):
        raise error
    assert raised.value is error


def test_ctrl_c_in_a_resume_s_load_gives_no_keep_advice_for_its_model() -> None:
    # Its caller never got the model, which a close terminates whatever `keep` says: the
    # note advised `keep=True` for it.
    fake = FakeWeaver()
    fake.checkpoints["m-w"].append(checkpoint_json("m-w", "c1"))
    fake.pending_polls = 10**9
    poll = PollPolicy(PollSettings(timeout=120), clock=FakeClock(), rng=lambda: 0.5)

    def resume() -> None:
        with service(fake, poll=poll, sleep=ctrl_c) as svc:
            svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")

    with pytest.raises(KeyboardInterrupt) as raised:
        resume()
    assert fake.terminated == ["m-1"]
    assert raised.value.__notes__[-1] == (
        "then the client's close, leaving its `with` block, terminated model m-1, whose "
        "operations still running end (its caller never got it: `keep=True` would not "
        "have kept it)"
    )


@pytest.mark.parametrize("failure", [refused, answered(503)], ids=["refused", "503"])
async def test_a_save_cancelled_while_it_waits_to_retry_a_refused_request_has_no_note(
    failure: Any,
) -> None:
    async def cancelled(_seconds: float) -> None:
        raise asyncio.CancelledError

    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/checkpoints", failure)
    async with async_service(fake, sleep=cancelled) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        with pytest.raises(asyncio.CancelledError) as raised:
            await trainer.save_state("c1")
    assert getattr(raised.value, "__notes__", None) is None


def test_ctrl_c_while_a_step_is_sent_says_it_may_be_applied() -> None:
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/forward-backward-passes", interrupted)
    fake.script("POST", "/api/v1/models/m-1/optimizer-steps", interrupted)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(KeyboardInterrupt) as fb:
            trainer.forward_backward([datum_from_tokens([1, 2])])
        with pytest.raises(KeyboardInterrupt) as step:
            trainer.optim_step(AdamParams())
    assert fb.value.__notes__ == [
        "interrupted while the request of forward_backward (seq_id 1) was on its way: the "
        "server may have run it, and its gradients then add to those of model m-1's next "
        "optim_step"
    ]
    assert step.value.__notes__ == [
        "interrupted while the request of optim_step (seq_id 2) was on its way: the server "
        "may have applied it to model m-1's weights"
    ]


def test_ctrl_c_while_a_load_is_sent_says_it_may_be_loaded() -> None:
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/load", interrupted)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(KeyboardInterrupt) as raised:
            trainer.load_state("weaver://m-0/checkpoints/c1")
    assert raised.value.__notes__ == [
        "interrupted while the request to load weaver://m-0/checkpoints/c1 into model m-1 "
        "was on its way: the server may have loaded it, replacing the model's weights"
    ]


SAVED_AND_EXPORTED = (
    "the request to save and export model m-1's current weights was on its way: the "
    "server may have saved them as a checkpoint (of a name it chose) and started an export "
    "of it; exporting again saves and exports them anew, so look first with "
    "trainer.list_checkpoints(), then service.list_artifacts(checkpoint)"
)


def test_ctrl_c_while_a_save_and_export_is_sent_says_what_may_be_made() -> None:
    # export_weights() saves and exports in one request: cut on its way, a checkpoint and
    # its export may be on the server, unknown to the caller, as a save's may be.
    fake = FakeWeaver()
    fake.script("POST", "/api/v1/models/m-1/export-hf", interrupted)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(KeyboardInterrupt) as raised:
            trainer.export_weights()
    assert raised.value.__notes__ == [f"interrupted while {SAVED_AND_EXPORTED}"]
    # Its trainer.list_checkpoints() is no command: it was worded "trainer.`weaver-facade
    # checkpoints list MODEL_ID`" for the command line.
    for cli in getattr(raised.value, "cli_notes", {}).values():
        assert ".`weaver-facade" not in cli, cli


async def test_a_save_and_export_cancelled_on_its_way_says_what_may_be_made() -> None:
    fake = FakeWeaver()
    held = HeldTransport(fake, "/api/v1/models/m-1/export-hf")
    http = httpx.AsyncClient(transport=held)
    async with AsyncServiceClient(BASE, "k", http_client=http, heartbeat_interval=0) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        exporting = asyncio.create_task(trainer.export_weights())
        await held.reached.wait()
        exporting.cancel()
        with pytest.raises(asyncio.CancelledError) as raised:
            await exporting
    assert raised.value.__notes__ == [f"cancelled while {SAVED_AND_EXPORTED}"]


async def test_a_save_cancelled_on_its_way_says_the_checkpoint_may_be_made() -> None:
    fake = FakeWeaver()
    held = HeldTransport(fake, "/api/v1/models/m-1/checkpoints")
    http = httpx.AsyncClient(transport=held)
    async with AsyncServiceClient(BASE, "k", http_client=http, heartbeat_interval=0) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        saving = asyncio.create_task(trainer.save_state("c1"))
        await held.reached.wait()
        saving.cancel()
        with pytest.raises(asyncio.CancelledError) as raised:
            await saving
    assert raised.value.__notes__ == [
        "cancelled while the request to save checkpoint 'c1' was on its way: the server "
        "may have made it (saving 'c1' again then raises CheckpointExistsError); look with "
        "trainer.get_checkpoint('weaver://m-1/checkpoints/c1') or list_checkpoints()"
    ]


def test_a_wait_polls_again_after_a_5xx_the_server_calls_final() -> None:
    # A 500 `retryable: false` to a poll (a GET of a save still running) ended the wait
    # with InternalServerError, the save going on unseen; the official SDK polls again.
    fake = FakeWeaver()
    fake.pending_polls = 1
    final = {"error": "internal", "message": "store hiccup", "retryable": False}
    fake.script("GET", OP, json_reply(500, final), json_reply(500, final))
    with service(fake) as svc:
        checkpoint = svc.create_training_client("weaver-tiny").save_state("a")
    assert checkpoint.name == "a"
    assert len(fake.sent("GET", OP)) == 4  # two refused, one pending, one done


def test_an_operation_that_never_finishes_times_out_with_its_id() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    clock = FakeClock()
    poll = PollPolicy(PollSettings(timeout=120), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        with pytest.raises(OperationTimeoutError) as info:
            trainer.save_state("a")
        error = info.value
        assert error.operation_id == "op-1"
        assert error.status == "pending"
        assert error.waited == pytest.approx(120)
        assert "service.operation('op-1', Checkpoint)" in str(error)
        # The mock answers at once, so the handle backed off instead of busy-looping.
        polls = len(fake.sent("GET"))
        assert 5 < polls < 120
        # Re-attach later and finish.
        fake.pending_polls = 0
        handle = svc.operation(error.operation_id)
        assert isinstance(handle.result(), Checkpoint)


def test_a_long_wait_is_said_once_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # A resume whose load a server kept pending waited out the default hour without a
    # word: no record at any level, and the resume takes no timeout of its own.
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    fake.checkpoints["m-w"].append(checkpoint_json("m-w", "c1"))
    clock = FakeClock()
    poll = PollPolicy(clock=clock, rng=lambda: 0.5)
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake, poll=poll, sleep=clock.sleep) as svc,
        pytest.raises(OperationTimeoutError),
    ):
        svc.create_training_client_from_state("weaver://m-w/checkpoints/c1")
    said = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(said) == 1
    # Said at the first look after five minutes (a poll backs off by up to 10 s).
    assert re.fullmatch(
        r"waiting for operation op-1 \(load_checkpoint, pending\) for 3(0\d|10) s so far; "
        r"the wait ends after 3600 s, its timeout; a Ctrl-C ends it sooner, and the "
        r"operation keeps running on the server",
        said[0],
    )
    assert clock.now - 1000.0 == pytest.approx(3600)
    # A wait shorter than that says nothing.
    caplog.clear()
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        with pytest.raises(OperationTimeoutError):
            handle.result(timeout=299)
    assert not [r for r in caplog.records if "so far" in r.getMessage()]


def test_a_long_wait_for_a_recovered_save_names_the_save(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A save recovered without its operation is watched through its checkpoint, whose
    # path is the handle's id: "waiting for operation weaver://..." named none.
    path = "weaver://m-1/checkpoints/c1"
    pending_save = OperationSnapshot(
        id=path, status=OperationStatus.PENDING, kind="save_checkpoint"
    )
    clock = FakeClock()
    handle: OperationHandle[object] = OperationHandle(
        pending_save,
        fetch=lambda *_: pending_save,
        parse_result=lambda s: s,
        policy=PollPolicy(clock=clock, rng=lambda: 0.5),
        sleep=clock.sleep,
        result_in_response=False,
        long_poll=False,
    )
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(OperationTimeoutError) as raised,
    ):
        handle.result(timeout=400)
    assert str(raised.value).startswith(f"the save of {path} still pending after 400.0 s")
    said = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith(f"waiting for the save of {path} (save_checkpoint, pending) ")
    assert said[0].endswith(", and the save keeps running on the server"), said[0]


def test_a_recovered_save_s_poll_failure_and_ctrl_c_name_the_save(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Its id is the checkpoint's path, with no operation: "poll of operation weaver://..."
    # and "interrupted while waiting for operation weaver://..." named none.
    path = "weaver://m-1/checkpoints/c1"
    pending_save = OperationSnapshot(
        id=path, status=OperationStatus.PENDING, kind="save_checkpoint"
    )
    looks = iter([APIConnectionError("list_checkpoints: connection reset")])

    def fetch(*_: object) -> OperationSnapshot:
        for failure in looks:
            raise failure
        return pending_save

    def interrupted(_: float) -> None:
        if "poll of" in caplog.text:
            raise KeyboardInterrupt

    handle: OperationHandle[object] = OperationHandle(
        pending_save,
        fetch=fetch,
        parse_result=lambda s: s,
        policy=PollPolicy(clock=FakeClock(), rng=lambda: 0.5),
        sleep=interrupted,
        result_in_response=False,
        long_poll=False,
    )
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        pytest.raises(KeyboardInterrupt) as raised,
    ):
        handle.result(timeout=400)
    assert f"poll of the save of {path}: " in caplog.text
    assert raised.value.__notes__[0].startswith(
        f"interrupted while waiting for the save of {path}, which keeps running"
    ), raised.value.__notes__


@pytest.mark.parametrize("timeout", [300, 301])
def test_a_wait_at_its_deadline_says_no_long_wait(
    caplog: pytest.LogCaptureFixture, timeout: float
) -> None:
    # A wait of 300 s said "for 300 s so far; the wait ends after 300 s" at its last
    # look, next to the timeout's own error: nothing left to wait for, nothing to say.
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    clock = FakeClock()
    poll = PollPolicy(clock=clock, rng=lambda: 0.5)
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake, poll=poll, sleep=clock.sleep) as svc,
    ):
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        with pytest.raises(OperationTimeoutError):
            handle.result(timeout=timeout)
    assert not [r for r in caplog.records if "so far" in r.getMessage()]


def test_a_long_wait_without_a_timeout_says_it_has_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # timeout=inf, which result() and PollSettings take, was said as "ends after inf s".
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    clock = FakeClock()
    poll = PollPolicy(clock=clock, rng=lambda: 0.5)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 1000.0 + 400:
            raise KeyboardInterrupt  # the user's way out of a wait without a timeout

    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake, poll=poll, sleep=sleep) as svc,
    ):
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        with pytest.raises(KeyboardInterrupt):
            handle.result(timeout=float("inf"))
    said = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(said) == 1
    assert re.fullmatch(
        r"waiting for operation op-1 \(optim_step, pending\) for 3(0\d|10) s so far; "
        r"the wait has no timeout; a Ctrl-C ends it, and the operation keeps running "
        r"on the server",
        said[0],
    )


async def test_a_long_async_wait_is_said_once_in_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    clock = FakeClock()
    poll = PollPolicy(clock=clock, rng=lambda: 0.5)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        handle = await trainer.optim_step(wait=False)
        with (
            caplog.at_level(logging.WARNING, logger="weaver_facade"),
            pytest.raises(OperationTimeoutError),
        ):
            await handle.result(timeout=1000)
    said = [r.getMessage() for r in caplog.records if "so far" in r.getMessage()]
    assert len(said) == 1
    assert re.match(r"waiting for operation op-1 \(optim_step, pending\) for 3(0\d|10) s", said[0])
    assert "the wait ends after 1000 s" in said[0]


def test_result_timeout_argument_overrides_the_default() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    clock = FakeClock()
    poll = PollPolicy(PollSettings(timeout=3600), clock=clock)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=2.5)
    assert info.value.waited == pytest.approx(2.5)
    assert clock.now - 1000.0 == pytest.approx(2.5)


def test_long_poll_waits_shrink_to_the_deadline() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    clock = FakeClock()

    def held(request: Any) -> Any:
        clock.now += float(request.url.params["wait"])  # the server holds the long-poll
        return json_reply(200, pending())

    poll = PollPolicy(PollSettings(long_poll=20), clock=clock)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        fake.script("GET", OP, held, held, held)
        with pytest.raises(OperationTimeoutError):
            handle.result(timeout=50)
    waits = [float(r.url.params["wait"]) for r in fake.sent("GET")]
    assert waits[:3] == [20.0, 20.0, 10.0]
    assert clock.sleeps == []


def test_reattach_uses_the_operation_kind() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        fb = trainer.forward_backward([datum_from_tokens([1, 2, 3])], wait=False)
        opt = trainer.optim_step(wait=False)
        save = trainer.save_state("a", wait=False)
        load = trainer.load_state("weaver://m-1/checkpoints/a", wait=False)
        results = [svc.operation(h.id).result() for h in (fb, opt, save, load)]
    assert isinstance(results[0], ForwardBackwardResult)
    assert results[0].logprobs == ((-1.5, -1.5),)
    assert isinstance(results[1], OptimStepResult)
    assert isinstance(results[2], Checkpoint)
    assert isinstance(results[3], LoadResult)
    assert results[3].include_optimizer is False


def test_reattach_with_a_result_type() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        op_id = trainer.save_state("a", wait=False).id
        assert svc.operation(op_id, Checkpoint).result().name == "a"
        expected = f"operation {op_id} is of kind save_checkpoint; its result is not LoadResult"
        with pytest.raises(InvalidArgumentError, match=f"^{expected}$"):
            svc.operation(op_id, LoadResult)
        polls = len(fake.sent("GET"))
        with pytest.raises(InvalidArgumentError, match="result_type"):
            svc.operation(op_id, dict)
        assert len(fake.sent("GET")) == polls  # refused before any request


def test_reattach_to_an_export_gives_the_artifact() -> None:
    artifact = {
        "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "checkpoint_id": "0b6f3c4e-2d1a-4f7b-9e8c-5a4d3c2b1a09",
        "model_id": "m-1",
        "kind": "hf_adapter",
        "status": "completed",
        "uri": "weaver://m-1/checkpoints/c/artifacts/hf_adapter",
        "size_bytes": 3,
        "manifest": {"format_version": 1, "files": [{"name": "a.bin", "size": 3}]},
    }
    fake = FakeWeaver()
    export = {"id": "op-1", "status": "done", "kind": "export_checkpoint", "response": artifact}
    fake.script("GET", OP, *(json_reply(200, export) for _ in range(3)))
    with service(fake) as svc:
        assert svc.operation("op-1").result() == svc.operation("op-1", Artifact).result()
        with pytest.raises(
            InvalidArgumentError, match="kind export_checkpoint; its result is not Checkpoint"
        ):
            svc.operation("op-1", Checkpoint)


def _beyond_a_float(huge: object) -> dict[str, Any]:
    """A done forward-backward and a pending reply whose numbers are ``huge``'s."""
    result = {
        "loss_fn_outputs": [{"logprobs": {"data": [huge, -1.5], "dtype": "float32"}}],
        "metrics": {"loss:sum": 2.5, "grad_norm": huge},
    }
    return {"id": "op-1", "status": "done", "kind": "forward_backward", "response": result}


def test_a_number_beyond_a_floats_range_reads_as_one_written_with_an_exponent() -> None:
    # JSON has no bound on a number: an integer beyond a float's range (a metric, a
    # logprob, a pending operation's wait) raised Python's OverflowError, not a typed
    # error, after the step was done; `1e400`, the same number, reads as infinity.
    exponent = json.dumps(_beyond_a_float("HUGE")).replace('"HUGE"', "1e400")
    pending_op = json.dumps(pending(pending_info={"code": "queued", "wait_seconds": "HUGE"}))
    read: list[tuple[object, object]] = []
    for huge in (10**400, None):
        fake = FakeWeaver()
        if huge is None:
            done_reply = httpx.Response(200, content=exponent.encode(), headers=_JSON)
            waiting = pending_op.replace('"HUGE"', "1e400")
            pending_reply = httpx.Response(200, content=waiting.encode(), headers=_JSON)
        else:
            done_reply = json_reply(200, _beyond_a_float(huge))
            waiting_info = {"code": "queued", "wait_seconds": huge}
            pending_reply = json_reply(200, pending(pending_info=waiting_info))
        fake.script("GET", OP, pending_reply, done_reply)
        with service(fake) as svc:
            handle = svc.operation("op-1", ForwardBackwardResult)
            assert handle.pending_info is not None
            read.append((handle.pending_info.wait_seconds, handle.result()))
    assert read[0] == read[1]
    wait, result = read[0]
    assert wait == math.inf
    assert isinstance(result, ForwardBackwardResult)
    assert result.logprobs == ((math.inf, -1.5),)
    assert result.metrics["grad_norm"] == math.inf


def test_reattach_to_a_forward_pass_gives_its_forward_backward_result() -> None:
    # A forward pass (which the official SDK's forward() starts) has a forward-backward result.
    result = {
        "loss_fn_outputs": [{"logprobs": {"data": [-0.5, -2.0], "dtype": "float32"}}],
        "metrics": {"loss:sum": 2.5},
    }
    forward = {"id": "op-1", "status": "done", "kind": "forward", "response": result}
    fake = FakeWeaver()
    fake.script("GET", OP, *(json_reply(200, forward) for _ in range(3)))
    with service(fake) as svc:
        found = svc.operation("op-1").result()
        assert isinstance(found, ForwardBackwardResult)
        assert found.logprobs == ((-0.5, -2.0),)
        assert found.loss == 2.5
        assert svc.operation("op-1", ForwardBackwardResult).result() == found
        with pytest.raises(
            InvalidArgumentError, match="kind forward; its result is not OptimStepResult"
        ):
            svc.operation("op-1", OptimStepResult)


@pytest.mark.parametrize("result_type", [OptimStepResult, LoadResult, Artifact])
def test_a_typed_re_attach_of_an_operation_without_kind_names_its_type_again(
    result_type: type[Any],
) -> None:
    # The wire's Operation has no kind: a re-attach's timeout named service.operation(id)
    # alone, which gives the raw response, though the re-attach was given the type.
    running = {"id": "op-1", "status": "running"}
    fake, clock = FakeWeaver(), FakeClock()
    fake.script("GET", OP, *(json_reply(200, running) for _ in range(100)))
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with (
        service(fake, poll=poll, sleep=clock.sleep) as svc,
        pytest.raises(OperationTimeoutError) as info,
    ):
        svc.operation("op-1", result_type).result(timeout=1)
    hint = f"re-attach with service.operation('op-1', {result_type.__name__})"
    assert hint in str(info.value)


def test_every_result_schema_of_the_spec_has_a_parser() -> None:
    spec = openapi()
    by_kind = spec["components"]["schemas"]["OperationResult"]["x-weaver-result-schemas"]
    assert set(by_kind) == set(spec["components"]["schemas"]["OperationKind"]["enum"])
    assert set(by_kind.values()) == {t.__name__ for t in OPERATION_RESULT_TYPES}


def test_the_terminal_statuses_are_those_the_spec_marks() -> None:
    status = openapi()["components"]["schemas"]["OperationStatus"]
    terminal = {s.value for s in OperationStatus if s.is_terminal}
    assert terminal == set(status["x-weaver-terminal"])
    assert "done" in terminal


def test_an_end_other_than_done_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    # A terminal status the spec adds (say `cancelled`) must not be read as a success,
    # whose missing result would then be a ResponseValidationError.
    monkeypatch.setattr(limits, "OPERATION_STATUS_TERMINAL", ("done", "error", "running"))
    fake = FakeWeaver()
    with service(fake) as svc:
        ended = {"id": "op-1", "status": "running", "error_message": "stopped by the admin"}
        fake.script("GET", OP, json_reply(200, ended))
        with pytest.raises(OperationFailedError) as info:
            svc.operation("op-1").result()
    assert (info.value.code, info.value.message) == ("running", "stopped by the admin")


def test_reattach_without_kind_gives_the_raw_response() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        fake.script(
            "GET", OP, json_reply(200, {"id": "op-1", "status": "done", "response": {"x": 1}})
        )
        assert svc.operation("op-1").result() == {"x": 1}


def test_reattach_to_a_load_without_path_cannot_guess_it() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        fake.script(
            "GET",
            OP,
            json_reply(
                200, {"id": "op-1", "status": "done", "kind": "load_checkpoint", "response": {}}
            ),
        )
        with pytest.raises(ResponseValidationError, match="field `path` missing"):
            svc.operation("op-1").result()


def test_reattach_to_an_unknown_operation() -> None:
    fake = FakeWeaver()
    with service(fake) as svc, pytest.raises(NotFoundError):
        svc.operation("op-404")


def test_a_reply_for_another_operation_is_refused() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        fake.script("GET", OP, json_reply(200, {"id": "op-2", "status": "done"}))
        with pytest.raises(ResponseValidationError, match="field `id` is 'op-2'"):
            handle.result()


def test_malformed_pending_info_is_named() -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        fake.script("GET", OP, json_reply(200, pending(pending_info={"message": "x"})))
        with pytest.raises(ResponseValidationError, match="required field `code` missing"):
            handle.result()


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({"conversion_progress": {"shards_done": 1}}, "required field `bytes_done` missing"),
        ({"conversion_progress": [1, 2]}, "`metadata.conversion_progress`: expected a JSON object"),
        ("converting", "`metadata`: expected a JSON object"),
    ],
    ids=["field-missing", "progress-not-object", "metadata-not-object"],
)
def test_malformed_conversion_progress_is_named(metadata: object, named: str) -> None:
    # As malformed pending_info is: Operation promises every field, and the generated
    # parser keeps an object it cannot parse as it came, which was taken for no progress.
    fake = FakeWeaver()
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        reply = {"id": "op-1", "status": "running", "metadata": metadata}
        fake.script("GET", OP, json_reply(200, reply))
        with pytest.raises(ResponseValidationError, match=named):
            handle.result()


@pytest.mark.parametrize("field", ["response", "error_details"])
def test_an_operation_object_field_that_is_no_object_is_named(field: str) -> None:
    fake = FakeWeaver()
    with service(fake) as svc:
        handle = svc.create_training_client("weaver-tiny").optim_step(wait=False)
        fake.script("GET", OP, json_reply(200, {"id": "op-1", "status": "error", field: [1]}))
        with pytest.raises(ResponseValidationError, match=f"in `{field}`: expected a JSON object"):
            handle.result()


# -- async ----------------------------------------------------------------------------------------


async def test_async_handles_are_awaitable() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 2
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        handle = await trainer.save_state("a", wait=False)
        assert handle.status is OperationStatus.PENDING
        checkpoint = await handle
        assert checkpoint.name == "a"
        assert await handle.result() is checkpoint
        again = await svc.operation(handle.id, Checkpoint)
        assert (await again).path == checkpoint.path


async def test_async_timeout() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 10**9
    clock = FakeClock()
    poll = PollPolicy(PollSettings(timeout=30), clock=clock)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        with pytest.raises(OperationTimeoutError) as info:
            await trainer.optim_step()
    assert info.value.operation_id == "op-1"
    assert info.value.waited == pytest.approx(30)


async def test_an_async_wait_cancelled_names_the_operation_that_keeps_running() -> None:
    # asyncio.wait_for around a save ended in a bare TimeoutError: nothing named the save's
    # operation, which went on, as a sync wait's Ctrl-C note and a timeout's error do.
    fake = FakeWeaver()
    fake.pending_polls = 10**9

    async def forever(_: float) -> None:
        await asyncio.Event().wait()

    async with async_service(fake, sleep=forever) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        with pytest.raises(TimeoutError) as raised:
            await asyncio.wait_for(trainer.save_state("a"), timeout=0.2)
        cancelled = raised.value.__context__
        assert isinstance(cancelled, asyncio.CancelledError)
        assert cancelled.__notes__ == [
            "cancelled while waiting for operation op-1, which keeps running on the "
            "server: re-attach with service.operation('op-1', Checkpoint)"
        ]


async def test_a_cancel_out_of_an_async_with_block_says_the_close_terminated_the_model() -> None:
    fake = FakeWeaver()
    fake.pending_polls = 10**9

    async def forever(_: float) -> None:
        await asyncio.Event().wait()

    async def train() -> None:
        async with async_service(fake, sleep=forever) as svc:
            await (await svc.create_training_client("weaver-tiny")).save_state("a")

    with pytest.raises(TimeoutError) as raised:
        await asyncio.wait_for(train(), timeout=0.2)
    cancelled = raised.value.__context__
    assert isinstance(cancelled, asyncio.CancelledError)
    assert cancelled.__notes__[1:] == [
        "then the client's close, leaving its `with` block, terminated model m-1, whose "
        "operations still running end (`create_training_client(..., keep=True)` keeps a "
        "model past the close)"
    ]


async def test_async_refresh() -> None:
    fake = FakeWeaver()
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        handle = await trainer.forward_backward([datum_from_tokens([1, 2])], wait=False)
        assert await handle.refresh() is OperationStatus.DONE
        assert (await handle.result()).loss == 1.5
        # A finished handle's refresh needs no request (as the sync one's: an operation
        # never leaves done); with one, this op's next poll would be scripted to fail.
        fake.script("GET", OP, json_reply(500, {"error": "internal", "message": "x"}))
        polls = len(fake.sent("GET", OP))
        assert await handle.refresh() is OperationStatus.DONE
        assert len(fake.sent("GET", OP)) == polls == 1


SAVE = "/api/v1/models/m-1/checkpoints"


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_done_reply_without_its_result_is_looked_at_once_more(via: str) -> None:
    # The wire's POST reply is `{"id", "status", "response"?}`: a server may say `done`
    # there and give the result only with the operation.
    fake = FakeWeaver()
    done = {"id": "op-1", "status": "done"}
    checkpoint = checkpoint_json("m-1", "a")
    fake.script("POST", SAVE, json_reply(202, done))
    fake.script("GET", OP, json_reply(200, {**done, "response": checkpoint}))
    saved = _save(fake, via)
    assert isinstance(saved, Checkpoint)
    assert saved.name == "a"
    assert len(fake.sent("GET", OP)) == 1


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_done_operation_still_without_its_result_is_named_after_one_more_look(
    via: str,
) -> None:
    fake = FakeWeaver()
    done = {"id": "op-1", "status": "done"}
    fake.script("POST", SAVE, json_reply(202, done))
    fake.script("GET", OP, json_reply(200, done))
    with pytest.raises(ResponseValidationError, match="has no `response` \\(its Checkpoint\\)"):
        _save(fake, via)
    assert len(fake.sent("GET", OP)) == 1


@pytest.mark.parametrize("via", ["sync", "async"])
def test_an_error_reply_without_its_error_is_looked_at_once_more(via: str) -> None:
    # The same for `error`: a server written from the wire sheet answered a load that
    # failed at once with `{"id", "status": "error"}`, and kept the code and message for
    # the operation's GET; the facade raised "failed [unknown]: the server gave no message".
    fake = FakeWeaver()
    failed = {"id": "op-1", "status": "error"}
    fake.script("POST", SAVE, json_reply(202, failed))
    said = {"error_code": "disk_full", "error_message": "no space left", "retryable": False}
    fake.script("GET", OP, json_reply(200, {**failed, **said}))
    with pytest.raises(OperationFailedError) as info:
        _save(fake, via)
    assert info.value.code == "disk_full"
    assert "no space left" in str(info.value)
    assert len(fake.sent("GET", OP)) == 1


@pytest.mark.parametrize("via", ["sync", "async"])
@pytest.mark.parametrize(("status", "looks"), [(404, 1), (503, 3)])
def test_an_error_reply_whose_look_fails_is_still_the_failure(
    via: str, status: int, looks: int
) -> None:
    # The look is only for the error's words: a GET that fails (an operation the server
    # keeps no longer, a 503) raised NotFoundError, or retried until an
    # OperationTimeoutError said that the failed operation "keeps running". A 503 (the
    # server asks to try again) is looked at again, three times in all.
    fake = FakeWeaver()
    fake.script("POST", SAVE, json_reply(202, {"id": "op-1", "status": "error"}))
    for _ in range(50):
        fake.script("GET", OP, json_reply(status, {"error": "unavailable", "message": "x"}))
    with pytest.raises(OperationFailedError):
        _save(fake, via)
    assert len(fake.sent("GET", OP)) == looks


@pytest.mark.parametrize("via", ["sync", "async"])
def test_an_error_reply_whose_look_meets_a_503_gets_its_words_on_the_next(via: str) -> None:
    # Seen against a server written from the wire sheet, whose GETs sometimes answered 503:
    # the one look failed, and the load raised "failed [unknown]: the server gave no
    # message" for an operation whose GET said `optimizer_state_unavailable`.
    fake = FakeWeaver()
    failed = {"id": "op-1", "status": "error"}
    fake.script("POST", SAVE, json_reply(202, failed))
    busy = {"error": "unavailable", "message": "busy", "retryable": True}
    said = {"error_code": "disk_full", "error_message": "no space left", "retryable": False}
    fake.script("GET", OP, json_reply(503, busy), json_reply(200, {**failed, **said}))
    with pytest.raises(OperationFailedError) as info:
        _save(fake, via)
    assert info.value.code == "disk_full"
    assert len(fake.sent("GET", OP)) == 2


def _save(fake: FakeWeaver, via: str) -> object:
    if via == "sync":
        with service(fake) as svc:
            return svc.create_training_client("weaver-tiny").save_state("a")

    async def main() -> object:
        svc = async_service(fake)
        try:
            trainer = await svc.create_training_client("weaver-tiny")
            return await trainer.save_state("a")
        finally:
            await svc.aclose()

    return asyncio.run(main())


FB = "/api/v1/models/m-1/forward-backward-passes"


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_done_reply_without_its_result_is_looked_at_at_once(via: str) -> None:
    # Against a server known not to hold long-polls, a wait sleeps first to the expected
    # end of its kind of operation; one already done has none left to wait for.
    fake = FakeWeaver()
    fake.pending_polls = 4
    clock = FakeClock()
    poll = PollPolicy(PollSettings(timeout=300), clock=clock)
    done = {"id": "op-9", "status": "done", "kind": "forward_backward", "model_id": "m-1"}
    logprobs = {"data": [-1.5, -1.5], "dtype": "float32"}
    result = {"loss_fn_outputs": [{"logprobs": logprobs}], "metrics": {"loss:sum": 1.5}}
    key = ("m-1", "forward_backward")
    data = [datum_from_tokens([1, 2])]

    def then_done_at_once() -> None:
        assert poll.long_poll_supported is False
        assert poll.durations.expected(key)
        fake.script("POST", FB, json_reply(202, done))
        fake.script("GET", "/api/v1/operations/op-9", json_reply(200, {**done, "response": result}))

    if via == "sync":
        with service(fake, poll=poll, sleep=clock.sleep) as svc:
            trainer = svc.create_training_client("weaver-tiny")
            for _ in range(3):  # a loop whose steps take a while: a history
                fake._polls.clear()
                trainer.forward_backward(data)
            then_done_at_once()
            expected, slept = poll.durations.expected(key), len(clock.sleeps)
            assert trainer.forward_backward(data).loss == 1.5
    else:

        async def main() -> None:
            nonlocal expected, slept
            svc = async_service(fake, poll=poll, sleep=clock.asleep)
            try:
                trainer = await svc.create_training_client("weaver-tiny")
                for _ in range(3):
                    fake._polls.clear()
                    await trainer.forward_backward(data)
                then_done_at_once()
                expected, slept = poll.durations.expected(key), len(clock.sleeps)
                assert (await trainer.forward_backward(data)).loss == 1.5
            finally:
                await svc.aclose()

        expected, slept = None, 0
        asyncio.run(main())
    assert clock.sleeps[slept:] == []
    assert len(fake.sent("GET", "/api/v1/operations/op-9")) == 1
    # A look at an operation already over tells nothing of how long its kind takes.
    assert poll.durations.expected(key) == expected


@pytest.mark.parametrize("via", ["sync", "async"])
def test_a_reattached_done_operation_without_its_result_is_not_asked_again(via: str) -> None:
    # Its own GET, the re-attach's, is the look a POST's done reply is owed: another
    # would only say the same.
    fake = FakeWeaver()
    done = {"id": "op-1", "status": "done", "kind": "save_checkpoint"}
    fake.script("GET", OP, json_reply(200, done), json_reply(200, done))

    async def main() -> None:
        async with async_service(fake) as svc:
            await (await svc.operation("op-1", Checkpoint)).result()

    def reattach() -> None:
        if via == "async":
            asyncio.run(main())
            return
        with service(fake) as svc:
            svc.operation("op-1", Checkpoint).result()

    with pytest.raises(ResponseValidationError, match="has no `response`"):
        reattach()
    assert len(fake.sent("GET", OP)) == 1


@pytest.mark.parametrize("via", ["sync", "async"])
@pytest.mark.parametrize(
    ("message", "goes_on"),
    [
        ("read operation op-1: unexpected EOF", True),
        ("read op-1: Connection reset by peer", True),
        ("operation op-1 not found", False),
    ],
)
def test_a_legacy_servers_404_for_a_failed_read_is_polled_again(
    via: str, message: str, goes_on: bool
) -> None:
    # A legacy weaver-server answers a poll whose read of its store failed with a 404
    # `not_found` naming the I/O error; the official SDK (1.19.2, operations.py) polls
    # again on those words. The facade raised NotFoundError for an operation still
    # running, whose step a user would then send again. A 404 without them still ends
    # the wait at once.
    fake = FakeWeaver()
    fake.script("POST", SAVE, json_reply(202, pending(kind="save_checkpoint")))
    saved = checkpoint_json("m-1", "a")
    done = pending(kind="save_checkpoint", status="done", response=saved)
    lost = {"error": "not_found", "message": message, "retryable": False}
    fake.script("GET", OP, json_reply(404, lost), json_reply(200, done))
    clock = FakeClock()
    poll = PollPolicy(clock=clock)

    async def main() -> Checkpoint:
        async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
            return await (await svc.create_training_client("weaver-tiny")).save_state("a")

    def save() -> Checkpoint:
        if via == "async":
            return asyncio.run(main())
        with service(fake, poll=poll, sleep=clock.sleep) as svc:
            return svc.create_training_client("weaver-tiny").save_state("a")

    if goes_on:
        assert save().name == "a"
        assert len(fake.sent("GET", OP)) == 2
    else:
        with pytest.raises(NotFoundError):
            save()
        assert len(fake.sent("GET", OP)) == 1


@pytest.mark.parametrize("via", ["sync", "async"])
@pytest.mark.parametrize(
    ("message", "goes_on"),
    [("read operation op-1: unexpected EOF", True), ("operation op-1 not found", False)],
)
def test_a_reattach_whose_first_look_meets_a_legacy_failed_read_looks_again(
    via: str, message: str, goes_on: bool
) -> None:
    # The re-attach's own GET (`operations show`/`wait` too) is a poll as well: a legacy
    # weaver-server's 404 for a read of its store that failed ended it at once.
    fake = FakeWeaver()
    saved = checkpoint_json("m-1", "a")
    done = pending(kind="save_checkpoint", status="done", response=saved)
    lost = {"error": "not_found", "message": message, "retryable": False}
    fake.script("GET", OP, json_reply(404, lost), json_reply(200, done))
    clock = FakeClock()

    async def main() -> Checkpoint:
        async with async_service(fake, sleep=clock.asleep) as svc:
            return await (await svc.operation("op-1", Checkpoint)).result()

    def reattach() -> Checkpoint:
        if via == "async":
            return asyncio.run(main())
        with service(fake, sleep=clock.sleep) as svc:
            return svc.operation("op-1", Checkpoint).result()

    if goes_on:
        assert reattach().name == "a"
        assert len(fake.sent("GET", OP)) == 2
    else:
        with pytest.raises(NotFoundError):
            reattach()
        assert len(fake.sent("GET", OP)) == 1
