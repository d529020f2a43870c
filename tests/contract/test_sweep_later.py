"""A clean-up delete that the server asks to try a day later is named by that answer.

The sweep gave up on a 503 whose `Retry-After` ends past its budget and said "no reply",
though the server had answered: its author looked for a hang that never was.
"""

from __future__ import annotations

import httpx

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
