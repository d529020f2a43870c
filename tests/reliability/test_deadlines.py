"""Deadlines against real sockets: each case the trial found, with the wall time measured.

The promise is that a wait (or a call under ``with_options(timeout=T)``) ends
within T plus one second whatever the server does. The server is a scripted one
on a loopback port.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime
import functools
import json
import os
import re
import socket
import threading
import time
import uuid
import warnings
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.download.storage import StorageServer, descriptor
from tests.support.fakeserver import BASE, KEY, FakeWeaver, checkpoint_json
from tests.support.held_creates import HOLD_NOTICE, ctrl_c, default_sigint
from tests.support.name_lookups import Lookups, names
from tests.support.scripted_http import (
    HANG,
    SLOW_BODY,
    TRICKLE,
    TRICKLE_HEADERS,
    Reply,
    ScriptedServer,
    pending,
    unavailable,
)
from weaver_facade import (
    APIConnectionError,
    APITimeoutError,
    AsyncServiceClient,
    ClientClosedError,
    DownloadTimeoutError,
    InternalServerError,
    OperationTimeoutError,
    ServiceClient,
    _socket_deadline,
)
from weaver_facade._retry import describe_failure
from weaver_facade._socket_deadline import addresses
from weaver_facade.cli import main

OP = "op-1"
SLACK = 1.0  # the promise


def first_pending_then(then: Reply | str) -> Any:
    """Answer the first poll with `pending` (so a handle exists), then ``then``."""
    seen = {"n": 0}

    def answer(method: str, path: str) -> Reply | str:
        seen["n"] += 1
        return pending(OP) if seen["n"] == 1 else then

    return answer


def client(server: ScriptedServer) -> ServiceClient:
    return ServiceClient(server.base_url, "k", heartbeat_interval=0)


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


def test_503_with_retry_after_30_ends_a_5_second_wait() -> None:
    with ScriptedServer(first_pending_then(unavailable("30"))) as server, client(server) as svc:
        handle = svc.operation(OP)
        start = time.monotonic()
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=5)
        assert elapsed_since(start) < 5 + SLACK  # was 120 s
        assert isinstance(info.value.last_error, InternalServerError)
        assert info.value.last_error.retry_after == 30.0
        # It had an answer, a 503: not "no answer after 0.0 s".
        assert f"operation {OP} last seen pending; gave up after " in str(info.value)
        assert "s: the last poll failed ([503 unavailable]" in str(info.value)
        # A single call under a deadline: the Retry-After does not fit, so it ends at once.
        start = time.monotonic()
        with pytest.raises(InternalServerError):
            svc.with_options(timeout=3).operation(OP)
        assert elapsed_since(start) < 3 + SLACK


@pytest.mark.parametrize("status", [503, 429])
def test_a_retry_after_longer_than_the_time_left_ends_the_wait_at_once(status: int) -> None:
    # The README: "a `Retry-After` longer than the time left ends the wait at once".
    code = {503: "unavailable", 429: "rate_limited"}[status]
    body = {"error": code, "message": "m", "retryable": True}
    refusal: Reply = (status, body, {"Retry-After": "30"})
    with ScriptedServer(first_pending_then(refusal)) as server, client(server) as svc:
        handle = svc.operation(OP)
        start = time.monotonic()
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=5)
        assert elapsed_since(start) < 1.0  # not the 5 s the wait had left
    assert getattr(info.value.last_error, "status_code", None) == status


def test_a_long_poll_that_holds_ends_at_the_deadline() -> None:
    # A server with long-poll holds each poll for the `?wait=` it is asked: the waits
    # asked, and so the wait, keep within the deadline.
    stop, asked = threading.Event(), []

    def held(method: str, path: str) -> Reply:
        if "wait=" in path:
            asked.append(float(re.findall(r"[?&]wait=([0-9.]+)", path)[0]))
            stop.wait(asked[-1])
        return pending(OP)

    try:
        with ScriptedServer(held) as server, client(server) as svc:
            handle = svc.operation(OP)
            start = time.monotonic()
            with pytest.raises(OperationTimeoutError):
                handle.result(timeout=1)
            took = elapsed_since(start)
    finally:
        stop.set()
    assert 1 - 0.1 < took < 1 + SLACK
    assert asked, "no long-poll was asked for"
    assert max(asked) <= 1.0  # none asked beyond the time left


def test_accepted_and_never_answered() -> None:
    with ScriptedServer(first_pending_then(HANG)) as server, client(server) as svc:
        handle = svc.operation(OP)
        start = time.monotonic()
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=3)
        took = elapsed_since(start)
        assert 3 - 0.1 < took < 3 + SLACK
        assert isinstance(info.value.last_error, APITimeoutError)
        start = time.monotonic()
        with pytest.raises(APITimeoutError):
            svc.with_options(timeout=2).operation(OP)
        assert 2 - 0.1 < elapsed_since(start) < 2 + SLACK


def test_a_watch_keeps_its_deadline_on_a_server_that_never_answers() -> None:
    # The README's one deadline per wait holds for `watch(timeout=...)` too.
    with ScriptedServer(first_pending_then(HANG)) as server, client(server) as svc:
        handle = svc.operation(OP)
        seen: list[str] = []

        def watch() -> None:
            seen.extend(change.status.value for change in handle.watch(timeout=1))

        start = time.monotonic()
        with pytest.raises(OperationTimeoutError):
            watch()
        assert 1 - 0.1 < elapsed_since(start) < 1 + SLACK
    assert seen == ["pending"]


async def test_an_async_watch_keeps_its_deadline_on_a_server_that_never_answers() -> None:
    with ScriptedServer(first_pending_then(HANG)) as server:
        async with AsyncServiceClient(server.base_url, "k", heartbeat_interval=0) as svc:
            handle = await svc.operation(OP)

            async def watch() -> None:
                async for _ in handle.watch(timeout=1):
                    pass

            start = time.monotonic()
            with pytest.raises(OperationTimeoutError):
                await watch()
            assert 1 - 0.1 < elapsed_since(start) < 1 + SLACK


def test_a_create_under_a_timeout_ends_on_a_server_that_never_answers() -> None:
    # The session it opens first went out with the client's own limits (60 s to read,
    # 4 retries): minutes, not the 2 s asked for.
    with ScriptedServer(lambda method, path: HANG) as server, client(server) as svc:
        for copy in (svc.with_options(timeout=2), svc.with_options(timeout=2, max_retries=0)):
            start = time.monotonic()
            with pytest.raises(APITimeoutError):
                copy.create_training_client("weaver-tiny")
            assert 2 - 0.1 < elapsed_since(start) < 2 + SLACK
    assert {path for _, path in server.requests} == {"/api/v1/sessions"}


async def test_an_async_create_under_a_timeout_ends_on_a_server_that_never_answers() -> None:
    with ScriptedServer(lambda method, path: HANG) as server:
        async with AsyncServiceClient(server.base_url, "k", heartbeat_interval=0) as svc:
            start = time.monotonic()
            with pytest.raises(APITimeoutError):
                await svc.with_options(timeout=2).create_training_client("weaver-tiny")
            assert 2 - 0.1 < elapsed_since(start) < 2 + SLACK


SESSIONS = "/api/v1/sessions"


def test_a_create_under_a_timeout_waits_for_another_calls_session_within_it() -> None:
    # It waited for the session another call (without a timeout) was opening for as long
    # as that took: 4.8 s for a timeout of 1 s, against a session reply of 5 s.
    fake, reached, release = FakeWeaver(), threading.Event(), threading.Event()

    def slow_sessions(request: httpx.Request) -> httpx.Response:
        if request.url.path == SESSIONS:
            reached.set()
            release.wait(10)
        return fake(request)

    http = httpx.Client(transport=httpx.MockTransport(slow_sessions))
    with ServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
        first = threading.Thread(target=svc.create_training_client, args=("weaver-tiny",))
        first.start()
        assert reached.wait(5)
        start = time.monotonic()
        with pytest.raises(APITimeoutError, match="another call was still opening the client's"):
            svc.with_options(timeout=1).create_training_client("weaver-tiny")
        assert 1 - 0.1 < elapsed_since(start) < 1 + SLACK
        release.set()
        first.join()
    assert len(fake.sent("POST", SESSIONS)) == 1


async def test_an_async_create_under_a_timeout_waits_for_another_calls_session_within_it() -> None:
    fake, reached, release = FakeWeaver(), asyncio.Event(), asyncio.Event()

    async def slow_sessions(request: httpx.Request) -> httpx.Response:
        if request.url.path == SESSIONS:
            reached.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), 10)
        return fake(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(slow_sessions))
    async with AsyncServiceClient(BASE, KEY, http_client=http, heartbeat_interval=0) as svc:
        first = asyncio.create_task(svc.create_training_client("weaver-tiny"))
        await asyncio.wait_for(reached.wait(), 5)
        start = time.monotonic()
        with pytest.raises(APITimeoutError, match="another call was still opening the client's"):
            await svc.with_options(timeout=1).create_training_client("weaver-tiny")
        assert 1 - 0.1 < elapsed_since(start) < 1 + SLACK
        release.set()
        await first
    assert len(fake.sent("POST", SESSIONS)) == 1


SLOW_REPLIES = {
    "body-byte-each-0.3-s": TRICKLE,
    "headers-byte-each-0.3-s": TRICKLE_HEADERS,
    "body-byte-each-2.5-s": SLOW_BODY,
}


@pytest.mark.parametrize("reply", SLOW_REPLIES.values(), ids=list(SLOW_REPLIES))
def test_a_reply_sent_a_byte_at_a_time_ends_at_the_deadline(reply: str) -> None:
    # httpx's read timeout bounds each wait for bytes, not the reply: result(timeout=3)
    # ended after 10 s, and a CLI save with --timeout 3 after 35 s, for a body a byte at
    # a time; headers so held every bounded call for hours, and a body byte every 2.5 s
    # ran to twice the deadline.
    with ScriptedServer(first_pending_then(reply)) as server, client(server) as svc:
        handle = svc.operation(OP)
        start = time.monotonic()
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=3)
        assert elapsed_since(start) < 3 + SLACK
        assert isinstance(info.value.last_error, APITimeoutError)
        start = time.monotonic()
        late = {  # a body's first byte, 2.5 s after its headers, comes after the deadline
            TRICKLE: "still arriving",
            TRICKLE_HEADERS: "no reply in time",
            SLOW_BODY: "none of the reply's body came in time",
        }[reply]
        with pytest.raises(APITimeoutError, match=late):
            svc.with_options(timeout=2).operation(OP)
        assert elapsed_since(start) < 2 + SLACK


@pytest.mark.parametrize("reply", SLOW_REPLIES.values(), ids=list(SLOW_REPLIES))
async def test_a_reply_sent_a_byte_at_a_time_ends_at_the_deadline_async(reply: str) -> None:
    with ScriptedServer(first_pending_then(reply)) as server:
        async with AsyncServiceClient(server.base_url, "k", heartbeat_interval=0) as svc:
            handle = await svc.operation(OP)
            start = time.monotonic()
            with pytest.raises(OperationTimeoutError):
                await handle.result(timeout=3)
            assert elapsed_since(start) < 3 + SLACK
            start = time.monotonic()
            with pytest.raises(APITimeoutError):
                await svc.with_options(timeout=2).operation(OP)
            assert elapsed_since(start) < 2 + SLACK


def test_without_a_deadline_a_body_has_one_read_timeout() -> None:
    # As its headers have.
    with (
        ScriptedServer(lambda method, path: TRICKLE) as server,
        ServiceClient(server.base_url, "k", heartbeat_interval=0, timeout=2) as svc,
    ):
        start = time.monotonic()
        with pytest.raises(APITimeoutError):
            svc.with_options(max_retries=0).operation(OP)
        assert elapsed_since(start) < 2 + SLACK


def _look_once(base_url: str, timeout: httpx.Timeout, is_async: bool) -> None:
    if not is_async:
        with ServiceClient(base_url, "k", heartbeat_interval=0, timeout=timeout) as svc:
            svc.with_options(max_retries=0).operation(OP)
        return

    async def look() -> None:
        async with AsyncServiceClient(base_url, "k", heartbeat_interval=0, timeout=timeout) as svc:
            await svc.with_options(max_retries=0).operation(OP)

    asyncio.run(look())


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_without_a_deadline_an_attempt_ends_within_its_timeouts(is_async: bool) -> None:
    # httpx's timeouts bound each wait for bytes: headers sent a byte each 0.3 s held a
    # call with timeout=0.4 for as long as the server kept sending. The attempt now ends
    # within its phases' timeouts added up (pool, connect, write, read: 1.6 s).
    with ScriptedServer(lambda method, path: TRICKLE_HEADERS) as server:
        start = time.monotonic()
        with pytest.raises(APITimeoutError):
            _look_once(server.base_url, httpx.Timeout(0.4), is_async)
        assert elapsed_since(start) < 1.6 + SLACK


# A client of a server whose name no DNS server answers: each call is bounded by a
# deadline (with_options), or by the connect timeout alone (its attempts not retried).
UNANSWERED = [(None, 1.0), (httpx.Timeout(30, connect=0.5), 0.5)]


def _unanswered(timeout: httpx.Timeout | None) -> dict[str, Any]:
    options: dict[str, Any] = {"timeout": timeout, "max_retries": 0} if timeout else {}
    return {"base_url": "http://weaver.test:9", "api_key": "k", "heartbeat_interval": 0, **options}


def _look_up_each() -> list[float]:
    took = []
    for timeout, _ in UNANSWERED:
        start = time.monotonic()
        with ServiceClient(**_unanswered(timeout)) as svc, pytest.raises(APITimeoutError):
            (svc if timeout else svc.with_options(timeout=1)).supported_models()
        took.append(elapsed_since(start))
    return took


async def _alook_up_each(lookups: Lookups) -> list[float]:
    took = []
    for timeout, _ in UNANSWERED:
        start = time.monotonic()
        async with AsyncServiceClient(**_unanswered(timeout)) as svc:
            with pytest.raises(APITimeoutError):
                await (svc if timeout else svc.with_options(timeout=1)).supported_models()
        took.append(elapsed_since(start))
    lookups.ended.set()  # else asyncio.run() waits for its default executor's lookups
    return took


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_name_no_dns_server_answers_ends_a_call_at_its_deadline(
    monkeypatch: pytest.MonkeyPatch, is_async: bool
) -> None:
    # The resolver takes no timeout: a server's name that no DNS server answered held a
    # sync call for the resolver's own (5 s a try by default), deadline or not.
    with names(monkeypatch, {"weaver.test": None}) as lookups:
        took = asyncio.run(_alook_up_each(lookups)) if is_async else _look_up_each()
    for (_, limit), seconds in zip(UNANSWERED, took, strict=True):
        assert seconds < limit + 0.5


def test_a_name_is_connected_at_the_first_of_its_addresses_that_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Looked up apart from the connect, each address is still tried in turn, as
    # socket.create_connection does: here 127.0.0.2 refuses, 127.0.0.1 answers.
    with ScriptedServer(lambda method, path: pending(OP)) as server:
        port = server.base_url.rsplit(":", 1)[1]
        with (
            names(monkeypatch, {"weaver.test": ["127.0.0.2", "127.0.0.1"]}),
            ServiceClient(f"http://weaver.test:{port}", "k", heartbeat_interval=0) as svc,
        ):
            assert svc.with_options(timeout=5).operation(OP).id == OP
        assert server.requests == [("GET", f"/api/v1/operations/{OP}")]


def _counting_lookups(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """The lookups of ``name`` asked of the resolver from now on (not an address's)."""
    looked_up: list[str] = []
    stub = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        flags = args[3] if len(args) > 3 else kwargs.get("flags", 0)
        if host == name and not flags & socket.AI_NUMERICHOST:
            looked_up.append(host)
        return stub(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_connects_to_a_name_not_answered_share_its_one_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # While a name's lookup hung, each new connection started one more lookup thread:
    # threads piled up until the resolver answered. Each call keeps its own deadline; once
    # the lookup has ended, the next connect looks the name up again.
    before = set(threading.enumerate())
    with names(monkeypatch, {"weaver.test": None}) as lookups:
        looked_up = _counting_lookups(monkeypatch, "weaver.test")
        with ServiceClient(**_unanswered(None)) as svc:
            for _ in range(3):
                start = time.monotonic()
                with pytest.raises(APITimeoutError):
                    svc.with_options(timeout=0.3, max_retries=0).supported_models()
                assert elapsed_since(start) < 0.3 + 0.5
        assert looked_up == ["weaver.test"]
        threads = [t for t in threading.enumerate() if t not in before]
        assert [t.name for t in threads] == ["weaver-lookup"]
        lookups.ended.set()  # it fails, as the resolver's own timeout ends it
        threads[0].join(5)
        with ServiceClient(**_unanswered(None)) as svc, pytest.raises(APIConnectionError):
            svc.with_options(timeout=5, max_retries=0).supported_models()
        assert looked_up == ["weaver.test"] * 2


def test_connects_at_once_to_a_name_not_answered_share_its_one_lookup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Calls at once from a pool's threads: one that connected while another's lookup
    # thread was starting found no lookup under way yet, and started a thread of its own.
    start = threading.Thread.start
    started: list[threading.Thread] = []
    second = threading.Event()

    def slow_start(thread: threading.Thread) -> None:
        start(thread)
        if thread.name != "weaver-lookup":
            return
        started.append(thread)
        if len(started) == 1:
            second.wait(0.5)  # a slow start: long enough for the next connect to come
        else:
            second.set()

    def connect() -> None:
        with contextlib.suppress(TimeoutError):
            addresses("weaver.test", 9, 0.1, threading.Event())

    with names(monkeypatch, {"weaver.test": None}) as lookups:
        monkeypatch.setattr(threading.Thread, "start", slow_start)
        first = threading.Thread(target=connect)
        start(first)
        assert lookups.asked.wait(5)
        then = threading.Thread(target=connect)
        start(then)
        first.join(5)
        then.join(5)
        assert [t.name for t in started] == ["weaver-lookup"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_child_forked_during_a_lookup_looks_the_name_up_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A lookup under way is shared by the connects to its name; a forked child has not its
    # thread, so one that joined it would wait out every connect to that name.
    def child_lookup(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > 3 and args[3] & socket.AI_NUMERICHOST:
            raise socket.gaierror(socket.EAI_NONAME, "not an address")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]

    with names(monkeypatch, {"weaver.test": None}) as lookups:
        with pytest.raises(TimeoutError):
            addresses("weaver.test", 9, 0.05, threading.Event())
        assert lookups.asked.is_set()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
            child = os.fork()
        if child == 0:  # pragma: no cover (the child's)
            code = 1
            try:
                socket.getaddrinfo = child_lookup
                code = 0 if addresses("weaver.test", 9, 2, threading.Event()) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("pooled", [False, True], ids=["main-thread", "pool-thread"])
def test_a_lookup_whose_thread_could_not_start_leaves_the_name_to_the_next(
    monkeypatch: pytest.MonkeyPatch, pooled: bool
) -> None:
    # A lookup thread that could not start (no thread left) stayed the name's lookup under
    # way: every later connect to the name joined it and waited out its time, for good.
    start = threading.Thread.start

    def no_thread(thread: threading.Thread) -> None:
        if thread.name == "weaver-lookup":
            raise RuntimeError("can't start new thread")
        start(thread)

    def looked_up() -> object:
        call = functools.partial(addresses, "weaver.test", 9, 5, threading.Event())
        if not pooled:
            return call()
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a thread of a pool's
            return pool.submit(call).result()

    with names(monkeypatch, {"weaver.test": ["127.0.0.1"]}):
        with monkeypatch.context() as patched:
            patched.setattr(threading.Thread, "start", no_thread)
            with pytest.raises(RuntimeError, match="can't start new thread"):
                looked_up()
        found = addresses("weaver.test", 9, 5, threading.Event())
    assert [address for *_, address in found] == [("127.0.0.1", 9)]


@pytest.mark.parametrize("started", [False, True], ids=["before-its-start", "as-it-started"])
def test_a_lookup_interrupted_as_its_thread_starts_leaves_the_name_to_the_next(
    monkeypatch: pytest.MonkeyPatch, started: bool
) -> None:
    # A Ctrl-C between a lookup's registration and its thread's start left it the name's
    # lookup under way with no thread to end it: every later connect to the name joined
    # it and waited out its time, for good. One that came as the thread started (in
    # start's wait for it) must leave its lookup to end by itself, and no other.
    start = threading.Thread.start
    begun: list[threading.Thread] = []
    failures: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))

    def interrupted(thread: threading.Thread) -> None:
        if thread.name == "weaver-lookup" and not begun:
            begun.append(thread)
            if started:
                start(thread)
            raise KeyboardInterrupt
        start(thread)

    with names(monkeypatch, {"weaver.test": ["127.0.0.1"]}):
        with monkeypatch.context() as patched:
            patched.setattr(threading.Thread, "start", interrupted)
            with pytest.raises(KeyboardInterrupt):
                addresses("weaver.test", 9, 5, threading.Event())
            found = addresses("weaver.test", 9, 1, threading.Event())
        if started:
            begun[0].join(5)
    assert [address for *_, address in found] == [("127.0.0.1", 9)]
    assert failures == []


def test_a_lookup_made_by_a_signal_handler_as_a_lookup_thread_starts_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A signal's handler runs on the main thread where it waits, also in a lookup's start
    # of its thread. One that connects (a close terminating its models) looked its name up
    # under the lock that the start held, and waited for it for good.
    start = threading.Thread.start
    handled: list[list[tuple[Any, ...]]] = []

    def handler_meanwhile(thread: threading.Thread) -> None:
        start(thread)
        if thread.name == "weaver-lookup" and not handled:
            handled.append([])  # once: the handler's own lookup starts a thread too
            handled[0] = addresses("weaver.test", 9, 5, threading.Event())
            thread.join(5)  # and the interrupted one ends before it is shared

    found: list[list[tuple[Any, ...]]] = []
    with names(monkeypatch, {"weaver.test": ["127.0.0.1"]}), monkeypatch.context() as patched:
        # A lock of this test's: a caller stuck holding it holds up no other test.
        patched.setattr(_socket_deadline, "_FLIGHTS_LOCK", threading.Lock())
        patched.setattr(threading.Thread, "start", handler_meanwhile)
        caller = threading.Thread(
            target=lambda: found.append(addresses("weaver.test", 9, 5, threading.Event())),
            daemon=True,
        )
        # The main thread, the only one where a handler runs, is here the caller's.
        patched.setattr(threading, "main_thread", lambda: caller)
        start(caller)
        caller.join(10)
        assert not caller.is_alive(), "the handler's lookup waited for the lock for good"
    assert [address for *_, address in found[0]] == [("127.0.0.1", 9)]
    assert [address for *_, address in handled[0]] == [("127.0.0.1", 9)]
    # Both ended: neither is left the name's lookup under way, whose result would stay.
    assert ("weaver.test", 9) not in _socket_deadline._FLIGHTS


@pytest.mark.parametrize("proxy", [False, True], ids=["direct", "proxy"])
def test_close_ends_a_call_waiting_for_a_name_no_dns_server_answers(
    monkeypatch: pytest.MonkeyPatch, proxy: bool
) -> None:
    # close() from another thread left a call waiting for its connect's name lookup (the
    # server's, or its proxy's) until the connect timeout (5 s by default), as if the
    # client were still open.
    unanswered = _unanswered(None)
    if proxy:
        monkeypatch.setenv("HTTP_PROXY", "http://weaver.test:9")
        unanswered["base_url"] = "http://192.0.2.1:9"  # reached through the proxy only
    with names(monkeypatch, {"weaver.test": None}) as lookups:
        svc = ServiceClient(**unanswered)
        ended: dict[str, Any] = {}

        def call() -> None:
            try:
                svc.supported_models()
            except Exception as exc:
                ended["error"], ended["at"] = exc, time.monotonic()

        calling = threading.Thread(target=call)
        calling.start()
        assert lookups.asked.wait(5)
        start = time.monotonic()
        svc.close()
        calling.join(10)
    assert isinstance(ended["error"], ClientClosedError), ended["error"]
    assert ended["at"] - start < 1.0, ended["at"] - start


def test_refused_connections() -> None:
    with ScriptedServer(first_pending_then(pending(OP))) as server, client(server) as svc:
        handle = svc.operation(OP)
        server.stop()
        start = time.monotonic()
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=3)
        took = elapsed_since(start)
    assert 3 - 0.1 < took < 3 + SLACK
    assert isinstance(info.value.last_error, APIConnectionError)
    assert describe_failure(info.value.last_error) == "connection refused"


