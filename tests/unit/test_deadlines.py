"""One deadline, honoured everywhere: waits and single calls, on a fake clock.

The fake server moves the fake clock as a real one would move: a reply that
never comes costs the request's read timeout, a held long-poll its wait.
Every case must end within its deadline plus ``DEADLINE_GRACE``.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import functools
import io
import logging
import os
import pty
import re
import select
import stat
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import (
    CHECKPOINT,
    EXPORT,
    FakeClock,
    FakeWeaver,
    artifact_json,
    async_service,
    checkpoint_json,
    error_json,
    json_reply,
    service,
)
from tests.support.ports import free_port
from weaver_facade import (
    APIConnectionError,
    APITimeoutError,
    DownloadTimeoutError,
    InternalServerError,
    InvalidArgumentError,
    InvalidCheckpointName,
    InvalidDatumError,
    NotFoundError,
    OperationHandle,
    OperationProgress,
    OperationStatus,
    OperationTimeoutError,
    PollPolicy,
    PollSettings,
    RetryPolicy,
    RetrySettings,
    ServiceClient,
    _logs,
)
from weaver_facade._logs import configure_logging
from weaver_facade._operations import DEADLINE_GRACE, GiveUp, Sleep
from weaver_facade._retry import describe_failure, response_is_retryable
from weaver_facade._wire import connection_error, error_from_response

OP = "/api/v1/operations/op-1"


def unavailable(retry_after: str | None = "30") -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return json_reply(503, error_json("unavailable", "overloaded", retryable=True), headers)


@contextmanager
def started(fake: FakeWeaver, clock: FakeClock, **kwargs: Any) -> Iterator[OperationHandle[Any]]:
    """A save still pending, on a service on the fake clock."""
    kwargs.setdefault("poll", PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5))
    kwargs.setdefault("sleep", clock.sleep)
    with service(fake, **kwargs) as svc:
        handle = svc.create_training_client("weaver-tiny").save_state("a", wait=False)
        fake.requests.clear()
        yield handle


def read_timeout(request: httpx.Request) -> float:
    return float(request.extensions["timeout"]["read"])


def test_503_with_retry_after_30_ends_a_5_second_wait_at_once() -> None:
    # The trial: result(timeout=5) took 120 s (four transport retries of 30 s in one poll).
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 10**9
    with started(fake, clock) as handle:
        fake.script("GET", OP, *[unavailable("30")] * 10)
        begin = clock.now
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=5)
    assert clock.now - begin <= 5 + DEADLINE_GRACE
    assert len(fake.sent("GET", OP)) == 1  # the transport did not retry the poll
    error = info.value
    assert error.__cause__ is error.last_error
    assert isinstance(error.last_error, Exception)
    assert getattr(error.last_error, "retry_after", None) == 30.0
    assert "503" in str(error) or "overloaded" in str(error)


def test_a_wait_of_milliseconds_says_how_long_it_waited() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 10**9
    with started(fake, clock) as handle:
        begin = clock.now
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=0.02)
    waited = clock.now - begin
    assert 0.005 < waited <= 0.02 + DEADLINE_GRACE
    said = re.search(r"after ([0-9.]+) s", str(info.value))
    assert said, str(info.value)
    assert float(said.group(1)) == pytest.approx(waited, rel=0.5)  # not "0.0"


def test_a_short_retry_after_is_waited_out_inside_the_deadline() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    with started(fake, clock) as handle:
        fake.script("GET", OP, unavailable("2"), unavailable("2"))
        begin = clock.now
        handle.result(timeout=10)
    assert handle.status is OperationStatus.DONE
    assert clock.now - begin == pytest.approx(4.0)
    assert len(fake.sent("GET", OP)) == 3  # each poll sent once; the poller retried


def test_a_server_that_never_answers_costs_only_the_time_left() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    reads: list[float] = []

    def never(request: httpx.Request) -> httpx.Response:
        reads.append(read_timeout(request))
        clock.now += read_timeout(request)  # the read timeout passes
        raise httpx.ReadTimeout("timed out", request=request)

    with started(fake, clock) as handle:
        fake.script("GET", OP, *[never] * 100)
        begin = clock.now
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=3)
    assert clock.now - begin <= 3 + DEADLINE_GRACE
    assert reads[0] <= 3 + DEADLINE_GRACE  # not 60 s plus the long-poll
    assert isinstance(info.value.last_error, APITimeoutError)


def test_refused_connections_are_retried_until_the_deadline_then_named() -> None:
    fake, clock = FakeWeaver(), FakeClock()

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with started(fake, clock) as handle:
        fake.script("GET", OP, *[refused] * 1000)
        begin = clock.now
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=30)
    assert 30 <= clock.now - begin <= 30 + DEADLINE_GRACE
    assert isinstance(info.value.last_error, APIConnectionError)
    assert describe_failure(info.value.last_error) == "connection refused"
    assert "Connection refused" in str(info.value)
    assert 3 < len(fake.sent("GET", OP)) < 60  # backed off, no busy loop


def test_an_outage_is_reported_once_and_again_when_it_ends() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 4

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with started(fake, clock) as handle:
        fake.script("GET", OP, *[refused] * 5)
        changes = list(handle.watch(timeout=600))
    assert [(c.status, c.poll_error, c.recovered) for c in changes] == [
        (OperationStatus.PENDING, None, False),
        (OperationStatus.PENDING, "connection refused", False),
        (OperationStatus.PENDING, None, True),
        (OperationStatus.DONE, None, False),
    ]


def test_on_progress_and_watch_see_the_same_changes() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 2
    heard: list[OperationProgress] = []
    with started(fake, clock, on_progress=heard.append) as handle:
        fake.script("GET", OP, unavailable(None))
        watched = list(handle.watch())
    # The callback heard the first state when the handle was made, then each change.
    assert heard[1:] == watched[1:]
    assert watched[0] == handle.progress.__class__(
        operation_id="op-1",
        status=OperationStatus.PENDING,
        pending_info=watched[0].pending_info,
    )


def test_a_long_poll_that_holds_is_cut_at_the_deadline() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 10**9

    def held(request: httpx.Request) -> httpx.Response:
        # The server holds for the full wait, or until the client gives up.
        clock.now += min(float(request.url.params["wait"]), read_timeout(request))
        return json_reply(200, {"id": "op-1", "status": "pending"})

    with started(fake, clock, poll=PollPolicy(PollSettings(long_poll=60), clock=clock)) as handle:
        fake.script("GET", OP, *[held] * 100)
        begin = clock.now
        with pytest.raises(OperationTimeoutError):
            handle.result(timeout=7)
    assert clock.now - begin <= 7 + DEADLINE_GRACE


LIST = "/api/v1/models/m-1/checkpoints"


def lost_save_reply(fake: FakeWeaver) -> None:
    """A save whose first reply was a 503 after the server acted: the retry meets its own
    checkpoint (409 with a ``Date``), still pending, so the handle watches the list."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    mine = checkpoint_json("m-1", "a")
    mine.update(status="pending", created_at=now.isoformat())
    fake.checkpoints["m-1"].append(mine)
    exists = error_json("checkpoint_exists", "checkpoint a exists")
    fake.script(
        "POST",
        LIST,
        unavailable(None),
        json_reply(409, exists, {"Date": email.utils.format_datetime(now, usegmt=True)}),
    )


