"""One held clean-up request does not spend the whole clean-up's budget.

The budget was first come first served: each request, and its retries, could take all
the time left, so a server that held the first (a listing read before the models go)
left no time for the terminates after it, and the run's models kept running.
"""

from __future__ import annotations

import time

import httpx

from tests.support.scripted_http import HANG, Reply, ScriptedServer
from weaver_facade.contract._ownership import Sweep


def held_listing(method: str, path: str) -> Reply | str:
    if method == "GET":
        return HANG  # the checkpoint listing, read first, never answered
    return 200, {"id": "m-own", "status": "terminated"}, {}


def test_a_held_listing_leaves_time_for_the_terminate() -> None:
    budget = 8.0
    with ScriptedServer(held_listing) as server, httpx.Client(timeout=30.0) as http:
        started = time.monotonic()
        sweep = Sweep(http, budget, root=server.base_url)
        assert sweep.find(["m-own"], lambda item: True) == {}
        listed = time.monotonic() - started
        reply = sweep.send("POST", "/api/v1/models/m-own/terminate")
        took = time.monotonic() - started
    assert reply is not None, f"no time left for the terminate ({listed:.1f} s on the listing)"
    assert reply.status_code == 200
    assert listed < budget - 2.0, listed
    assert took < budget + 2.0, took
