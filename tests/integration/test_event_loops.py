"""An AsyncServiceClient closed on another event loop than the one its calls ran on.

Whether its models were terminated is read from the emulator's own model list, over
plain HTTP, not from the facade.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import threading
import warnings
from collections.abc import Awaitable, Coroutine, Generator
from contextlib import suppress
from typing import Any, TypeVar

import httpx
import pytest
from weaver_client import limits

from tests.support.integration import API_KEY, BASE_MODEL, FAST_RETRY
from weaver_facade import AsyncServiceClient, ClientClosedError, EventLoopError
from weaver_facade.emulator import RunningEmulator, run_emulator

T = TypeVar("T")


def statuses(emu: RunningEmulator) -> dict[object, object]:
    reply = httpx.get(
        f"{emu.base_url}/api/v1/models",
        params={"limit": limits.LIST_MODELS_LIMIT_MAXIMUM},
        headers={"X-WEAVER-API-KEY": API_KEY},
    )
    reply.raise_for_status()
    return {m["id"]: m["status"] for m in reply.json()["items"]}


def client(emu: RunningEmulator) -> AsyncServiceClient:
    # Its own connections, which only its close can close.
    return AsyncServiceClient(emu.base_url, emu.api_key, retry=FAST_RETRY)


async def create(service: AsyncServiceClient, *, keep: bool = False) -> str:
    return (await service.create_training_client(BASE_MODEL, keep=keep)).model_id


def test_aclose_on_another_loop_while_its_own_is_stopped_terminates_the_models(
    emu: RunningEmulator,
) -> None:
    # A fixture's loop between its uses, or `loop.run_until_complete()`: the client's loop
    # is stopped, not closed. The close once only marked the client closed, the models
    # left running, its connections to the collector ("unclosed transport").
    service = client(emu)
    own = asyncio.new_event_loop()
    try:
        made = [own.run_until_complete(create(service)) for _ in range(2)]
        kept = own.run_until_complete(create(service, keep=True))
        gc.collect()  # earlier tests' garbage (of this worker), which would warn below
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(service.aclose())
            gc.collect()
    finally:
        own.close()
    assert statuses(emu) == {made[0]: "terminated", made[1]: "terminated", kept: "active"}
    # A transport names no address; a socket does: only those to this emulator are ours.
    port = f"{httpx.URL(emu.base_url).port})"
    unclosed = [str(w.message) for w in caught if w.category is ResourceWarning]
    assert [m for m in unclosed if "raddr=" not in m or m.endswith(f"{port}>")] == []
    with pytest.raises(ClientClosedError):
        asyncio.run(service.supported_models())


def test_aclose_on_another_loop_is_not_held_by_that_loop_s_busy_executor(
    emu: RunningEmulator,
) -> None:
    # The close on the stopped loop ran in the caller's default executor, which the
    # program's own blocking jobs may all hold: it waited for them.
    service = client(emu)
    own = asyncio.new_event_loop()
    release = threading.Event()

    async def close_beside_a_blocking_job() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=1))
        job = loop.run_in_executor(None, release.wait, 30)
        try:
            await asyncio.wait_for(service.aclose(), timeout=10)
        finally:
            release.set()
            await job

    try:
        made = own.run_until_complete(create(service))
        asyncio.run(close_beside_a_blocking_job())
    finally:
        own.close()
    assert statuses(emu) == {made: "terminated"}


def test_aclose_once_its_loop_is_closed_terminates_the_models_through_new_connections(
    emu: RunningEmulator,
) -> None:
    # `asyncio.run(train(client))`, then `asyncio.run(client.aclose())`: that loop closed
    # with the connections, so nothing can be sent through them. The close once returned
    # as if done, the models left running and named only in the log.
    service = client(emu)
    made, kept = asyncio.run(both(create(service), create(service, keep=True)))
    asyncio.run(service.aclose())
    assert statuses(emu) == {made: "terminated", kept: "active"}
    asyncio.run(service.aclose())  # closing again is no error
    with pytest.raises(ClientClosedError):
        asyncio.run(service.supported_models())


def test_aclose_once_its_loop_is_closed_says_when_the_new_connections_fail_too() -> None:
    # The server is gone by the close: the error says the terminates were tried.
    with run_emulator(api_keys=(API_KEY,)) as emu:
        service = client(emu)
        made = asyncio.run(create(service))
    with pytest.raises(EventLoopError) as raised:
        asyncio.run(service.aclose())
    message = str(raised.value)
    assert f"the terminates through new ones failed, so model {made} is left running" in message


async def both(first: Awaitable[str], second: Awaitable[str]) -> tuple[str, str]:
    return await first, await second


def test_aclose_once_its_loop_is_closed_says_which_models_a_user_s_client_left_running(
    emu: RunningEmulator,
) -> None:
    # A client given `http_client=` has only the connections of that client, which
    # belongs to the closed loop: nothing can be sent.
    http = httpx.AsyncClient()
    service = AsyncServiceClient(emu.base_url, emu.api_key, retry=FAST_RETRY, http_client=http)
    made = asyncio.run(create(service))
    with pytest.raises(EventLoopError) as raised:
        asyncio.run(service.aclose())
    assert statuses(emu) == {made: "active"}
    message = str(raised.value)
    assert f"model {made} is left running" in message
    assert "terminate_model" in message
    asyncio.run(service.aclose())  # said once: closing again is no error
    with pytest.raises(ClientClosedError):
        asyncio.run(service.supported_models())

    # What the error advises: a client of this loop terminates it.
    async def terminate() -> None:
        async with client(emu) as other:
            await other.terminate_model(made)

    asyncio.run(terminate())
    assert statuses(emu) == {made: "terminated"}


def test_aclose_once_its_loop_is_closed_is_quiet_when_no_model_is_left(
    emu: RunningEmulator,
) -> None:
    service = client(emu)
    kept = asyncio.run(create(service, keep=True))
    asyncio.run(service.aclose())
    assert statuses(emu) == {kept: "active"}
    with pytest.raises(ClientClosedError):
        asyncio.run(service.supported_models())


def test_async_with_in_two_asyncio_runs(emu: RunningEmulator) -> None:
    # The first block's close terminates its model on its own loop; the second block is
    # refused at once, the client being closed.
    service = client(emu)

    async def block() -> str:
        async with service:
            return await create(service)

    made = asyncio.run(block())
    assert statuses(emu) == {made: "terminated"}
    with pytest.raises(ClientClosedError):
        asyncio.run(block())
    assert statuses(emu) == {made: "terminated"}


def drive(coroutine: Coroutine[Any, Any, None]) -> None:
    """Runs ``coroutine`` as an async library other than asyncio does (trio's runner):
    by sending into it, with no asyncio event loop running in this thread."""
    with suppress(StopIteration):
        while True:
            coroutine.send(None)


@pytest.mark.parametrize(
    "first_call", ["create_training_client", "supported_models", "download_weights"]
)
def test_an_async_client_outside_asyncio_says_it_runs_on_asyncio(first_call: str) -> None:
    # Under trio, the first call failed with asyncio's bare "no running event loop", and
    # the `async with` block's close with it again. It is said before the call's own
    # arguments are checked: a download's dest of '' was refused first, as if the call
    # could run there once given another.
    async def script() -> None:
        async with AsyncServiceClient("http://127.0.0.1:9", API_KEY) as service:
            if first_call == "create_training_client":
                await service.create_training_client(BASE_MODEL)
            elif first_call == "download_weights":
                await service.download_weights("weaver://m-1/checkpoints/c", "")
            else:
                await service.supported_models()

    with pytest.raises(EventLoopError, match=r"run on asyncio.*trio\.to_thread") as caught:
        drive(script())
    # Raised by the call, and not again by the close while it handled the call's.
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None:
        chain.append(error)
        error = error.__context__
    assert [type(e) for e in chain if isinstance(e, EventLoopError)] == [EventLoopError]


@pytest.mark.parametrize("then", ["stops", "closes"])
def test_aclose_handed_to_its_running_loop_is_taken_back_when_that_loop_ends_first(
    emu: RunningEmulator, then: str
) -> None:
    # The client's loop runs in another thread, whose last work ends as the close is
    # handed to it: the close, queued on a loop that never ran it, was waited for ever.
    service = client(emu)
    own = asyncio.new_event_loop()
    made = own.run_until_complete(create(service))
    busy, release = threading.Event(), threading.Event()

    async def last_work() -> None:
        busy.set()
        release.wait(30)  # holds the loop: the close handed to it waits in its queue

    def owner() -> None:
        own.run_until_complete(last_work())
        if then == "closes":
            own.close()

    thread = threading.Thread(target=owner)
    thread.start()
    busy.wait(30)

    async def close() -> None:
        closing = asyncio.ensure_future(service.aclose())
        await asyncio.sleep(0)  # its first step sees the loop running and hands it over
        release.set()
        thread.join(30)  # blocking this loop: the close looks only once that loop ended
        await asyncio.wait_for(closing, timeout=20)

    try:
        asyncio.run(close())
    finally:
        release.set()
        thread.join(30)
        own.close()
    assert statuses(emu) == {made: "terminated"}
    with pytest.raises(ClientClosedError):
        asyncio.run(service.supported_models())


class StaleLook(asyncio.SelectorEventLoop):
    """A loop whose next look at whether it runs gives ``stale``, which was true a moment
    before: stopped though it runs (it started just after), or running though it is closed."""

    stale: bool | None = None

    def is_running(self) -> bool:
        if self.stale is not None:
            said, self.stale = self.stale, None
            return said
        return super().is_running()


def test_aclose_on_a_stopped_loop_that_starts_at_that_moment_closes_there(
    emu: RunningEmulator,
) -> None:
    # The close saw the client's loop stopped, but its owner started it before the close
    # could run it: the caller got run_until_complete's bare RuntimeError ("This event
    # loop is already running") and a warning of a coroutine never awaited.
    service = client(emu)
    own = StaleLook()
    made = own.run_until_complete(create(service))
    running = threading.Event()
    end = own.create_future()

    async def work() -> None:
        running.set()
        await end

    thread = threading.Thread(target=own.run_until_complete, args=(work(),))
    thread.start()
    try:
        running.wait(30)
        own.stale = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(asyncio.wait_for(service.aclose(), timeout=20))
        assert [str(w.message) for w in caught if w.category is RuntimeWarning] == []
    finally:
        own.call_soon_threadsafe(end.set_result, None)
        thread.join(30)
        own.close()
    assert statuses(emu) == {made: "terminated"}


def test_aclose_handed_to_a_loop_that_closes_at_that_moment_closes_here(
    emu: RunningEmulator,
) -> None:
    # The close saw the client's loop running, but its owner closed it before the close
    # was handed over: the caller got asyncio's bare "RuntimeError: Event loop is closed".
    service = client(emu)
    own = StaleLook()
    made = own.run_until_complete(create(service))
    own.close()
    own.stale = True
    asyncio.run(asyncio.wait_for(service.aclose(), timeout=20))
    assert statuses(emu) == {made: "terminated"}


def test_aclose_handed_to_its_running_loop_ends_when_that_loop_stops_during_it(
    emu: RunningEmulator,
) -> None:
    # The loop's owner ends its work while the close waits there for a terminate's reply:
    # the close, suspended on a loop that never runs again, was waited for ever.
    own = asyncio.new_event_loop()
    gate: asyncio.Event = own.run_until_complete(make_event())
    terminating: asyncio.Event = own.run_until_complete(make_event())

    service, http, made = held_at_terminate(emu, own, gate, terminating)
    running = threading.Event()

    async def work() -> None:  # ends once the close is on its way there
        running.set()
        await terminating.wait()

    thread = threading.Thread(target=own.run_until_complete, args=(work(),))
    thread.start()
    running.wait(30)

    async def close() -> None:
        closing = asyncio.ensure_future(service.aclose())
        await asyncio.sleep(0)  # its first step sees that loop running and hands it over
        thread.join(30)  # blocking this loop: the close begins there, then that loop stops
        own.call_soon_threadsafe(gate.set)  # for when that loop runs again
        await asyncio.wait_for(closing, timeout=20)

    try:
        asyncio.run(close())
    finally:
        own.call_soon_threadsafe(terminating.set)
        thread.join(30)
        own.run_until_complete(http.aclose())
        own.close()
    assert statuses(emu) == {made: "terminated"}


def held_at_terminate(
    emu: RunningEmulator,
    own: asyncio.AbstractEventLoop,
    gate: asyncio.Event,
    terminating: asyncio.Event | threading.Event | None = None,
    **options: Any,
) -> tuple[AsyncServiceClient, httpx.AsyncClient, str]:
    """A client of a model made on ``own``, whose terminates (said to ``terminating``) wait
    for ``gate``, and its connections, which the test closes."""

    async def hold_terminates(request: httpx.Request) -> None:
        if request.url.path.endswith("/terminate"):
            if terminating is not None:
                terminating.set()
            await gate.wait()

    http = httpx.AsyncClient(event_hooks={"request": [hold_terminates]})
    service = AsyncServiceClient(
        emu.base_url, emu.api_key, retry=FAST_RETRY, http_client=http, **options
    )
    return service, http, own.run_until_complete(create(service))


def facade_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    # asyncio's own "Task was destroyed but it is pending!" for a heartbeat of a loop
    # that ended comes whenever the collector runs, not from the close.
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("weaver_facade") and r.levelno >= logging.WARNING
    ]


async def make_event() -> asyncio.Event:
    return asyncio.Event()  # of the running loop


async def other_tasks() -> None:
    """Waits for the running loop's other tasks to end (the close handed to it)."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    await asyncio.gather(*others, return_exceptions=True)


def test_aclose_handed_to_its_running_loop_and_cancelled_there_closes_again_quietly(
    emu: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # The loop's owner cancels its pending tasks as it ends (asyncio.run, a fixture's
    # teardown), the handed-over close among them, which then warned of the models
    # "left running (close again)": the close is made again here, and terminated them.
    own = asyncio.new_event_loop()
    gate: asyncio.Event = own.run_until_complete(make_event())
    terminating: asyncio.Event = own.run_until_complete(make_event())

    service, http, made = held_at_terminate(emu, own, gate, terminating)
    running = threading.Event()

    async def work() -> None:  # ends as asyncio.run does, cancelling what is left
        running.set()
        await terminating.wait()
        gate.set()  # for the close made again
        left = asyncio.all_tasks() - {asyncio.current_task()}
        for task in left:
            task.cancel()
        await asyncio.wait(left)

    thread = threading.Thread(target=own.run_until_complete, args=(work(),))
    thread.start()
    try:
        running.wait(30)
        with caplog.at_level(logging.WARNING, logger="weaver_facade"):
            asyncio.run(asyncio.wait_for(service.aclose(), timeout=20))
    finally:
        own.call_soon_threadsafe(terminating.set)
        thread.join(30)
        own.run_until_complete(http.aclose())
        own.close()
    assert statuses(emu) == {made: "terminated"}
    assert facade_warnings(caplog) == []


def test_aclose_handed_to_its_running_loop_and_cancelled_by_its_caller_says_what_is_left(
    emu: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # No close comes again: the models the cancelled close did not reach are named.
    own = asyncio.new_event_loop()
    gate: asyncio.Event = own.run_until_complete(make_event())
    terminating = threading.Event()

    service, http, made = held_at_terminate(emu, own, gate, terminating)
    running = threading.Event()

    async def work() -> None:  # ends once the close there has
        running.set()
        await asyncio.to_thread(terminating.wait, 30)
        await other_tasks()

    async def close() -> None:
        closing = asyncio.ensure_future(service.aclose())
        await asyncio.to_thread(terminating.wait, 30)
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing

    thread = threading.Thread(target=own.run_until_complete, args=(work(),))
    thread.start()
    try:
        running.wait(30)
        with caplog.at_level(logging.WARNING, logger="weaver_facade"):
            asyncio.run(close())
            thread.join(30)
        assert statuses(emu) == {made: "active"}
        assert facade_warnings(caplog) == [
            f"the close was cancelled (close again): models left running: {made} "
            "(end it with terminate_model())"
        ]
        gate.set()
        own.run_until_complete(service.aclose())  # as the warning advises
    finally:
        terminating.set()
        thread.join(30)
        own.run_until_complete(http.aclose())
        own.close()
    assert statuses(emu) == {made: "terminated"}


class LateLook(asyncio.SelectorEventLoop):
    """A loop whose look from ``watcher``'s thread, once ``armed``, is answered only once
    ``closed``: what ran on it ended meanwhile, and its owner closed it."""

    armed: asyncio.Event | None = None  # set as the look begins

    def __init__(self) -> None:
        self.watcher = threading.get_ident()
        self.closed = threading.Event()
        super().__init__()

    def is_running(self) -> bool:
        armed = self.armed
        if armed is None or threading.get_ident() != self.watcher:
            return super().is_running()
        self.armed = None
        self.call_soon_threadsafe(armed.set)
        self.closed.wait(30)
        return super().is_running()


def test_aclose_handed_to_a_loop_that_closes_as_it_ends_raises_what_it_raised_there(
    emu: RunningEmulator,
) -> None:
    # The close there failed, and its loop closed before this one saw the failure: the
    # close was taken for one never run there, made again here, and its error dropped.
    own = LateLook()
    gate: asyncio.Event = own.run_until_complete(make_event())

    async def fail_terminates(request: httpx.Request) -> None:
        if request.url.path.endswith("/terminate"):
            own.armed = gate  # the close has begun there: the next look lets it go on
            await gate.wait()
            raise RuntimeError("refused by the request hook")

    http = httpx.AsyncClient(event_hooks={"request": [fail_terminates]})
    service = AsyncServiceClient(emu.base_url, emu.api_key, retry=FAST_RETRY, http_client=http)
    made = own.run_until_complete(create(service))
    running = threading.Event()

    async def work() -> None:  # ends once the close there has
        running.set()
        await gate.wait()
        await other_tasks()

    def owner() -> None:
        own.run_until_complete(work())
        own.run_until_complete(http.aclose())
        own.close()
        own.closed.set()

    thread = threading.Thread(target=owner)
    thread.start()
    try:
        running.wait(30)
        with pytest.raises(RuntimeError) as raised:  # an EventLoopError is one too
            asyncio.run(asyncio.wait_for(service.aclose(), timeout=20))
        gc.collect()  # a dropped error's "never retrieved", here rather than in pytest's code
    finally:
        own.closed.set()
        thread.join(30)
        own.close()
    assert repr(raised.value) == "RuntimeError('refused by the request hook')"
    assert statuses(emu) == {made: "active"}
    # Closed for good now, naming it (so not said again when the client is collected).
    with pytest.raises(EventLoopError, match=made):
        asyncio.run(service.aclose())


class LateRun(asyncio.SelectorEventLoop):
    """A loop whose next run, once ``armed``, waits for ``go`` first (in ``runner``'s
    thread): its owner starts it meanwhile."""

    armed = False

    def __init__(self) -> None:
        self.reached, self.go = threading.Event(), threading.Event()
        self.runner: threading.Thread | None = None
        super().__init__()

    def run_until_complete(self, future: Generator[Any, None, T] | Awaitable[T]) -> T:
        if self.armed:
            self.armed = False
            self.runner = threading.current_thread()
            self.reached.set()
            self.go.wait(30)
        return super().run_until_complete(future)


def test_aclose_on_a_stopped_loop_cancelled_before_that_loop_starts_leaves_no_coroutine(
    emu: RunningEmulator,
) -> None:
    # The close, handed to a thread that runs the client's stopped loop, was cancelled,
    # and the loop's owner started it before that thread could: the close's coroutine,
    # never run, warned "coroutine ... was never awaited".
    service = client(emu)
    own = LateRun()
    made = own.run_until_complete(create(service))
    own.armed = True
    running = threading.Event()
    end = own.create_future()

    async def work() -> None:
        running.set()
        await end

    async def cancelled_close() -> None:
        closing = asyncio.ensure_future(service.aclose())
        await asyncio.to_thread(own.reached.wait, 30)  # the close's thread is on its way
        closing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await closing

    owner = threading.Thread(target=own.run_until_complete, args=(work(),))
    gc.collect()  # earlier tests' garbage (of this worker), which would warn below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            asyncio.run(cancelled_close())
            owner.start()
            running.wait(30)
        finally:
            own.go.set()
            if own.runner is not None:
                own.runner.join(30)
            gc.collect()
            own.call_soon_threadsafe(end.set_result, None)
            owner.join(30)
    assert [str(w.message) for w in caught if w.category is RuntimeWarning] == []
    assert statuses(emu) == {made: "active"}  # no close ran: a close now does
    own.run_until_complete(service.aclose())
    own.close()
    assert statuses(emu) == {made: "terminated"}


def test_aclose_handed_to_its_running_loop_and_cancelled_as_its_task_is_made_ends_there(
    emu: RunningEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    # aclose() is cancelled while the client's loop makes the task of the close handed to
    # it. Under an eager task factory (Python 3.12+) the close has begun inside
    # create_task, before its task is recorded: the cancel, which read the record in the
    # caller's thread, raised IndexError, and the close went on. Without one (3.11) it has
    # not begun: it is taken back, and never runs.
    caplog.set_level(logging.WARNING, logger="weaver_facade")
    own = asyncio.new_event_loop()
    gate: asyncio.Event = own.run_until_complete(make_event())

    service, http, made = held_at_terminate(emu, own, gate, heartbeat_interval=0)
    making, made_it = threading.Event(), threading.Event()
    eager = getattr(asyncio, "eager_task_factory", None)

    def hold_the_first(
        loop: asyncio.AbstractEventLoop,
        coro: Generator[Any, None, T] | Coroutine[Any, Any, T],
        /,
        **kwargs: Any,
    ) -> asyncio.Future[T]:
        task: asyncio.Future[T] = (
            asyncio.Task(coro, loop=loop, **kwargs)
            if eager is None
            else eager(loop, coro, **kwargs)
        )
        if not making.is_set():
            making.set()
            made_it.wait(30)
        return task

    running = threading.Event()
    end = own.create_future()

    async def work() -> None:
        asyncio.get_running_loop().set_task_factory(hold_the_first)
        running.set()
        await end
        await other_tasks()

    async def cancelled_close() -> str:
        closing = asyncio.ensure_future(service.aclose())
        try:
            await asyncio.to_thread(making.wait, 30)
            closing.cancel()
            await asyncio.wait({closing}, timeout=20)
        finally:
            made_it.set()
        return "cancelled" if closing.cancelled() else repr(closing.exception())

    owner = threading.Thread(target=own.run_until_complete, args=(work(),))
    owner.start()
    try:
        running.wait(30)
        assert asyncio.run(cancelled_close()) == "cancelled"
    finally:
        made_it.set()
        own.call_soon_threadsafe(end.set_result, None)
        owner.join(30)
    assert statuses(emu) == {made: "active"}  # nothing was sent
    began = [
        f"the close was cancelled (close again): models left running: {made} "
        "(end it with terminate_model())"
    ]
    said = facade_warnings(caplog)
    assert said == (began if eager else [])
    gate.set()
    own.run_until_complete(service.aclose())
    own.run_until_complete(http.aclose())
    own.close()
    assert statuses(emu) == {made: "terminated"}