def test_a_recovered_save_keeps_the_wait_deadline() -> None:
    # Its polls are list calls: the wait's budget must bound them as it bounds a GET of an
    # operation, not the transport's own retries (a Retry-After of 20 s was waited out).
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        lost_save_reply(fake)
        handle = svc.create_training_client("weaver-tiny").save_state("a", wait=False)
        assert handle.id == "weaver://m-1/checkpoints/a"
        fake.script("GET", LIST, *[unavailable("20")] * 10)
        begin = clock.now
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=5)
    assert clock.now - begin <= 5 + DEADLINE_GRACE
    assert getattr(info.value.last_error, "retry_after", None) == 20.0


def _slow_pages(clock: FakeClock, mine: dict[str, Any]) -> list[Any]:
    """The model's checkpoint list in two pages of 2 s each, ``mine`` on the second; a
    page given less than 2 s to be read times out."""

    def slow(body: dict[str, Any]) -> Any:
        def reply(request: httpx.Request) -> httpx.Response:
            if read_timeout(request) < 2:
                clock.now += read_timeout(request)
                raise httpx.ReadTimeout("timed out", request=request)
            clock.now += 2
            return json_reply(200, body)

        return reply

    other = checkpoint_json("m-1", "other")
    return [slow({"items": [other], "next_cursor": "p2"}), slow({"items": [mine]})]


def test_a_recovered_saves_pages_share_the_wait_deadline() -> None:
    # The audit: each page of the list a recovered save watches got the whole time left,
    # so two pages of 2 s each overran a 3 s wait by a second.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        lost_save_reply(fake)
        handle = svc.create_training_client("weaver-tiny").save_state("a", wait=False)
        fake.script("GET", LIST, *_slow_pages(clock, fake.checkpoints["m-1"][-1]) * 10)
        begin = clock.now
        with pytest.raises(OperationTimeoutError):
            handle.result(timeout=3)
    assert clock.now - begin <= 3 + DEADLINE_GRACE + 1e-9


def test_a_save_that_recovers_its_checkpoint_keeps_its_call_timeout() -> None:
    # with_options(timeout=3): the save's 409 and each page of the list that recovers its
    # checkpoint got 3 s of their own, so the call took 4 s.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny").with_options(timeout=3)
        lost_save_reply(fake)
        fake.script("GET", LIST, *_slow_pages(clock, fake.checkpoints["m-1"][-1]) * 10)
        begin = clock.now
        with pytest.raises(APITimeoutError):
            trainer.save_state("a", wait=False)
    assert clock.now - begin <= 3 + 1e-9


async def test_an_async_save_that_recovers_its_checkpoint_keeps_its_call_timeout() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        trainer = (await svc.create_training_client("weaver-tiny")).with_options(timeout=3)
        lost_save_reply(fake)
        fake.script("GET", LIST, *_slow_pages(clock, fake.checkpoints["m-1"][-1]) * 10)
        begin = clock.now
        with pytest.raises(APITimeoutError):
            await trainer.save_state("a", wait=False)
    assert clock.now - begin <= 3 + 1e-9


def test_an_export_of_a_checkpoint_it_looks_up_keeps_its_call_timeout() -> None:
    # Its path's checkpoint is found in the model's list, whose pages had 3 s each.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny").with_options(timeout=3)
        mine = checkpoint_json("m-1", "a")
        fake.script("GET", LIST, *_slow_pages(clock, mine) * 10)
        begin = clock.now
        with pytest.raises(APITimeoutError):
            trainer.export_weights("weaver://m-1/checkpoints/a", wait=False)
    assert clock.now - begin <= 3 + 1e-9


# Calls that find a checkpoint by its path in its model's list, before acting on it or
# (a TTL change, whose reply carries no checkpoint) after.
LOOKED_UP: dict[str, Callable[[Any, Any], Any]] = {
    "delete_checkpoint": lambda svc, t: t.delete_checkpoint("weaver://m-1/checkpoints/a"),
    "set_checkpoint_ttl": lambda svc, t: t.set_checkpoint_ttl("weaver://m-1/checkpoints/a", 60),
    "list_artifacts": lambda svc, t: svc.list_artifacts("weaver://m-1/checkpoints/a"),
}


@pytest.mark.parametrize("call", LOOKED_UP)
def test_a_call_that_looks_its_checkpoint_up_keeps_its_call_timeout(call: str) -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        mine = checkpoint_json("m-1", "a")
        fake.checkpoints["m-1"].append(mine)
        artifacts = f"/api/v1/checkpoints/{mine['id']}/artifacts"
        fake.script("GET", artifacts, json_reply(200, {"items": []}))
        fake.script("PATCH", f"{LIST}/ttl", httpx.Response(204))
        fake.script("GET", LIST, *_slow_pages(clock, mine) * 10)
        begin = clock.now
        with pytest.raises(APITimeoutError):
            LOOKED_UP[call](svc.with_options(timeout=3), trainer.with_options(timeout=3))
    assert clock.now - begin <= 3 + 1e-9


def test_a_recovered_saves_timeout_says_how_to_look_at_it_again() -> None:
    # Its id is the checkpoint's path, which service.operation() refuses.
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        lost_save_reply(fake)
        trainer = svc.create_training_client("weaver-tiny")
        handle = trainer.save_state("a", wait=False)
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=5)
        assert "service.operation(" not in str(info.value)
        assert "get_checkpoint('weaver://m-1/checkpoints/a')" in str(info.value)
        assert trainer.get_checkpoint(info.value.operation_id).name == "a"


async def test_an_async_recovered_save_keeps_the_wait_deadline() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        lost_save_reply(fake)
        trainer = await svc.create_training_client("weaver-tiny")
        handle = await trainer.save_state("a", wait=False)
        fake.script("GET", LIST, *[unavailable("20")] * 10)
        begin = clock.now
        with pytest.raises(OperationTimeoutError):
            await handle.result(timeout=5)
    assert clock.now - begin <= 5 + DEADLINE_GRACE


@pytest.mark.parametrize("timeout", [-1, float("nan"), "5", True])
def test_a_bad_wait_timeout_is_an_input_error_before_any_request(timeout: Any) -> None:
    fake, clock = FakeWeaver(), FakeClock()
    with started(fake, clock) as handle:
        with pytest.raises(InvalidArgumentError, match="timeout must be"):
            handle.result(timeout=timeout)
        with pytest.raises(InvalidArgumentError, match="timeout must be"):
            next(iter(handle.watch(timeout=timeout)))
    assert fake.sent("GET", OP) == []


# -- single calls: with_options -----------------------------------------------------------


