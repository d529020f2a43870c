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


def test_a_delete_the_budget_left_unsent_keeps_the_servers_last_answer() -> None:
    # A save that stayed pending was refused 409 at every delete, until the budget ran out
    # before the last delete left; the note then said the checkpoint was left for
    # "no reply", though the server had answered every request with 409.
    now = [0.0]
    deletes = 0

    def server(request: httpx.Request) -> httpx.Response:
        nonlocal deletes
        if request.method == "GET":
            now[0] += 1.0  # a slow list: the budget runs out between a list and its delete
            pending = {"id": "c-2", "name": "kit-b", "status": "pending"}
            return httpx.Response(200, json={"items": [pending]})
        deletes += 1
        busy = {"error": "checkpoint_not_ready", "message": "saving", "retryable": False}
        return httpx.Response(409, json=busy)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with httpx.Client(base_url="http://kit.test", transport=httpx.MockTransport(server)) as http:
        sweep = Sweep(http, 5.0, sleep=sleep, clock=lambda: now[0])
        left = sweep.checkpoints(["m-own"], lambda item: True)
    assert deletes >= 2
    assert left == [Left("kit-b", "DELETE: 409")]