def test_the_cli_wait_keeps_its_timeout_on_a_server_that_never_answers() -> None:
    # The trial: `operations wait OP --timeout 3` returned after 306 s.
    with ScriptedServer(lambda method, path: HANG) as server:
        runner = CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})
        start = time.monotonic()
        result = runner.invoke(main, ["operations", "wait", OP, "--timeout", "3"])
        took = elapsed_since(start)
        as_json = runner.invoke(main, ["--json", "operations", "wait", OP, "--timeout", "1"])
    assert result.exit_code == 1, result.output
    assert took < 3 + SLACK
    # It was reached and did not answer: not "cannot reach", as a refused connection is.
    assert result.stderr.startswith(f"error: no reply in time from {server.base_url}: ")
    # The command's time and the operation, which it never saw (so it may not exist).
    assert re.search(
        r" \(after 3\.\d s\); operation op-1 was not seen; if the server has it, it keeps "
        r"running there ",
        result.stderr,
    )
    assert result.stderr.rstrip().endswith("(`weaver-facade operations wait op-1`)")
    assert json.loads(as_json.stdout)["error"]["operation_id"] == OP


def test_the_cli_says_when_the_server_asks_to_try_again() -> None:
    # A 503 whose Retry-After outlasts the timeout read as a bare "[503 unavailable]".
    with ScriptedServer(lambda method, path: unavailable("100")) as server:
        runner = CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})
        result = runner.invoke(main, ["--json", "operations", "wait", OP, "--timeout", "10"])
    assert result.exit_code == 1, result.output
    assert "; the server asks to try again in 100 s; wait again with `" in result.stderr
    assert json.loads(result.stdout)["error"]["retry_after"] == 100.0