def test_with_options_bounds_a_single_call_retries_included() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        svc.create_training_client("weaver-tiny").save_state("a", wait=False)
        fake.requests.clear()
        fake.script("GET", OP, *[unavailable("1")] * 50)
        quick = svc.with_options(timeout=3.5)
        begin = clock.now
        with pytest.raises(InternalServerError) as info:
            quick.operation("op-1")
        assert clock.now - begin <= 3.5
        assert getattr(info.value, "status_code", None) == 503
        # At 0, 1, 2 and 3 s, unless the jittered backoff (taken when longer than the
        # Retry-After) pushed the last past the deadline.
        assert len(fake.sent("GET", OP)) in (3, 4)
        # max_retries=0: one attempt; the original client keeps its own settings.
        fake.requests.clear()
        with pytest.raises(InternalServerError):
            svc.with_options(max_retries=0).operation("op-1")
        assert len(fake.sent("GET", OP)) == 1


def test_with_options_caps_each_attempts_timeouts() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    poll = PollPolicy(PollSettings(), clock=clock)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        svc.with_options(timeout=2.0).training_client("m-1")
        svc.training_client("m-1")
    capped, default = fake.sent("GET", "/api/v1/models/m-1")
    assert read_timeout(capped) == pytest.approx(2.0)
    assert read_timeout(default) == pytest.approx(60.0)


def test_with_options_bounds_the_session_a_create_opens() -> None:
    # The session is opened by the first create; its request went out with the original
    # client's timeouts (60 s to read, 5 attempts), so a create under with_options(timeout=2)
    # against a server that never answers took minutes instead of 2 s.
    fake, clock = FakeWeaver(), FakeClock()
    with service(fake, poll=PollPolicy(clock=clock), sleep=clock.sleep) as svc:
        svc.with_options(timeout=2.0).create_training_client("weaver-tiny")
    (session,) = fake.sent("POST", "/api/v1/sessions")
    (create,) = fake.sent("POST", "/api/v1/sessions/s-1/models")
    assert read_timeout(session) <= 2.0
    assert read_timeout(create) <= 2.0


async def test_with_options_bounds_the_session_an_async_create_opens() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    async with async_service(fake, poll=PollPolicy(clock=clock), sleep=clock.asleep) as svc:
        await svc.with_options(timeout=2.0).create_training_client("weaver-tiny")
    (session,) = fake.sent("POST", "/api/v1/sessions")
    assert read_timeout(session) <= 2.0


def test_with_options_copies_share_connections_session_and_counters() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    with service(fake, poll=PollPolicy(clock=clock), sleep=clock.sleep) as svc:
        quick = svc.with_options(timeout=5, max_retries=1)
        assert quick._io.generated is svc._io.generated  # one connection pool
        trainer = quick.create_training_client("weaver-tiny")
        assert svc.session_id == quick.session_id == "s-1"
        fast_trainer = trainer.with_options(timeout=1)
        trainer.optim_step()
        fast_trainer.optim_step()
        quick.close()  # closes nothing: the original owns the connections
        svc.training_client("m-1")
    seq_ids = [
        fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST", None) if "optim" in r.url.path
    ]
    assert seq_ids == [1, 2]  # one training-step counter for the copies


async def test_aclose_of_an_async_with_options_copy_closes_nothing() -> None:
    # ServiceClient.close: "A with_options() copy closes nothing: its original owns the
    # connections"; AsyncServiceClient.aclose says the same ("See ServiceClient.close").
    fake = FakeWeaver()
    async with async_service(fake, heartbeat_interval=7.0) as svc:
        parked = asyncio.Event()

        async def wait(_seconds: float) -> None:
            parked.set()
            await asyncio.Event().wait()  # until the original's close cancels the task

        svc._wait_beat = wait
        quick = svc.with_options(timeout=5, max_retries=1)
        trainer = await quick.create_training_client("weaver-tiny")
        await asyncio.wait_for(parked.wait(), timeout=10)
        heartbeat = svc._heartbeat
        await quick.aclose()
        assert heartbeat is not None
        assert not heartbeat.done()  # the session still beats
        assert fake.terminated == []  # the model the copy created goes on
        await trainer.optim_step()  # the connections, the session, the model: all open
        await svc.training_client("m-1")
        async with quick:  # the copy itself is not closed either
            await quick.get_model("m-1")
    assert fake.terminated == ["m-1"]  # the original's close terminates it, once
    assert heartbeat.done()


@pytest.mark.parametrize(
    ("timeout", "max_retries"), [(0, None), (-1, None), ("5", None), (None, -1), (None, True)]
)
def test_with_options_refuses_bad_values(timeout: Any, max_retries: Any) -> None:
    svc = ServiceClient("http://weaver.test", "k", heartbeat_interval=0)
    with pytest.raises(InvalidArgumentError, match="must be"):
        svc.with_options(timeout=timeout, max_retries=max_retries)
    svc.close()


def test_retries_of_one_call_sleep_at_most_max_retry_wait() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    retry = RetryPolicy(RetrySettings(max_retries=10, max_retry_wait=30))
    with service(fake, poll=PollPolicy(clock=clock), sleep=clock.sleep, retry=retry) as svc:
        fake.script("GET", "/api/v1/models/m-1", *[unavailable("20")] * 20)
        with pytest.raises(InternalServerError):
            svc.training_client("m-1")
    assert clock.sleeps == [20.0]  # a second 20 s sleep would pass the 30 s budget
    assert len(fake.sent("GET")) == 2


def test_by_default_retries_of_one_call_sleep_at_most_30_seconds() -> None:
    # The README: retries add "never more than `RetrySettings.max_retry_wait` (30 s) in all".
    fake, clock = FakeWeaver(), FakeClock()
    with service(fake, poll=PollPolicy(clock=clock), sleep=clock.sleep) as svc:
        fake.script("GET", "/api/v1/models/m-1", *[unavailable("25")] * 20)
        with pytest.raises(InternalServerError):
            svc.training_client("m-1")
    assert clock.sleeps == [25.0]  # a second 25 s sleep would pass the 30 s budget


