"""Ctrl-C, or the client's close, while a model's create is on its way, over real HTTP:
the emulator makes the model and holds its reply, and SIGINT reaches the main thread, as a
terminal's would."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from tests.support.held_creates import (
    Served,
    ctrl_c,
    default_sigint,
    interrupt_then_answer,
    serve_held_creates,
)
from tests.support.integration import API_KEY, BASE_MODEL, FAST_RETRY
from tests.support.signals import watched, with_sigint
from weaver_facade import (
    AsyncServiceClient,
    ClientClosedError,
    InternalServerError,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
)
from weaver_facade._sigterm import terminate_as_interrupt
from weaver_facade.emulator import run_emulator

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def served() -> Iterator[Served]:
    with default_sigint(), serve_held_creates(API_KEY) as served:
        yield served


@pytest.mark.parametrize(("from_state", "keep"), [(False, False), (False, True), (True, False)])
def test_a_ctrl_c_during_a_create_waits_for_the_model_and_the_close_terminates_it(
    served: Served, from_state: bool, keep: bool
) -> None:
    # The interrupt lost the reply: the model the server made stayed active after close().
    held = served.held
    service = ServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)
    if from_state:
        held.release.set()
        checkpoint = service.create_training_client(BASE_MODEL, keep=True).save_state("s")
        held.release.clear()
        held.made.clear()
        create = functools.partial(service.create_training_client_from_state, checkpoint, keep=keep)
    else:
        create = functools.partial(service.create_training_client, BASE_MODEL, keep=keep)
    before = set(served.statuses())
    thread = interrupt_then_answer(held)
    with pytest.raises(KeyboardInterrupt):
        create()
    answered = held.release.is_set()
    thread.join()
    assert answered  # raised once the reply had come, not before
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    made = set(served.statuses()) - before
    assert len(made) == 1
    service.close()
    after = served.statuses()
    assert [after[m] for m in made] == ["terminated"]


def test_a_ctrl_c_during_a_failing_create_sends_it_no_more(served: Served) -> None:
    # After the first Ctrl-C, the create was sent again and again (every retry allowed)
    # while the server kept answering 503: the reply came, but the interrupt did not end it.
    held = served.held
    held.failing = True
    service = ServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)
    try:
        thread = interrupt_then_answer(held)
        with pytest.raises(KeyboardInterrupt) as caught:
            service.create_training_client(BASE_MODEL)
        answered = held.release.is_set()
        thread.join()
        assert answered  # raised once the reply had come, not before
        assert held.attempts == 1
        assert isinstance(caught.value.__context__, InternalServerError)
        assert served.statuses() == {}  # no model made
    finally:
        service.close()


def interrupted_create(
    service: ServiceClient, after: threading.Event
) -> tuple[float, pytest.ExceptionInfo[KeyboardInterrupt]]:
    """A create, with a Ctrl-C 0.2 s after ``after`` is set: how long it took, and how
    it was interrupted."""

    def interrupt() -> None:
        assert after.wait(5)
        time.sleep(0.2)
        ctrl_c()

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt) as caught:
        service.create_training_client(BASE_MODEL)
    took = time.monotonic() - started
    thread.join()
    return took, caught


def test_a_ctrl_c_while_a_failed_create_waits_to_retry_stops_it_at_once(
    served: Served,
) -> None:
    held = served.held
    held.failing = True
    held.release.set()  # answered at once: the Ctrl-C comes during the 5 s backoff
    retry = RetryPolicy(RetrySettings(initial_backoff=10, max_backoff=10), rng=lambda: 0.5)
    service = ServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=retry)
    try:
        took, caught = interrupted_create(service, after=held.made)
        assert held.attempts == 1
        assert took < 2.5  # at once: no reply to wait for, nor the rest of the backoff
        assert caught.value.__context__ is None  # raised once
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        service.close()


def test_a_ctrl_c_while_the_create_connects_stops_it_at_once(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing of the create has left while its connection is made: the Ctrl-C was held
    # until the connect ended (up to its timeout, on a host that drops packets), and then
    # the create was sent and its model made anyway.
    connects = 0
    connecting, never = threading.Event(), threading.Event()
    connect_tcp = httpcore.SyncBackend.connect_tcp

    def slow_connect(backend: httpcore.SyncBackend, *args: Any, **kwargs: Any) -> Any:
        nonlocal connects
        connects += 1
        if connects > 1:  # the create's own, after the session's
            connecting.set()
            never.wait(5)
        return connect_tcp(backend, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", slow_connect)
    served.held.release.set()  # a create that reaches the server is answered at once
    no_keepalive = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))
    service = ServiceClient(served.base_url, API_KEY, http_client=no_keepalive)
    try:
        took, _ = interrupted_create(service, after=connecting)
        assert took < 2.5  # at once, not after the connect's 5 s
        assert served.held.attempts == 0
        assert served.statuses() == {}  # no model made
    finally:
        never.set()
        service.close()
        no_keepalive.close()


def test_a_second_ctrl_c_stops_the_create_at_once(served: Served) -> None:
    held = served.held
    service = ServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)
    interrupted = threading.Event()
    second = threading.Event()

    def interrupt_twice() -> None:
        assert held.made.wait(5)
        ctrl_c()
        if not interrupted.wait(0.2):  # the first was held
            second.set()
            ctrl_c()

    thread = threading.Thread(target=interrupt_twice, daemon=True)
    thread.start()
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            service.create_training_client(BASE_MODEL)
        interrupted.set()
        thread.join()
        assert second.is_set()  # the first Ctrl-C did not raise
        assert not held.release.is_set()  # the second did, with the reply still held
        assert caught.value.__context__ is None  # raised once
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        held.release.set()
        service.close()


# A program as the README shows one: an `async with` block under asyncio.run(), whose
# Ctrl-C asyncio takes: the first cancels the program's task, the second raises
# KeyboardInterrupt, and asyncio.run() cancels what still runs (the block's close).
ASYNC_PROGRAM = f"""
import asyncio, logging, sys
from weaver_facade import AsyncServiceClient
logging.basicConfig(format="%(message)s")