def test_the_cli_says_so_too_when_polls_are_refused_so() -> None:
    # Once the operation was seen, a 429 with Retry-After on its polls ended the wait
    # with "(the last poll failed: HTTP 429 (rate_limited))" and no word of the wait asked.
    body = {"error": "rate_limited", "message": "slow", "retryable": True}
    limited: Reply = (429, body, {"Retry-After": "30"})
    with ScriptedServer(first_pending_then(limited)) as server:
        runner = CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})
        result = runner.invoke(main, ["operations", "wait", OP, "--timeout", "5"])
    assert result.exit_code == 1, result.output
    last = result.stderr.splitlines()[-1]
    assert "(the last poll failed: HTTP 429 (rate_limited)" in last
    assert "(rate_limited)); the server asks to try again in 30 s; it keeps running" in last


def test_the_cli_names_the_cause_when_the_server_goes_away() -> None:
    with ScriptedServer(first_pending_then(pending(OP))) as server:
        runner = CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})
        # The first polls succeed, then the server is gone.
        threading.Timer(0.5, server.stop).start()
        start = time.monotonic()
        result = runner.invoke(main, ["operations", "wait", OP, "--timeout", "3"])
        took = elapsed_since(start)
    assert result.exit_code == 1, result.output
    assert took < 3 + SLACK
    lines = result.stderr.splitlines()
    assert lines[0] == f"operation {OP}: pending"
    # The outage is said once, however many polls fail (each retry is its own line).
    outage = [line for line in lines if line.startswith(f"operation {OP}: polls failing: ")]
    assert len(outage) == 1, lines
    assert outage[0].endswith("; retrying")
    assert any(line.startswith(f"poll of operation {OP}: ") for line in lines)
    assert lines[-1].startswith(f"error: operation {OP} still pending after ")
    assert "(the last poll failed: connection refused)" in lines[-1]