@pytest.mark.parametrize("retry_after", ["30", "10"], ids=["whole-budget", "budget-filled"])
def test_a_retry_after_that_fills_max_retry_wait_exactly_is_waited_out(retry_after: str) -> None:
    # The README: "never more than `max_retry_wait` (30 s) in all; a `Retry-After` beyond
    # that is not waited out". One of 30 s, the default budget, is not beyond it, yet the
    # reply surfaced at once; so did the third of three 10 s ones.
    fake, clock = FakeWeaver(), FakeClock()
    with service(fake, poll=PollPolicy(clock=clock), sleep=clock.sleep) as svc:
        fake.script(
            "GET", "/api/v1/models/m-1", *[unavailable(retry_after)] * (30 // int(retry_after))
        )
        svc.training_client("m-1")
    assert sum(clock.sleeps) == 30.0
    assert len(fake.sent("GET")) == 30 // int(retry_after) + 1


def test_a_retry_after_that_reaches_the_call_s_deadline_is_not_waited_out() -> None:
    # Unlike the sleep budget, a deadline leaves no time for an attempt after a sleep
    # that reaches it.
    fake, clock = FakeWeaver(), FakeClock()
    with service(fake, poll=PollPolicy(clock=clock), sleep=clock.sleep) as svc:
        fake.script("GET", "/api/v1/models/m-1", unavailable("10"))
        with pytest.raises(InternalServerError):
            svc.with_options(timeout=10).training_client("m-1")
    assert clock.sleeps == []


# -- one source of retry rules ------------------------------------------------------------


@pytest.mark.parametrize("status", range(400, 600))
def test_the_error_mapping_the_transport_and_the_poller_agree(status: int) -> None:
    expected = status in {408, 429, 502, 503, 504}
    assert response_is_retryable(status, replayable=True) is expected
    request = httpx.Request("GET", "http://weaver.test/api/v1/operations/op-1")
    reply = httpx.Response(status, text="<html>proxy</html>", request=request)
    error = error_from_response("get_operation", reply)
    assert error.retryable is expected
    assert (RetryPolicy(rng=lambda: 0.5).retry_delay(request, reply, 0) is not None) is expected
    poller = PollPolicy(rng=lambda: 0.5).start(timeout=60)
    poller.next_step()
    # A poll, a GET of an operation that may run on, also repeats any other 5xx (a few in
    # a row: ``_retry.poll_is_repeatable``), as the official SDK does.
    assert poller.on_failure(error) is (expected or status >= 500)


def test_a_quick_answer_with_a_new_revision_asks_again_at_once() -> None:
    clock = FakeClock()
    poller = PollPolicy(PollSettings(long_poll=20), clock=clock).start(timeout=60)
    poller.next_step()
    clock.now += 0.01
    poller.on_reply(terminal=False, changed=True)
    # Quick because something changed: no verdict on long-poll yet, and no sleep.
    verdicts = [poller.long_poll_supported]
    assert type(poller.next_step()).__name__ == "Poll"
    clock.now += 0.01
    poller.on_reply(terminal=False)  # quick and unchanged: a server without long-poll
    verdicts.append(poller.long_poll_supported)
    assert verdicts == [None, False]
    assert type(poller.next_step()).__name__ == "Sleep"
    # Once known, a change answered at once no longer skips the sleep.
    poller.next_step()
    poller.on_reply(terminal=False, changed=True)
    assert type(poller.next_step()).__name__ == "Sleep"


def test_a_server_that_changes_at_every_look_is_not_polled_in_a_busy_loop() -> None:
    # Every quick change was asked again at once: 700 polls a second, for as long as
    # the wait, from a server that answers at once with a new revision each time.
    clock = FakeClock()
    poller = PollPolicy(PollSettings(long_poll=20), clock=clock).start(timeout=30)
    polls = 0
    while not isinstance(step := poller.next_step(), GiveUp):
        if isinstance(step, Sleep):
            clock.now += step.seconds
            continue
        polls += 1
        clock.now += 0.001
        poller.on_reply(terminal=False, changed=True)
    assert polls < 40, polls  # not 30 s / 1 ms
    # A change answered at once after a held poll is still asked again at once.
    poller = PollPolicy(PollSettings(long_poll=20), clock=clock).start(timeout=60)
    for held in (True, False, True, False):
        assert type(poller.next_step()).__name__ == "Poll"
        clock.now += 5 if held else 0.001
        poller.on_reply(terminal=False, changed=True)


@pytest.mark.parametrize("how", ["watch", "on_progress"])
def test_a_watcher_tells_the_server_the_revision_it_saw(how: str) -> None:
    fake, clock = FakeWeaver(), FakeClock()
    revised = {"id": "op-1", "status": "running", "revision": "r-2"}
    with started(fake, clock) as handle:
        fake.script("GET", OP, json_reply(200, revised))
        if how == "watch":
            list(handle.watch(timeout=60))
        else:
            handle.on_progress = lambda _change: None
            handle.result(timeout=60)
    first, second = fake.sent("GET", OP)
    assert "seen_revision" not in first.url.params  # nothing seen with a revision yet
    assert second.url.params["seen_revision"] == "r-2"


def test_a_wait_for_the_end_alone_does_not_ask_for_each_change() -> None:
    # Issue 7: at most 2 GETs for an operation of up to 25 s. With `seen_revision` the
    # server answers `pending` -> `running` at once, which only a watcher needs.
    fake, clock = FakeWeaver(), FakeClock()
    revised = {"id": "op-1", "status": "running", "revision": "r-2"}
    with started(fake, clock) as handle:
        fake.script("GET", OP, json_reply(200, revised))
        handle.result(timeout=60)
    assert [r.url.params.get("seen_revision") for r in fake.sent("GET", OP)] == [None, None]


async def test_an_async_wait_for_the_end_alone_does_not_ask_for_each_change() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    revised = {"id": "op-1", "status": "running", "revision": "r-2"}
    async with async_service(fake, poll=PollPolicy(PollSettings(), clock=clock)) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        handle = await trainer.save_state("a", wait=False)
        fake.requests.clear()
        fake.script("GET", OP, json_reply(200, revised))
        await handle.result(timeout=60)
        assert [r.url.params.get("seen_revision") for r in fake.sent("GET", OP)] == [None, None]
        fake.requests.clear()
        handle = await trainer.save_state("b", wait=False)
        fake.script("GET", "/api/v1/operations/op-2", json_reply(200, {**revised, "id": "op-2"}))
        fake.requests.clear()
        async for _ in handle.watch(timeout=60):
            pass
        sent = [r.url.params.get("seen_revision") for r in fake.sent("GET")]
        assert sent == [None, "r-2"]


# -- visibility ---------------------------------------------------------------------------


def test_every_retry_is_a_warning_record(caplog: pytest.LogCaptureFixture) -> None:
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 1
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake, poll=poll, sleep=clock.sleep) as svc,
    ):
        fake.script("GET", "/api/v1/models/m-1", unavailable("1"))
        trainer = svc.training_client("m-1")  # a retry of the transport
        handle = trainer.save_state("a", wait=False)
        fake.script("GET", OP, unavailable("1"))
        handle.result(timeout=60)  # a retry of the poller
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # One wording for both: the status and the Error body's code.
    assert warnings == [
        "GET /api/v1/models/m-1: HTTP 503 (unavailable); retrying in 1.0 s (retry 1)",
        "poll of operation op-1: HTTP 503 (unavailable); retrying in 1.0 s",
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"error": "unavailable", "message": "overloaded"},  # no `retryable`
        {"error": "unavailable", "message": "overloaded", "retryable": True, "details": "x"},
    ],
    ids=["no-retryable", "details-not-an-object"],
)
def test_a_retry_and_a_poll_word_a_body_no_error_reads_alike(
    caplog: pytest.LogCaptureFixture, body: dict[str, Any]
) -> None:
    # The spec's Error body requires `retryable`; a reply without it is no Error for the
    # poll's APIError (no code): the retry named a code all the same.
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 1
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    reply = json_reply(503, body, {"Retry-After": "1"})
    with (
        caplog.at_level(logging.WARNING, logger="weaver_facade"),
        service(fake, poll=poll, sleep=clock.sleep) as svc,
    ):
        fake.script("GET", "/api/v1/models/m-1", reply)
        handle = svc.training_client("m-1").save_state("a", wait=False)
        fake.script("GET", OP, json_reply(503, body, {"Retry-After": "1"}))
        handle.result(timeout=60)
    said = [
        r.getMessage().split(": ", 1)[1].split(";")[0]
        for r in caplog.records
        if r.levelno == logging.WARNING
    ]
    assert len(said) == 2, said
    assert said[0] == said[1]


