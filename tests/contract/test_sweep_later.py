"""A clean-up delete that the server asks to try a day later is named by that answer.

The sweep gave up on a 503 whose `Retry-After` ends past its budget and said "no reply",
though the server had answered: its author looked for a hang that never was.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.fakeserver import FakeClock
from weaver_facade.contract._ownership import Left, Sweep

LISTING = {"items": [{"id": "c-1", "name": "kit-a", "status": "completed"}]}


def server(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":
        return httpx.Response(200, json=LISTING)
    busy = {"error": "unavailable", "message": "later", "retryable": True}
    return httpx.Response(503, headers={"Retry-After": "86400"}, json=busy)


def test_a_delete_asked_to_wait_past_the_budget_is_named_by_its_answer() -> None:
    slept: list[float] = []
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        sweep = Sweep(http, 10.0, sleep=slept.append)
        left = sweep.checkpoints(["m-own"], lambda item: True)
    assert slept == [], "no wait that ends past the budget"
    assert left == [Left("kit-a", "DELETE: 503")]


@pytest.mark.parametrize("asked", ["-5", "nan", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_a_retry_after_that_is_no_wait_is_waited_as_a_backoff(asked: str) -> None:
    # `Retry-After: -5` was slept as it was: `ValueError: sleep length must be
    # non-negative` (for `nan`: `Invalid value NaN`) ended the whole run with a traceback
    # from its clean-up.
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=LISTING)
        busy = {"error": "unavailable", "message": "later", "retryable": True}
        return httpx.Response(503, headers={"Retry-After": asked}, json=busy)

    slept: list[float] = []

    def sleep(seconds: float) -> None:
        time.sleep(seconds)  # the real one, which refuses what is no wait
        slept.append(seconds)

    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(answer)) as http:
        sweep = Sweep(http, 10.0, sleep=lambda s: sleep(s / 100))
        left = sweep.checkpoints(["m-own"], lambda item: True)
    assert left == [Left("kit-a", "DELETE: 503")]
    assert slept, "tried again"
    assert all(0 <= s <= 0.1 for s in slept), slept


def test_a_delete_answered_before_the_budget_ran_out_is_named_by_that_answer() -> None:
    # The lifecycle deletes its checkpoints by id first, then by their models' lists: once
    # the first deletes' 503s had used the budget, the checkpoint was noted as left for
    # "no reply", though the server had answered each delete.
    clock = FakeClock()
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(busy)) as http:
        sweep = Sweep(http, 4.0, sleep=clock.sleep, clock=clock)
        found = sweep.find(["m-own"], lambda item: True)
        assert sweep.delete("c-1") == 503
        clock.sleep(5.0)  # past the budget
        left = sweep.checkpoints(["m-own"], lambda item: True, found)
    assert left == [Left("kit-a", "DELETE: 503")]


def busy(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":
        return httpx.Response(200, json=LISTING)
    return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": "unavailable"})
