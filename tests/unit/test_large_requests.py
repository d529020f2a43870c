"""A training step's large request: built and encoded off an async client's event loop,
sent byte for byte as httpx encodes it, and in call order."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fakeserver import BASE, FakeWeaver, async_service, service
from tests.support.loop_ticks import loop_ticks
from weaver_facade import Datum, datum_from_tokens
from weaver_facade import _calls as calls
from weaver_facade._calls import with_json_encoded
from weaver_facade._plans import Call

STEPS = "/api/v1/models/m-1/forward-backward-passes"


def batch(token: int, sequences: int = 64, length: int = 4096) -> list[Datum]:
    return [datum_from_tokens([token] * length) for _ in range(sequences)]


def first_token(payload: Any) -> object:
    return payload["forward_backward_input"]["data"][0]["model_input"]["chunks"][0]["tokens"][0]


def as_httpx_encodes(data: list[Datum], seq_id: int) -> httpx.Request:
    """The request of the step, its body encoded by httpx from the generated ``json``."""
    call = calls.forward_backward("m-1", seq_id=seq_id, data=data, loss_fn="cross_entropy")
    return httpx.Request("POST", BASE + STEPS, json=call.request["json"])


class Arrivals(FakeWeaver):
    """Notes when each step's request reached the server."""

    def __init__(self) -> None:
        super().__init__()
        self.done_at_once = True
        self.arrived: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == STEPS:
            self.arrived.append(time.monotonic())
        return super().__call__(request)


async def test_an_async_step_of_many_tokens_is_built_off_its_event_loop() -> None:
    # A forward-backward of 64 sequences of 4096 tokens: its request (the generated
    # models, their dicts, the JSON) was built on the event loop, which held every other
    # task for its whole length, about 0.2 s. A task ticking on the loop must see no gap,
    # until the request reaches the server, near that build's own time measured alone.
    data = batch(7)
    times = []
    for _ in range(2):
        started = time.monotonic()
        as_httpx_encodes(data, 1)
        times.append(time.monotonic() - started)
    alone = min(times)
    fake = Arrivals()
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        async with loop_ticks() as ticks:
            await trainer.forward_backward(data)
    [arrived] = fake.arrived
    gaps = [min(end, arrived) - start for start, end in ticks if start < arrived]
    assert gaps
    assert max(gaps) < alone / 2, (max(gaps), alone)


def test_a_large_step_s_body_is_what_httpx_encodes_of_it() -> None:
    # Encoded by the facade, not by httpx: the bytes and the media type must not change.
    data = [datum_from_tokens([i % 256 for i in range(700)], [0.5] * 699) for _ in range(3)]
    fake = FakeWeaver()
    fake.done_at_once = True
    with service(fake) as svc:
        svc.create_training_client("weaver-tiny").forward_backward(data)
    [sent] = fake.sent("POST", STEPS)
    expected = as_httpx_encodes(data, 1)
    assert sent.content == expected.content
    assert sent.headers["content-type"] == expected.headers["content-type"]
    assert sent.headers["content-length"] == expected.headers["content-length"]


async def test_concurrent_async_steps_large_and_small_go_out_in_call_order() -> None:
    # A large step's request is built in a thread, in the model's turn: a step called
    # after it, large or small (built at once), must still go out after it, numbered so.
    fake = FakeWeaver()
    fake.done_at_once = True
    batches = [batch(1, 8), batch(2, 8), batch(3, 1, 4), batch(4, 8), batch(5, 1, 4)]
    async with async_service(fake) as svc:
        trainer = await svc.create_training_client("weaver-tiny")
        await asyncio.gather(*(trainer.forward_backward(b) for b in batches))
    bodies: list[Any] = [fake.body(r) for r in fake.sent("POST", STEPS)]
    payloads = [b["payload"] for b in bodies]
    assert [first_token(p) for p in payloads] == [1, 2, 3, 4, 5]
    assert [p["seq_id"] for p in payloads] == [1, 2, 3, 4, 5]


@contextlib.contextmanager
def held_builds(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """``building``, set once a large step's build (in its thread) began, and ``release``,
    which that build waits for."""
    building, release = threading.Event(), threading.Event()

    def held(call: Call[Any]) -> Call[Any]:
        building.set()
        release.wait(30)
        return with_json_encoded(call)

    monkeypatch.setattr(calls, "with_json_encoded", held)
    try:
        yield building, release
    finally:
        release.set()


async def test_a_large_step_cancelled_while_its_request_is_built_leaves_no_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Cancelled while its request is built (in a thread), the step sent nothing: the next
    # must carry the seq_id after the last one sent (the spec's `next_seq_id`: the highest
    # used plus 1), not skip the cancelled step's.
    fake = FakeWeaver()
    fake.done_at_once = True
    with held_builds(monkeypatch) as (building, release):
        async with async_service(fake) as svc:
            trainer = await svc.create_training_client("weaver-tiny")
            cancelled = asyncio.create_task(trainer.forward_backward(batch(1, 1)))
            assert await asyncio.get_running_loop().run_in_executor(None, building.wait, 30)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            monkeypatch.undo()
            release.set()
            await trainer.forward_backward(batch(2, 1))
    [sent] = fake.sent("POST", STEPS)
    payload = fake.body(sent)["payload"]
    assert first_token(payload) == 2
    assert payload["seq_id"] == 1


async def test_a_count_given_while_a_large_step_is_built_stays(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A client attached with next_seq_id= while a large step's request is built sets the
    # model's count for every client: the step, built on, must not set it back.
    fake = FakeWeaver()
    fake.done_at_once = True
    with held_builds(monkeypatch) as (building, release):
        async with async_service(fake) as svc:
            trainer = await svc.create_training_client("weaver-tiny")
            first = asyncio.create_task(trainer.forward_backward(batch(1, 1)))
            assert await asyncio.get_running_loop().run_in_executor(None, building.wait, 30)
            other = await svc.training_client(trainer.model_id, next_seq_id=50)
            release.set()
            await first
            monkeypatch.undo()
            await other.forward_backward(batch(2, 1, 4))
    payloads = [fake.body(r)["payload"] for r in fake.sent("POST", STEPS)]
    assert [p["seq_id"] for p in payloads] == [1, 50]