def slow_replies(delay: float) -> Any:
    """Answer every request after ``delay`` seconds: a model, a started save or load, and
    an operation that stays pending."""

    def answer(method: str, path: str) -> Reply:
        time.sleep(delay)
        if method == "GET" and path.startswith("/api/v1/models/"):
            model = {"id": "m-1", "base_model": "weaver-tiny", "training_mode": "lora"}
            return 200, model, {}
        return 202 if method == "POST" else 200, pending(OP)[1], {}

    return answer


@pytest.mark.parametrize(
    "command",
    [
        ["checkpoints", "save", "m-1", "step-1"],
        ["checkpoints", "load", "m-1", "weaver://m-1/checkpoints/step-1"],
    ],
    ids=["save", "load"],
)
def test_the_cli_timeout_bounds_every_request_of_a_command(command: list[str]) -> None:
    # Each request gets the time left, not the whole --timeout again: with replies taking
    # 2.5 s, the model lookup, the POST and the wait took 5.8 s under --timeout 3.
    with ScriptedServer(slow_replies(2.5)) as server:
        runner = CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})
        start = time.monotonic()
        result = runner.invoke(main, [*command, "--timeout", "3"])
        took = elapsed_since(start)
    assert result.exit_code == 1, result.output
    assert took < 3 + SLACK
    assert "error:" in result.stderr