async def main():
    async with AsyncServiceClient(sys.argv[1], sys.argv[2], heartbeat_interval=0) as service:
        await service.create_training_client({BASE_MODEL!r})

asyncio.run(main())
"""


def test_a_second_ctrl_c_under_asyncio_run_leaves_the_created_model_running_named(
    served: Served,
) -> None:
    # The first Ctrl-C came while the create's reply was on its way: the block's close
    # waited for that reply, to terminate its model, with nothing said, so the user
    # pressed Ctrl-C again, which left the model running, again with nothing said.
    argv = with_sigint("SIG_DFL", [sys.executable, "-c", ASYNC_PROGRAM, served.base_url, API_KEY])
    env = {key: value for key, value in os.environ.items() if key != "WEAVER_LOG"}
    with watched(argv, env) as run:
        assert served.held.made.wait(30)
        run.process.send_signal(signal.SIGINT)
        waits = "cancelled: terminating the model of a create on its way first, within 60 s; "
        assert run.line_starting(waits, timeout=10), run.lines
        run.process.send_signal(signal.SIGINT)
        run.process.wait(timeout=10)
    assert run.process.returncode == -signal.SIGINT, run.stderr
    # Cancelled in its wait as the program ends, or interrupted where the signal found it
    # (as the WARNING was written, say): either way it says what it leaves, and not to
    # close again, which the program ending cannot.
    left = (
        "the close was interrupted: models left running: the model of a create on its way (a "
        "server with the model-listing extension shows the id this client never got in "
        "service.list_models(); end it with terminate_model())"
    )
    assert left in run.stderr, run.stderr
    assert "close again" not in run.stderr, run.stderr
    served.held.release.set()
    assert list(served.statuses().values()) == ["active"]  # as said: left running


# A script's `with` block, whose first Ctrl-C its close answers by terminating the model.
SYNC_PROGRAM = f"""
import logging, sys, threading
from weaver_facade import ServiceClient
logging.basicConfig(format="%(message)s")
with ServiceClient(sys.argv[1], sys.argv[2], heartbeat_interval=0) as service:
    print("made", service.create_training_client({BASE_MODEL!r}).model_id, file=sys.stderr)
    threading.Event().wait()