def test_an_unknown_weaver_log_value_is_reported(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_logs, "_bad_levels_reported", set())
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        configure_logging("verbose")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.ERROR,
            "WEAVER_LOG='verbose' is not a log level; use one of debug, info, warning, error",
        )
    ]
    assert logging.getLogger("weaver_facade").level == logging.NOTSET


def test_an_unknown_weaver_log_value_is_reported_once_per_process(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each client reported it again: a script opening a client per job repeated the line.
    monkeypatch.setattr(_logs, "_bad_levels_reported", set())
    monkeypatch.setenv("WEAVER_LOG", "verbose")
    with caplog.at_level(logging.WARNING, logger="weaver_facade"):
        for _ in range(3):
            with service(FakeWeaver()):
                pass
        monkeypatch.setenv("WEAVER_LOG", "loud")
        with service(FakeWeaver()):
            pass
    assert [r.getMessage().split(" is ")[0] for r in caplog.records] == [
        "WEAVER_LOG='verbose'",
        "WEAVER_LOG='loud'",
    ]


def test_weaver_log_shows_each_record_once_beside_a_logging_configuration(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # WEAVER_LOG=debug in a script that called logging.basicConfig() printed each line twice.
    logger = logging.getLogger("weaver_facade")
    # basicConfig's handler: on stderr (capsys's, here), as WEAVER_LOG's.
    monkeypatch.setattr(logging.root, "handlers", [logging.StreamHandler()])
    monkeypatch.setattr(logger, "handlers", [])
    try:
        configure_logging("debug")
        logger.debug("first")
        monkeypatch.setattr(logging.root, "handlers", [])  # no configuration: stderr shows it
        logger.debug("second")
    finally:
        logger.setLevel(logging.NOTSET)
    shown = capsys.readouterr().err
    assert [line.split()[-1] for line in shown.splitlines()] == ["first", "second"]


@pytest.mark.parametrize(
    "root",
    [
        lambda: logging.FileHandler(os.devnull, delay=True),  # basicConfig(filename=...)
        logging.NullHandler,
        lambda: logging.StreamHandler(io.StringIO()),  # pytest's capture, say
        lambda: _filtered(logging.StreamHandler(), logging.Filter("myapp")),
        lambda: _leveled(logging.StreamHandler(), logging.ERROR),
    ],
    ids=["file", "null", "other-stream", "filtered-out", "higher-level"],
)
def test_weaver_log_still_shows_on_stderr_what_the_root_does_not_print_there(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    root: Callable[[], logging.Handler],
) -> None:
    # A root handler that writes to a file, or elsewhere than stderr, or drops the record,
    # printed nothing there: WEAVER_LOG's own handler was all a user could see.
    logger = logging.getLogger("weaver_facade")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logging.root, "handlers", [])
    try:
        configure_logging("debug")
        monkeypatch.setattr(logging.root, "handlers", [root()])
        logger.debug("shown")
    finally:
        logger.setLevel(logging.NOTSET)
    assert [line.split()[-1] for line in capsys.readouterr().err.splitlines()] == ["shown"]


@pytest.mark.parametrize(
    ("stdout", "stderr", "expected"),
    [
        # basicConfig(stream=sys.stdout) in a terminal, which stdout and stderr both are:
        # each line appeared twice there.
        ("terminal", "terminal", {"terminal": 1}),
        ("terminal", "other terminal", {"terminal": 1, "other terminal": 1}),
        # stdout redirected to a file: stderr, the terminal, still shows it.
        ("file", "terminal", {"file": 1, "terminal": 1}),
        ("file", "file", {"file": 1}),  # `> log 2>&1`
    ],
)
def test_weaver_log_shows_each_record_once_where_the_root_prints_to_stdout(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    stdout: str,
    stderr: str,
    expected: dict[str, int],
) -> None:
    logger = logging.getLogger("weaver_facade")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logging.root, "handlers", [])
    with ExitStack() as stack:
        places: dict[str, tuple[int, Callable[[], str]]] = {}  # an fd to open it by, its text
        for place in {stdout, stderr}:
            if place == "file":
                path = tmp_path / "log"
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                places[place] = (fd, path.read_text)
            else:
                master, fd = pty.openpty()
                places[place] = (fd, functools.partial(_terminal_text, master))
                stack.callback(os.close, master)
            stack.callback(os.close, fd)

        def stream(place: str) -> io.TextIOWrapper:  # an open file of its own, as each is
            return stack.enter_context(open(os.dup(places[place][0]), "w"))

        monkeypatch.setattr(sys, "stderr", stream(stderr))
        try:
            configure_logging("debug")
            logging.root.addHandler(logging.StreamHandler(stream(stdout)))
            logger.debug("shown")
        finally:
            logger.setLevel(logging.NOTSET)
        seen = {place: text().count("shown") for place, (_, text) in places.items()}
    assert seen == expected


def test_weaver_log_does_not_take_two_streams_without_file_ids_for_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Windows' fstat gives a pipe or a console no file id (st_dev and st_ino are 0), so
    # stdout piped elsewhere and stderr, the console, looked the same file: the stderr
    # handler stood aside and the records reached the pipe alone.
    real_fstat = os.fstat

    def windows_fstat(fd: int) -> os.stat_result:
        found = real_fstat(fd)
        if stat.S_ISREG(found.st_mode):
            return found
        return os.stat_result((found.st_mode, 0, 0, *found[3:10]))

    logger = logging.getLogger("weaver_facade")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logging.root, "handlers", [])
    with ExitStack() as stack:
        pipes = {}
        for place in ("stdout", "stderr"):
            read, write = os.pipe()
            stack.callback(os.close, read)
            pipes[place] = (read, stack.enter_context(open(write, "w")))
        monkeypatch.setattr(os, "fstat", windows_fstat)
        monkeypatch.setattr(sys, "stderr", pipes["stderr"][1])
        try:
            configure_logging("debug")
            logging.root.addHandler(logging.StreamHandler(pipes["stdout"][1]))
            logger.debug("shown")
        finally:
            logger.setLevel(logging.NOTSET)
        monkeypatch.undo()
        for _, stream in pipes.values():
            stream.close()  # an end to read to
        seen = {
            place: os.read(read, 4096).decode().count("shown") for place, (read, _) in pipes.items()
        }
    assert seen == {"stdout": 1, "stderr": 1}


