"""A checkpoint still being saved when the clean-up lists it may yet fail: its model was
terminated under it. On a server without the delete, the kit counted it among those the
run left, and the server then had one fewer (a run said 22 left, the store held 20)."""

from __future__ import annotations

import httpx

from weaver_facade.contract._ownership import Left, Sweep

NOT_FOUND = {"error": "not_found", "message": "no route", "retryable": False}


def test_a_save_that_fails_after_the_last_list_is_not_counted_as_left() -> None:
    lists = 0

    def server(request: httpx.Request) -> httpx.Response:
        nonlocal lists
        if request.method == "GET":
            lists += 1
            items = [{"id": "c-1", "name": "kit-a", "status": "completed"}]
            if lists <= 2:  # pending at first; its model's terminate then fails it
                items.append({"id": "c-2", "name": "kit-b", "status": "pending"})
            return httpx.Response(200, json={"items": items})
        return httpx.Response(404, json=NOT_FOUND)

    slept: list[float] = []
    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        left = Sweep(http, 10.0, sleep=slept.append).checkpoints(["m-own"], lambda item: True)
    assert left == [Left("kit-a", "DELETE: 404")]
    assert slept, "the list was read again after a wait"


def test_a_save_still_pending_when_the_budget_ends_is_counted_as_left() -> None:
    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            pending = {"id": "c-2", "name": "kit-b", "status": "pending"}
            return httpx.Response(200, json={"items": [pending]})
        return httpx.Response(404, json=NOT_FOUND)

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        sweep = Sweep(http, 5.0, sleep=sleep, clock=lambda: now[0])
        left = sweep.checkpoints(["m-own"], lambda item: True)
    assert left == [Left("kit-b", "DELETE: 404")]
    assert now[0] <= 5.0