def test_a_recovered_save_that_times_out_names_a_command_that_takes_its_path() -> None:
    # Without Idempotency-Key, the retried save meets its own checkpoint (409 after a 503
    # the server acted on): the handle watches that checkpoint and has no operation id.
    made = datetime.datetime.now(datetime.UTC).isoformat()
    saves = {"n": 0}

    def answer(method: str, path: str) -> Reply:
        if method == "POST":
            saves["n"] += 1
            if saves["n"] == 1:
                return unavailable("0")
            return 409, {"error": "checkpoint_exists", "message": "a", "retryable": False}, {}
        if path.split("?")[0].endswith("/checkpoints"):
            mine = {
                **checkpoint_json("m-1", "a"),
                "status": "pending",
                "created_at": made,
            }
            return 200, {"items": [mine]}, {}
        return 200, {"id": "m-1", "base_model": "weaver-tiny", "training_mode": "lora"}, {}

    with ScriptedServer(answer) as server:
        runner = CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})
        result = runner.invoke(main, ["checkpoints", "save", "m-1", "a", "--timeout", "1"])
    assert result.exit_code == 1, result.output
    last = result.stderr.splitlines()[-1]
    # Named as the long wait's WARNING names it: it said "operation weaver://...".
    assert last.startswith("error: the save of weaver://m-1/checkpoints/a still pending")
    assert "operation weaver://m-1/checkpoints/a: pending" not in result.stderr
    assert last.endswith("`weaver-facade checkpoints show weaver://m-1/checkpoints/a`")