def _terminal_text(master: int) -> str:
    """What was written to a terminal so far, read from its master side."""
    text = b""
    while select.select([master], [], [], 0.2)[0]:
        text += os.read(master, 4096)
    return text.decode()


def _filtered(handler: logging.Handler, kept: logging.Filter) -> logging.Handler:
    handler.addFilter(kept)
    return handler


def _leveled(handler: logging.Handler, level: int) -> logging.Handler:
    handler.setLevel(level)
    return handler


async def test_the_async_handle_keeps_the_same_deadline_and_reports_outages() -> None:
    fake, clock = FakeWeaver(), FakeClock()
    fake.pending_polls = 10**9
    poll = PollPolicy(PollSettings(), clock=clock, rng=lambda: 0.5)
    svc = async_service(fake, poll=poll, sleep=clock.asleep)
    async with svc:
        trainer = await svc.with_options(timeout=10).create_training_client("weaver-tiny")
        handle = await trainer.save_state("a", wait=False)
        fake.script("GET", OP, unavailable(None), unavailable("30"))
        begin = clock.now
        changes: list[OperationProgress] = []

        async def follow() -> None:
            async for change in handle.watch(timeout=5):
                changes.append(change)

        with pytest.raises(OperationTimeoutError) as info:
            await follow()
    assert clock.now - begin <= 5 + DEADLINE_GRACE
    assert [c.poll_error for c in changes] == [None, "HTTP 503 (unavailable)"]
    assert getattr(info.value.last_error, "retry_after", None) == 30.0


def test_a_sleep_that_overruns_the_deadline_still_names_the_last_failure() -> None:
    # On a loaded machine a sleep can end past the deadline; the timeout still says why.
    fake, clock = FakeWeaver(), FakeClock()

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    def late_sleep(seconds: float) -> None:
        clock.sleep(seconds + 5)  # every sleep overruns

    with started(fake, clock, sleep=late_sleep) as handle:
        fake.script("GET", OP, *[refused] * 100)
        with pytest.raises(OperationTimeoutError) as info:
            handle.result(timeout=3)
    assert isinstance(info.value.last_error, APIConnectionError)
    assert info.value.__cause__ is info.value.last_error


ARTIFACT = "6f1c5d2e-6a55-4d43-9a6e-3f0e8f1f1a01"
DESCRIPTOR = f"/api/v1/artifacts/{ARTIFACT}/download"


def never_answered(clock: FakeClock, reads: list[float]) -> Callable[[httpx.Request], Any]:
    """A request the API never answers: its read timeout passes on ``clock``."""

    def never(request: httpx.Request) -> httpx.Response:
        reads.append(read_timeout(request))
        clock.now += read_timeout(request)
        raise httpx.ReadTimeout("timed out", request=request)

    return never


@pytest.mark.parametrize("given", ["timeout", "with_options"])
def test_a_download_timeout_bounds_its_descriptor_request(tmp_path: Any, given: str) -> None:
    # download_weights(timeout=3) against an API that never answers the descriptor (or
    # a refresh of it): every attempt's read timeout is the time left, not 60 s, and
    # the deadline's end is the download's timeout (it was APITimeoutError). A copy's
    # `with_options(timeout=3)` bounds each API request of a download alike, and is the
    # request's timeout: a download has its own deadline, as a wait has (that it leaves
    # the transfers alone is test_download_faults').
    fake, clock, reads = FakeWeaver(), FakeClock(), list[float]()
    poll = PollPolicy(PollSettings(), clock=clock)
    fake.script("GET", DESCRIPTOR, *[never_answered(clock, reads)] * 100)
    begin = clock.now
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        if given == "timeout":
            with pytest.raises(DownloadTimeoutError):
                svc.download_weights(ARTIFACT, tmp_path, timeout=3)
        else:
            with pytest.raises(APITimeoutError):
                svc.with_options(timeout=3).download_weights(ARTIFACT, tmp_path)
    assert clock.now - begin <= 3 + DEADLINE_GRACE
    assert reads
    assert max(reads) <= 3


async def test_an_async_download_timeout_bounds_its_descriptor_request(tmp_path: Any) -> None:
    fake, clock, reads = FakeWeaver(), FakeClock(), list[float]()
    poll = PollPolicy(PollSettings(), clock=clock)
    fake.script("GET", DESCRIPTOR, *[never_answered(clock, reads)] * 100)
    async with async_service(fake, poll=poll, sleep=clock.asleep) as svc:
        with pytest.raises(DownloadTimeoutError) as ended:
            await svc.download_weights(ARTIFACT, tmp_path, timeout=3)
    assert max(reads) <= 3
    # The request is named once (its error begins with it), not twice.
    said = str(ended.value)
    assert said.startswith("the download's deadline passed while asking the API: ")
    assert said.count("get_artifact_download") == 1, said


def test_close_terminates_within_one_read_timeout_by_default() -> None:
    # The audit: against a server that never answers, close() retried each terminate five
    # times the 60 s read timeout, about 5 minutes. The README: it ends within the read timeout.
    fake, clock = FakeWeaver(), FakeClock()

    def never(request: httpx.Request) -> httpx.Response:
        clock.now += read_timeout(request)
        raise httpx.ReadTimeout("timed out", request=request)

    poll = PollPolicy(PollSettings(), clock=clock)
    with service(fake, poll=poll, sleep=clock.sleep) as svc:
        svc.create_training_client("weaver-tiny")
        fake.script("POST", "/api/v1/models/m-1/terminate", *[never] * 100)
        begin = clock.now
    assert 60 - 0.1 < clock.now - begin <= 60 + DEADLINE_GRACE


def test_a_download_lookup_shares_one_deadline(tmp_path: Any) -> None:
    # A checkpoint's path takes two requests (its model's list, then its artifacts): the
    # second gets what the first left of timeout=10, not 10 again, and the end of the
    # deadline there is the download's timeout too.
    fake, clock, reads = FakeWeaver(), FakeClock(), list[float]()
    poll = PollPolicy(PollSettings(), clock=clock)
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "c"))
    checkpoint_id = fake.checkpoints["m-1"][0]["id"]

    def slow_list(request: httpx.Request) -> httpx.Response:
        reads.append(read_timeout(request))
        clock.now += 7  # answered, after 7 of the 10 seconds
        return fake.route(request)

    fake.script("GET", LIST, slow_list)
    artifacts = f"/api/v1/checkpoints/{checkpoint_id}/artifacts"
    fake.script("GET", artifacts, *[never_answered(clock, reads)] * 100)
    begin = clock.now
    with service(fake, poll=poll, sleep=clock.sleep) as svc, pytest.raises(DownloadTimeoutError):
        svc.download_weights("weaver://m-1/checkpoints/c", tmp_path, timeout=10)
    assert clock.now - begin <= 10 + DEADLINE_GRACE
    assert reads[0] <= 10
    assert max(reads[1:]) <= 3 + DEADLINE_GRACE