"""


def test_a_second_ctrl_c_during_the_close_names_the_model_it_leaves_once(served: Served) -> None:
    # The close cut short named the model it left running; at exit the library named it
    # again ("a ServiceClient whose close was interrupted leaves model ..."), after the
    # traceback.
    served.held.release.set()
    served.held.holding_terminates = True
    argv = with_sigint("SIG_DFL", [sys.executable, "-c", SYNC_PROGRAM, served.base_url, API_KEY])
    env = {key: value for key, value in os.environ.items() if key != "WEAVER_LOG"}
    with watched(argv, env) as run:
        assert run.line_starting("made ", timeout=30), run.lines
        run.process.send_signal(signal.SIGINT)
        assert served.held.terminating.wait(30), "the close sent no terminate"
        run.process.send_signal(signal.SIGINT)
        run.process.wait(timeout=30)
    lines = run.stderr.splitlines()
    assert run.process.returncode == -signal.SIGINT, run.stderr
    model_id = lines[0].removeprefix("made ")
    assert list(served.statuses().items()) == [(model_id, "active")]
    left = f"the close was interrupted: models left running: {model_id} (end it with "
    assert f"{left}terminate_model())" in lines, run.stderr
    assert lines[-1] == "KeyboardInterrupt", run.stderr  # the traceback's end: nothing after


def test_a_sigterm_to_the_contract_kit_during_a_create_is_held_as_a_ctrl_c(
    served: Served,
) -> None:
    # The kit's SIGTERM (a cancelled CI job) raised at once, losing the create's reply: the
    # model the server had made kept running after the kit's clean-up.
    held = served.held
    service = ServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)
    before = set(served.statuses())
    thread = interrupt_then_answer(held, signal.SIGTERM)
    with terminate_as_interrupt(), pytest.raises(KeyboardInterrupt):
        service.create_training_client(BASE_MODEL)
    answered = held.release.is_set()
    thread.join()
    assert answered  # raised once the reply had come, not before
    made = set(served.statuses()) - before
    assert len(made) == 1
    service.close()
    assert [served.statuses()[m] for m in made] == ["terminated"]


# A close that does not wait for the create on its way ends well within this.
CLOSE_AT_ONCE = 0.5


def _terminated_by_the_close(served: Served, error: BaseException | None) -> None:
    """The server says that the one model it made is terminated, and the create raised,
    saying that the close takes it: its caller never got the model, so it is terminated
    even when kept."""
    assert list(served.statuses().values()) == ["terminated"]
    assert isinstance(error, ClientClosedError), error
    assert "left to the close under way to terminate" in str(error)


def _creating(
    service: ServiceClient, **options: Any
) -> tuple[threading.Thread, list[BaseException | None]]:
    """A create of ``service``'s, started in a thread: the thread, and what it ended with
    (``None``, or its error), once it has."""
    ended: list[BaseException | None] = []

    def create() -> None:
        try:
            service.create_training_client(BASE_MODEL, **options)
            ended.append(None)
        except Exception as exc:
            ended.append(exc)

    creating = threading.Thread(target=create)
    creating.start()
    return creating, ended


@pytest.mark.parametrize("keep", [False, True])
def test_a_close_waits_for_a_create_on_its_way_in_another_thread(
    served: Served, keep: bool
) -> None:
    # close() terminated the models it knew of when it began, then closed the connection
    # the create's reply was on its way over: the model the server made ran on, unknown.
    held = served.held
    service = ServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)
    creating, ended = _creating(service, keep=keep)
    assert held.made.wait(5)
    closing = threading.Thread(target=service.close)
    closing.start()
    closing.join(CLOSE_AT_ONCE)
    waited = closing.is_alive()
    held.release.set()
    closing.join(10)
    creating.join(10)
    _terminated_by_the_close(served, ended[0])
    assert waited  # the close waited for the create's reply
    with pytest.raises(ClientClosedError):
        service.create_training_client(BASE_MODEL)
    assert held.attempts == 1  # a create after the close sends nothing


@pytest.mark.parametrize("keep", [False, True])
async def test_an_aclose_waits_for_a_create_on_its_way_in_another_task(
    served: Served, keep: bool
) -> None:
    held = served.held
    service = AsyncServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)
    creating = asyncio.create_task(service.create_training_client(BASE_MODEL, keep=keep))
    assert await asyncio.to_thread(held.made.wait, 5)
    closing = asyncio.create_task(service.aclose())
    done, _ = await asyncio.wait({closing}, timeout=CLOSE_AT_ONCE)
    held.release.set()
    await asyncio.wait({closing, creating}, timeout=10)
    _terminated_by_the_close(served, creating.exception())
    assert not done  # the close waited for the create's reply
    with pytest.raises(ClientClosedError):
        await service.create_training_client(BASE_MODEL)
    assert held.attempts == 1  # a create after the close sends nothing


def _left_running_by_the_cut_close(
    served: Served, error: BaseException | None, caplog: pytest.LogCaptureFixture
) -> None:
    """The server says that the one model it made runs on, and the create raised, saying
    so and how to end it, as a WARNING does, naming it."""
    [(model_id, status)] = served.statuses().items()
    assert status == "active"
    assert isinstance(error, ClientClosedError), error
    assert str(error).endswith(
        f"model {model_id} was being created; it is left running (end it with terminate_model())"
    )
    assert f"models left running: {model_id} (end it with terminate_model())" in caplog.messages


def test_a_create_answered_once_a_ctrl_c_cut_the_close_short_is_left_running(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    # The close that waited for the create's reply was cut short by a Ctrl-C: the reply
    # came once it had ended, and the create said its model "is terminated by the close",
    # which nothing did, with no WARNING naming it.
    held = served.held
    service = ServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)

    def interrupt() -> None:
        while not service._io.wakeup.closing:  # the close began: it waits for the create
            time.sleep(0.01)
        ctrl_c()

    creating, ended = _creating(service)
    assert held.made.wait(5)
    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        service.close()
    # The close named what it left, as an aclose() does: it said nothing of the create.
    assert caplog.messages == [
        "the close was interrupted: models left running: the model of a create on its way (a "
        "server with the model-listing extension shows the id this client never got in "
        "service.list_models(); end it with terminate_model())"
    ]
    held.release.set()
    creating.join(10)
    _left_running_by_the_cut_close(served, ended[0], caplog)


async def test_a_create_answered_once_a_cancel_cut_the_aclose_short_is_left_running(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    held = served.held
    service = AsyncServiceClient(served.base_url, API_KEY, heartbeat_interval=0, retry=FAST_RETRY)
    creating = asyncio.create_task(service.create_training_client(BASE_MODEL))
    assert await asyncio.to_thread(held.made.wait, 5)
    closing = asyncio.create_task(service.aclose())
    for _ in range(1000):
        if service._io.wakeup.closing:
            break
        await asyncio.sleep(0.01)
    assert service._io.wakeup.closing  # the close began: it waits for the create
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    held.release.set()
    await asyncio.wait({creating}, timeout=10)
    _left_running_by_the_cut_close(served, creating.exception(), caplog)
    await service.aclose()  # as the cancelled close said: close again
    assert list(served.statuses().values()) == ["terminated"]


# Two threads of a pool wait for a forward-backward that runs for ten minutes; the main
# thread, in the README's `with` statement, waits for them when Ctrl-C comes.
POOL_SCRIPT = """
import sys, threading
from concurrent.futures import ThreadPoolExecutor
from weaver_facade import ServiceClient, datum_from_tokens