def hung_after_models(method: str, path: str) -> Reply | str:
    """A session and models as asked, then no answer: heartbeats and terminates hang."""
    if path == "/api/v1/sessions":
        made = "2026-11-29T10:01:00Z"
        session = {"id": "s-1", "tags": [], "user_metadata": {}, "sdk_version": "x"}
        return 201, {**session, "created_at": made, "updated_at": made}, {}
    if path == "/api/v1/sessions/s-1/models":
        model_id = f"m-{threading.get_ident()}-{time.monotonic_ns()}"
        return 201, {"id": model_id, "base_model": "weaver-tiny", "training_mode": "lora"}, {}
    return HANG


def wait_for_heartbeat(server: ScriptedServer) -> None:
    start = time.monotonic()
    while not any(path.endswith("/heartbeat") for _, path in server.requests):
        assert elapsed_since(start) < 10, "no heartbeat was sent"
        time.sleep(0.01)


def assert_left_running(log: str, made: list[str]) -> None:
    """The close's log of a server that took the first of two terminates, never answering."""
    first, second = made
    assert f"model {first} may be left running: its terminate got no reply in time" in log
    assert f"models left running: {second} (end it with terminate_model())\n" in log, log


def test_close_against_a_hung_server_ends_within_the_clients_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The audit: close() waited the read timeout for a heartbeat in flight, then each
    # terminate was tried five times the read timeout (28-33 s with timeout=5).
    with ScriptedServer(hung_after_models) as server:
        svc = ServiceClient(server.base_url, "k", timeout=2, heartbeat_interval=0.05)
        made = [svc.create_training_client("weaver-tiny").model_id for _ in range(2)]
        wait_for_heartbeat(server)
        start = time.monotonic()
        svc.close()
        took = elapsed_since(start)
        terminates = [path for _, path in server.requests if path.endswith("/terminate")]
    assert took < 2 + SLACK
    assert len(terminates) >= 1  # it tried, within the one deadline
    # The README: a server that does not answer in time ends the attempts, and the log
    # names the models left running: the first one's terminate was sent, so perhaps not it.
    assert_left_running(caplog.text, made)


def hung_creates(method: str, path: str) -> Reply | str:
    """A session, then no answer to a model's create."""
    if path == "/api/v1/sessions":
        return hung_after_models(method, path)
    return HANG