def test_a_refused_connection_reads_the_same_from_both_transports() -> None:
    # The async transport says only "All connection attempts failed"; outage lines and
    # poll errors of async clients read "cannot connect (...)" where sync ones said
    # "connection refused".
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(httpx.ConnectError) as sync_error, httpx.Client() as client:
        client.get(url)

    async def fetch() -> None:
        async with httpx.AsyncClient() as client:
            await client.get(url)

    with pytest.raises(httpx.ConnectError) as async_error:
        asyncio.run(fetch())
    assert describe_failure(sync_error.value) == "connection refused"
    assert describe_failure(async_error.value) == "connection refused"


@pytest.mark.parametrize("refused", [False, True], ids=["none-refused", "one-refused"])
def test_a_connects_group_that_leads_back_to_itself_is_described(refused: bool) -> None:
    # A member of the group of a name's connect errors whose cause is the group again (a
    # cycle, which ``causes`` allows for) sent the look for a refusal round it: a
    # RecursionError in place of the error's words, before the refused member was seen.
    unreachable = OSError(101, "Network is unreachable")
    members = [unreachable, ConnectionRefusedError(111, "Connect call failed")][: 1 + refused]
    group = ExceptionGroup("multiple connection attempts failed", members)
    unreachable.__cause__ = group
    error = httpx.ConnectError("All connection attempts failed")
    error.__cause__ = OSError("All connection attempts failed")  # anyio's, from the group
    error.__cause__.__cause__ = group
    expected = (
        "connection refused" if refused else "cannot connect (All connection attempts failed)"
    )
    assert describe_failure(error) == expected


def test_a_timeout_is_described_alike_whatever_the_transport_said() -> None:
    # The async transport's ReadTimeout has no text: "get_model: ReadTimeout: ReadTimeout";
    # the sync one's says "timed out", so the two clients' messages differed.
    for said in ("", "timed out"):
        error = connection_error("get_model", httpx.ReadTimeout(said))
        assert str(error) == "get_model: ReadTimeout: no reply in time"
    error = connection_error("get_model", httpx.ConnectTimeout("timed out"))
    assert str(error) == "get_model: ConnectTimeout: connect timed out"


FORWARD_BACKWARD = "/api/v1/models/m-1/forward-backward-passes"
TERMINATE = "/api/v1/models/m-1/terminate"


def _one_datum() -> list[Any]:
    from weaver_facade import datum_from_tokens

    return [datum_from_tokens([1, 2, 3])]


def _model_posts(fake: FakeWeaver) -> list[str]:
    """The POSTs to model m-1 but the close's terminate."""
    paths = [r.url.path for r in fake.sent("POST")]
    return [p for p in paths if p.startswith("/api/v1/models/m-1/") and p != TERMINATE]


# What takes its turn behind a model's training step: a later step, and the calls that
# act on what the steps made (a save started after a step holds the weights after it).
QUEUED = {
    "forward_backward": lambda t: t.forward_backward(_one_datum(), wait=False),
    "save_state": lambda t: t.save_state("s", wait=False),
    "load_state": lambda t: t.load_state("weaver://m-1/checkpoints/s", wait=False),
    "load_state_with_optimizer": lambda t: t.load_state_with_optimizer(
        "weaver://m-1/checkpoints/s", wait=False
    ),
    "export_weights": lambda t: t.export_weights(wait=False),
}


@contextmanager
def _turn_held(fake: FakeWeaver) -> Iterator[Any]:
    """A training client of m-1 whose turn a first step holds, its request unanswered."""
    import threading

    reached, gate = threading.Event(), threading.Event()

    def held(request: httpx.Request) -> httpx.Response:
        reached.set()
        gate.wait(timeout=10)
        return fake.route(request)

    fake.script("POST", FORWARD_BACKWARD, held)
    with service(fake) as svc:
        trainer = svc.create_training_client("weaver-tiny")
        first = threading.Thread(target=lambda: trainer.forward_backward(_one_datum(), wait=False))
        first.start()
        assert reached.wait(timeout=10)
        try:
            yield trainer
        finally:
            gate.set()
            first.join(timeout=10)
        trainer.forward_backward(_one_datum(), wait=False)


@pytest.mark.parametrize("queued", QUEUED)
def test_a_call_waiting_for_its_turn_keeps_its_call_timeout(queued: str) -> None:
    # Steps of one model are sent one at a time. One queued behind a step whose request
    # the server held waited for the lock without its with_options(timeout=...): the
    # held request's whole read timeout (and its retries), not the call's deadline.
    fake = FakeWeaver()
    late = rf"^{queued}: .* still being sent after 0\.01 s"
    with _turn_held(fake) as trainer, pytest.raises(APITimeoutError, match=late):
        QUEUED[queued](trainer.with_options(timeout=0.01))
    assert _model_posts(fake) == [FORWARD_BACKWARD] * 2  # the refused call sent nothing
    seq_ids = [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST", FORWARD_BACKWARD)]
    assert seq_ids == [1, 2]  # the refused step sent nothing and took no seq_id


# Bad arguments, checked before the turn: their own error at once, not a timeout behind
# an earlier step that tells nothing of the argument.
REFUSED_FIRST: dict[str, tuple[Callable[[Any], Any], type[Exception]]] = {
    "forward_backward": (lambda t: t.forward_backward([]), InvalidDatumError),
    "optim_step": (lambda t: t.optim_step("fast"), InvalidArgumentError),
    "save_state": (lambda t: t.save_state("no spaces"), InvalidCheckpointName),
    "save_state ttl": (lambda t: t.save_state("s", ttl_seconds=-1), InvalidArgumentError),
    "export_weights": (lambda t: t.export_weights(merge_adapter="yes"), InvalidArgumentError),
}


@pytest.mark.parametrize("timeout", [float("inf"), 1e12])
def test_a_timeout_longer_than_a_thread_may_wait_is_no_error(timeout: float) -> None:
    # with_options takes it, but a lock waits at most threading.TIMEOUT_MAX: the session's
    # and the model's turn raised OverflowError before any request.
    fake = FakeWeaver()
    with service(fake) as svc:
        trainer = svc.with_options(timeout=timeout).create_training_client("weaver-tiny")
        trainer.forward_backward(_one_datum(), wait=False)
    assert _model_posts(fake) == [FORWARD_BACKWARD]


@pytest.mark.parametrize("bad", REFUSED_FIRST)
def test_a_bad_argument_is_refused_without_waiting_for_the_turn(bad: str) -> None:
    call, error = REFUSED_FIRST[bad]
    fake = FakeWeaver()
    with _turn_held(fake) as trainer, pytest.raises(error):
        call(trainer.with_options(timeout=0.01))
    assert _model_posts(fake) == [FORWARD_BACKWARD] * 2


def test_exporting_a_saved_checkpoint_does_not_wait_for_the_turn() -> None:
    # It exports what a checkpoint holds, which no step of the model changes.
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json()))
    with _turn_held(fake) as trainer:
        artifact = trainer.with_options(timeout=0.5).export_weights(CHECKPOINT)
        assert artifact.checkpoint_id == CHECKPOINT