started, models = threading.Barrier(3), []

def train(svc):
    trainer = svc.create_training_client("weaver-tiny")
    handle = trainer.forward_backward([datum_from_tokens(list(range(8)))], wait=False)
    models.append(trainer.model_id)
    started.wait()
    handle.result()

{statement}
    futures = [pool.submit(train, svc) for _ in range(2)]
    started.wait()
    print("ready", *models, file=sys.stderr, flush=True)
    for future in futures:
        future.result()
"""


def test_a_ctrl_c_in_the_readme_s_pool_and_client_order_ends_at_once() -> None:
    # `with ServiceClient() as svc, ThreadPoolExecutor() as pool:` left the pool first,
    # which waited for its threads' waits (up to their deadline, an hour), the models
    # running; the README names the order whose client's close ends them first.
    (statement,) = re.findall(r"`(with [^`]*ThreadPoolExecutor[^`]*:)`", README.read_text())
    script = POOL_SCRIPT.format(statement=statement)
    with run_emulator(api_keys=(API_KEY,), latency={"forward_backward": 600}) as emu:
        env = {**os.environ, "WEAVER_BASE_URL": emu.base_url, "WEAVER_API_KEY": API_KEY}
        with watched(with_sigint("SIG_DFL", [sys.executable, "-c", script]), env) as run:
            assert run.line_starting("ready", 60), run.stderr
            sent = time.monotonic()
            run.process.send_signal(signal.SIGINT)
            code = run.process.wait(30)  # else TimeoutExpired, and the process is killed
            seconds = time.monotonic() - sent
        models = run.stderr.partition("ready ")[2].split("\n", 1)[0].split()
        headers = {"X-WEAVER-API-KEY": API_KEY}
        statuses = [
            httpx.get(f"{emu.base_url}/api/v1/models/{m}", headers=headers).json()["status"]
            for m in models
        ]
    assert code == -signal.SIGINT, run.stderr
    assert seconds < 10
    assert statuses == ["terminated", "terminated"]