def test_a_ctrl_c_held_for_a_create_is_bounded_by_the_clients_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The README: a Ctrl-C during a create waits for the reply on its way, "bounded by the
    # client's timeouts; a WARNING record says so", and sends no retry. Held against a
    # server that never answers, the wait ends with the attempt's read timeout.
    with default_sigint(), ScriptedServer(hung_creates) as server:
        svc = ServiceClient(server.base_url, "k", timeout=2, heartbeat_interval=0)

        def interrupt() -> None:
            start = time.monotonic()
            while not any(path.endswith("/models") for _, path in server.requests):
                if elapsed_since(start) > 10:
                    return
                time.sleep(0.01)
            ctrl_c()

        thread = threading.Thread(target=interrupt, daemon=True)
        thread.start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            svc.create_training_client("weaver-tiny")
        took = elapsed_since(start)
        thread.join()
        creates = [path for _, path in server.requests if path.endswith("/models")]
        svc.close()
    assert took < 2 + SLACK
    assert len(creates) == 1  # no retry after the Ctrl-C
    holds = [r for r in caplog.records if r.getMessage().startswith(HOLD_NOTICE)]
    assert [r.levelname for r in holds] == ["WARNING"]


async def test_async_close_against_a_hung_server_ends_within_the_clients_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with ScriptedServer(hung_after_models) as server:
        svc = AsyncServiceClient(server.base_url, "k", timeout=2, heartbeat_interval=0.05)
        made = [(await svc.create_training_client("weaver-tiny")).model_id for _ in range(2)]
        await asyncio.to_thread(wait_for_heartbeat, server)
        start = time.monotonic()
        await svc.aclose()
        took = elapsed_since(start)
        terminates = [path for _, path in server.requests if path.endswith("/terminate")]
    assert took < 2 + SLACK
    assert len(terminates) >= 1
    assert_left_running(caplog.text, made)


def test_the_cli_timeout_message_counts_the_whole_command() -> None:
    # The audit: with slow replies, the message said "after 1.0 s" (the watch alone) for a
    # command that took 3.6 s. The number must be the command's time, as a user's clock
    # sees it, and the --json message the same CLI words.
    with ScriptedServer(slow_replies(0.8)) as server:
        runner = CliRunner(env={"WEAVER_BASE_URL": server.base_url, "WEAVER_API_KEY": "k"})
        start = time.monotonic()
        result = runner.invoke(
            main, ["checkpoints", "save", "m-1", "a", "--timeout", "2", "--json"]
        )
        took = elapsed_since(start)
    assert result.exit_code == 1, result.output
    message = json.loads(result.stdout)["error"]["message"]
    assert result.stderr.splitlines()[-1] == f"error: {message}"
    said = re.fullmatch(
        rf"operation {OP} still pending after (\d+\.\d) s( \(the last poll failed: .*\))?; "
        r"it keeps running on the server: "
        rf"wait again with `weaver-facade operations wait {OP}`",
        message,
    )
    assert said is not None, message
    assert 2 - 0.1 <= float(said.group(1)) <= took + 0.05


def test_a_listing_of_many_pages_keeps_with_options_timeout() -> None:
    # Each page had the whole timeout: four pages of 1.5 s took 6 s under timeout=3.
    def slow_page(method: str, path: str) -> Reply | str:
        if "/checkpoints" not in path:  # the model, looked up once
            return 200, {"id": "m-1", "base_model": "weaver-tiny"}, {}
        time.sleep(1.0)
        item = checkpoint_json("m-1", f"c-{len(server.requests)}")
        more = f"p{len(server.requests)}" if len(server.requests) < 6 else None
        return 200, {"items": [item], "next_cursor": more}, {}

    with ScriptedServer(slow_page) as server, client(server) as svc:
        trainer = svc.training_client("m-1").with_options(timeout=2.5, max_retries=0)
        start = time.monotonic()
        with pytest.raises(APITimeoutError):
            trainer.list_checkpoints(page_size=1)
        took = elapsed_since(start)
    assert took < 2.5 + SLACK, took
    assert 2 <= len(server.requests) <= 4


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_download_whose_url_refresh_never_comes_ends_at_its_timeout(
    tmp_path: Any, is_async: bool
) -> None:
    # The README: a download refreshes its URLs (here after storage's 403, as for one
    # expired) within its `timeout`: an API that never answers the refresh costs the time
    # left, and the error says what the download waited for.
    stored, artifact_id, looks = {"w.bin": b"weights" * 1000}, str(uuid.uuid4()), []
    with StorageServer(stored).running() as storage:
        storage.script("w.bin", "403")
        body = descriptor(storage, uuid.UUID(artifact_id), stored).json()

        def answer(method: str, path: str) -> Reply | str:
            looks.append(path)
            return (200, body, {}) if len(looks) == 1 else HANG

        with ScriptedServer(answer) as server:
            start = time.monotonic()
            with pytest.raises(DownloadTimeoutError, match="deadline passed while asking the API"):
                _download(server.base_url, artifact_id, tmp_path, 2, is_async)
            took = elapsed_since(start)
    assert took < 2 + 0.5, took
    assert looks == [f"/api/v1/artifacts/{artifact_id}/download"] * 2
    assert [r.key for r in storage.requests] == ["w.bin"]


def _download(base_url: str, artifact_id: str, dest: Any, timeout: float, is_async: bool) -> None:
    if not is_async:
        with ServiceClient(base_url, "k", heartbeat_interval=0) as svc:
            svc.download_weights(artifact_id, dest, timeout=timeout)
        return

    async def download() -> None:
        async with AsyncServiceClient(base_url, "k", heartbeat_interval=0) as svc:
            await svc.download_weights(artifact_id, dest, timeout=timeout)

    asyncio.run(download())