@asynccontextmanager
async def _async_turn_held(fake: FakeWeaver) -> AsyncIterator[Any]:
    """``_turn_held`` for an async training client."""
    reached, gate = asyncio.Event(), asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        reached.set()
        await gate.wait()
        return fake.route(request)

    # httpx's MockTransport awaits a handler's coroutine on an AsyncClient.
    fake.script("POST", FORWARD_BACKWARD, held)  # type: ignore[arg-type]
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        first = asyncio.create_task(trainer.forward_backward(_one_datum(), wait=False))
        await reached.wait()
        try:
            async with asyncio.timeout(5):  # a call that waited for the turn: for ever
                yield trainer
        finally:
            gate.set()
            await first
        await trainer.forward_backward(_one_datum(), wait=False)


@pytest.mark.parametrize("queued", QUEUED)
async def test_an_async_call_waiting_for_its_turn_keeps_its_call_timeout(queued: str) -> None:
    fake = FakeWeaver()
    late = rf"^{queued}: .* still being sent after 0\.01 s"
    async with _async_turn_held(fake) as trainer:
        with pytest.raises(APITimeoutError, match=late):
            await QUEUED[queued](trainer.with_options(timeout=0.01))
    assert _model_posts(fake) == [FORWARD_BACKWARD] * 2
    seq_ids = [fake.body(r)["payload"]["seq_id"] for r in fake.sent("POST", FORWARD_BACKWARD)]
    assert seq_ids == [1, 2]


@pytest.mark.parametrize("bad", REFUSED_FIRST)
async def test_an_async_bad_argument_is_refused_without_waiting_for_the_turn(bad: str) -> None:
    call, error = REFUSED_FIRST[bad]
    fake = FakeWeaver()
    async with _async_turn_held(fake) as trainer:
        with pytest.raises(error):
            await call(trainer.with_options(timeout=0.01))
    assert _model_posts(fake) == [FORWARD_BACKWARD] * 2


async def test_an_async_export_of_a_saved_checkpoint_does_not_wait_for_the_turn() -> None:
    fake = FakeWeaver()
    fake.script("POST", EXPORT, json_reply(200, artifact_json()))
    async with _async_turn_held(fake) as trainer:
        artifact = await trainer.with_options(timeout=0.5).export_weights(CHECKPOINT)
        assert artifact.checkpoint_id == CHECKPOINT


# A first call whose reply makes its handle, and so tells on_progress (the POST's reply is
# `done`), before the call returns.
TOLD = {
    "forward_backward": lambda t: t.forward_backward(_one_datum(), wait=False),
    "load_state": lambda t: t.load_state("weaver://m-1/checkpoints/s", wait=False),
    "export_weights": lambda t: t.export_weights(wait=False),
}


def _told_first(fake: FakeWeaver, first: str) -> None:
    fake.done_at_once = True
    fake.checkpoints["m-1"].append(checkpoint_json("m-1", "s", "weight_and_optimizer"))
    if first == "export_weights":  # an identical export: 200 with the artifact itself
        fake.script("POST", "/api/v1/models/m-1/export-hf", json_reply(200, artifact_json()))


@pytest.mark.parametrize("first", TOLD)
def test_on_progress_may_call_the_model_it_is_told_of(first: str) -> None:
    # on_progress was told of a call's handle while the call still held the model's turn:
    # a callback that saved after each step (or load, or export) waited for a turn its own
    # caller held, until the call's timeout (for ever without one).
    fake = FakeWeaver()
    _told_first(fake, first)
    told: list[str] = []
    trainers: list[Any] = []

    def save_after(progress: OperationProgress) -> None:
        told.append(progress.operation_id)
        if len(told) == 1:  # the first call's end, not the save's own
            trainers[0].save_state("after", wait=False)

    with service(fake, on_progress=save_after) as svc:
        trainers.append(svc.create_training_client("weaver-tiny").with_options(timeout=1))
        TOLD[first](trainers[0])
    assert len(told) == 2  # the first call's end, then the save's
    assert _model_posts(fake)[-1] == "/api/v1/models/m-1/checkpoints"


@pytest.mark.parametrize("first", TOLD)
async def test_async_on_progress_is_told_once_the_turn_is_free(first: str) -> None:
    fake = FakeWeaver()
    _told_first(fake, first)
    free: list[bool] = []
    trainers: list[Any] = []

    def note(progress: OperationProgress) -> None:
        if progress.status is OperationStatus.DONE and not free:
            free.append(not trainers[0]._steps.lock.locked())

    async with async_service(fake, on_progress=note) as svc:
        trainers.append(await svc.create_training_client("weaver-tiny"))
        await TOLD[first](trainers[0])
    assert free == [True]


def test_a_download_s_hint_for_a_checkpoint_s_id_stops_at_the_deadline(tmp_path: Any) -> None:
    # A checkpoint's id given as an artifact's is told by a look at the checkpoint, then
    # at its artifacts: once the look used up timeout=3, the listing was sent all the same.
    fake, clock, reads = FakeWeaver(), FakeClock(), list[float]()
    poll = PollPolicy(PollSettings(), clock=clock)
    missing = json_reply(404, error_json("not_found", f"artifact {CHECKPOINT} not found"))
    fake.script("GET", f"/api/v1/artifacts/{CHECKPOINT}/download", missing)
    fake.script("GET", f"/api/v1/checkpoints/{CHECKPOINT}", never_answered(clock, reads))
    listing = f"/api/v1/checkpoints/{CHECKPOINT}/artifacts"
    fake.script("GET", listing, json_reply(200, {"items": [artifact_json()]}))
    with service(fake, poll=poll, sleep=clock.sleep) as svc, pytest.raises(NotFoundError):
        svc.download_weights(CHECKPOINT, tmp_path, timeout=3)
    assert reads == [3]
    assert fake.sent("GET", listing) == []


def test_a_wait_polls_again_after_up_to_ten_final_5xx_in_a_row() -> None:
    # The README: a wait's polls retry a 5xx the server calls final "up to 10 in a row
    # within the wait's deadline (any other reply between ... starts the count again)",
    # then the wait ends with its error.
    fake, clock = FakeWeaver(), FakeClock()
    final = json_reply(500, error_json("internal", "store hiccup", retryable=False))
    with started(fake, clock) as handle:
        fake.script("GET", OP, *[final] * 9, unavailable("0"), *[final] * 11)
        with pytest.raises(InternalServerError, match="store hiccup"):
            handle.result(timeout=3600)
    # Nine, a 503 between, then the first and ten more: the eleventh in a row ends it.
    assert len(fake.sent("GET", OP)) == 9 + 1 + 11
    assert clock.now < 3600