async def _aclose_during_a_held_poll(http_client: httpx.AsyncClient | None) -> float:
    """Seconds from ``aclose()`` to the ``ClientClosedError`` of a wait (of 2 s) whose
    poll the server holds; nothing is sent after the close."""
    with ScriptedServer(first_pending_then(HANG)) as server:
        svc = AsyncServiceClient(
            server.base_url, "k", heartbeat_interval=0, http_client=http_client
        )
        handle = await svc.operation(OP)
        waiting = asyncio.create_task(handle.result(timeout=2))

        def second_poll_held() -> None:
            while len(server.requests) < 2:
                time.sleep(0.01)

        await asyncio.wait_for(asyncio.to_thread(second_poll_held), 10)
        await svc.aclose()
        start = time.monotonic()
        with pytest.raises(ClientClosedError):
            await asyncio.wait_for(waiting, 10)
        took = elapsed_since(start)
    assert len(server.requests) == 2
    return took


async def test_a_poll_cut_by_aclose_ends_the_wait_as_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # aclose() closes the connection a held poll waits on: the wait logged "connection
    # dropped; retrying" (nothing was retried) before it said the client was closed.
    assert await _aclose_during_a_held_poll(None) < 1.0
    assert "retrying" not in caplog.text


async def test_a_poll_on_the_users_own_client_ends_as_it_would_then_the_wait_is_closed() -> None:
    # aclose() leaves a client passed as http_client open, so it cuts nothing: the held
    # poll ends as it would (here at the wait's deadline), then the wait says the client
    # is closed.
    async with httpx.AsyncClient() as own:
        took = await _aclose_during_a_held_poll(own)
    assert took > 1.0, took  # not cut: the poll was on its way until the wait's deadline


def test_a_poll_cut_by_close_ends_a_waiting_thread_as_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # close() from another thread left a thread whose poll the server held waiting for
    # that poll (a long-poll's wait and the read timeout: 80 s by default), as if the
    # client were still open; a closed socket does not wake a thread blocked on it.
    with ScriptedServer(first_pending_then(HANG)) as server:
        svc = client(server)
        handle = svc.operation(OP)
        ended: dict[str, Any] = {}

        def wait() -> None:
            try:
                handle.result(timeout=5)
            except Exception as exc:
                ended["error"], ended["at"] = exc, time.monotonic()

        waiting = threading.Thread(target=wait)
        waiting.start()
        while len(server.requests) < 2:
            time.sleep(0.01)
        start = time.monotonic()
        svc.close()
        waiting.join(10)
    assert isinstance(ended["error"], ClientClosedError), ended["error"]
    assert ended["at"] - start < 1.0, ended["at"] - start
    assert len(server.requests) == 2
    assert "retrying" not in caplog.text


def test_a_create_cut_by_close_says_the_model_may_have_been_made() -> None:
    # close() from another thread cut a create the server held: the server may have made
    # the model, which the close cannot know to terminate; the error only said closed.
    # The close waits for the create's reply within its one deadline, then cuts it.
    def answer(method: str, path: str) -> Reply | str:
        if path.endswith("/sessions"):
            return 201, {"id": "s-1"}, {}
        return HANG

    with ScriptedServer(answer) as server:
        svc = ServiceClient(server.base_url, "k", timeout=2, heartbeat_interval=0)
        ended: dict[str, BaseException] = {}

        def create() -> None:
            try:
                svc.create_training_client("weaver-tiny")
            except Exception as exc:
                ended["error"] = exc

        creating = threading.Thread(target=create)
        creating.start()
        while len(server.requests) < 2:
            time.sleep(0.01)
        start = time.monotonic()
        svc.close()
        took = elapsed_since(start)
        creating.join(10)
    assert took < 2 + SLACK, took
    error = ended["error"]
    assert isinstance(error, ClientClosedError), error
    notes = "\n".join(getattr(error, "__notes__", []))
    assert "closed while the request to create a model was on its way" in notes
    assert "model-listing extension shows it in service.list_models()" in notes
    # This client is closed: the look it names needs a new one.
    assert notes.endswith("; this client is closed: look from a new one"), notes


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_a_close_waits_for_a_create_on_its_way_within_its_one_deadline(
    is_async: bool,
) -> None:
    # The close waits for a create on its way, so that it terminates the model its reply
    # names; one that it cannot wake (asleep before a retry, in a sleep of the caller's
    # own) it waits for within the client's read timeout, no more.
    def busy(method: str, path: str) -> Reply | str:
        if path == "/api/v1/sessions":
            return hung_after_models(method, path)
        return unavailable("1")

    asleep, woken = threading.Event(), threading.Event()  # the create's sleep outlasts the close

    def sleep(_seconds: float) -> None:
        asleep.set()
        woken.wait(10)

    async def async_sleep(seconds: float) -> None:
        await asyncio.to_thread(sleep, seconds)

    with ScriptedServer(busy) as server:
        options: dict[str, Any] = {"timeout": 2, "heartbeat_interval": 0}
        if is_async:
            asvc = AsyncServiceClient(server.base_url, "k", sleep=async_sleep, **options)
            creating: Any = asyncio.create_task(asvc.create_training_client("weaver-tiny"))
            close: Any = asvc.aclose
        else:
            svc = ServiceClient(server.base_url, "k", sleep=sleep, **options)
            creating = asyncio.create_task(
                asyncio.to_thread(svc.create_training_client, "weaver-tiny")
            )
            close = functools.partial(asyncio.to_thread, svc.close)
        assert await asyncio.to_thread(asleep.wait, 10)  # before the retry of the create
        start = time.monotonic()
        await asyncio.wait_for(close(), 10)
        took = elapsed_since(start)
        woken.set()
        with pytest.raises(ClientClosedError, match="not retried"):
            await asyncio.wait_for(creating, 10)
    assert 2 - 0.1 < took < 2 + SLACK, took
    assert len(server.requests) == 2  # the session and one create: no retry after the close
